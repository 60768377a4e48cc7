"""Group and project milestones with GitLab's semantics: titles repeat across owners, projects
see their ancestors' milestones, and milestone webhooks go where GitLab sends them."""

from __future__ import annotations

from typing import Any

import gitlab
import pytest
import requests

from hooks.events import MilestoneEvent, parse_event
from hooks.testing.sim_webhooks import SentDelivery
from hooks.testing.simulator import Simulator
from tests.sim_seed import TEAM_SEED

NOWHERE = "http://127.0.0.1:9/unreachable"


@pytest.fixture
def gitlab_seed() -> dict[str, Any]:
    """The simulator's fixtures load the team seed (subgroups, same-titled sprints)."""
    return TEAM_SEED


def get(sim: Simulator, path: str) -> Any:
    r = requests.get(f"{sim.url}/api/v4{path}", headers={"PRIVATE-TOKEN": "sim-token"}, timeout=5)
    r.raise_for_status()
    return r.json()


def deliveries(sim: Simulator, hook_id: int) -> list[SentDelivery]:
    assert sim.wait_webhooks_idle()
    return [d for d in sim.webhooks.sent if d.hook_id == hook_id]


def owners(sim: Simulator, milestones: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(title, owner path) of each milestone."""
    out = []
    for m in milestones:
        if m.get("group_id"):
            out.append((m["title"], sim.state.groups[m["group_id"]]["full_path"]))
        else:
            out.append((m["title"], sim.state.projects[m["project_id"]]["path_with_namespace"]))
    return sorted(out)


def issue_url(gl: gitlab.Gitlab, project: str, iid: int) -> str:
    return f"{gl.url}/{project}/-/issues/{iid}"


def test_a_seed_declares_same_titled_sprints_in_several_groups_and_a_project(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    sim = gitlab_sim

    sprints = [m for m in sim.state.milestones.values() if m["title"] == "Sprint 3"]

    assert owners(sim, sprints) == [
        ("Sprint 3", "acme"),
        ("Sprint 3", "acme/mobile/app"),
        ("Sprint 3", "acme/web"),
    ]


def test_a_project_lists_only_its_own_milestones_by_default(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    gl, sim = gitlab_api, gitlab_sim

    found = gl.projects.get("acme/mobile/app", lazy=True).milestones.list()

    assert owners(sim, [m.asdict() for m in found]) == [("Sprint 3", "acme/mobile/app")]


def test_include_ancestors_adds_the_milestones_of_every_ancestor_group(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    gl, sim = gitlab_api, gitlab_sim

    found = gl.projects.get("acme/web/site", lazy=True).milestones.list(include_ancestors=True)

    assert owners(sim, [m.asdict() for m in found]) == [
        ("Sprint 3", "acme"),
        ("Sprint 3", "acme/web"),
    ]


def test_a_seed_issue_gets_the_nearest_milestone_of_that_title(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    sim = gitlab_sim

    site = sim.issue("acme/web/site", 1)["milestone"]
    app = sim.issue("acme/mobile/app", 1)["milestone"]

    assert owners(sim, [site, app]) == [("Sprint 3", "acme/mobile/app"), ("Sprint 3", "acme/web")]


def test_issues_filtered_by_milestone_title_include_every_owners_same_titled_milestone(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    found = get(gitlab_sim, "/groups/acme/issues?milestone=Sprint%203")

    assert sorted(i["references"]["full"] for i in found) == [
        "acme/api#1",
        "acme/mobile/app#1",
        "acme/web/site#1",
    ]
    assert len({i["milestone"]["id"] for i in found}) == 3


def test_a_group_milestones_issues_are_its_own_projects_issues_with_that_title(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    gl = gitlab_api
    acme = gl.groups.get("acme", lazy=True)
    web = gl.groups.get("acme/web", lazy=True)

    acme_sprint = acme.milestones.list(title="Sprint 3")[0]
    web_sprint = web.milestones.list(title="Sprint 3")[0]

    # lib/api/milestone_responses.rb: IssuesFinder(group_id:, milestone_title:), no subgroups
    assert [i.web_url for i in acme_sprint.issues()] == [issue_url(gl, "acme/api", 1)]
    assert [i.web_url for i in web_sprint.issues()] == [issue_url(gl, "acme/web/site", 1)]


def test_a_project_milestones_issues_are_that_projects_issues_with_that_title(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    gl = gitlab_api
    project = gl.projects.get("acme/mobile/app", lazy=True)

    sprint = project.milestones.list()[0]

    assert [i.web_url for i in sprint.issues()] == [issue_url(gl, "acme/mobile/app", 1)]


def test_a_title_already_used_by_the_project_or_its_direct_group_is_refused(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    gl = gitlab_api

    with pytest.raises(gitlab.GitlabCreateError) as refused:
        gl.projects.get("acme/web/site", lazy=True).milestones.create({"title": "Sprint 3"})

    assert refused.value.response_code == 400
    assert refused.value.error_message == (
        "Failed to create milestone "
        '{:title=>["already being used for another group or project milestone."]}'
    )


def test_a_group_may_not_reuse_a_title_of_one_of_its_projects(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    gl = gitlab_api

    with pytest.raises(gitlab.GitlabCreateError) as refused:
        gl.groups.get("acme/mobile", lazy=True).milestones.create({"title": "Sprint 3"})

    assert refused.value.response_code == 400


def test_the_same_title_is_accepted_in_unrelated_owners(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    gl = gitlab_api

    gl.projects.get("acme/api", lazy=True).milestones.create({"title": "Sprint 4"})
    gl.groups.get("acme/web", lazy=True).milestones.create({"title": "Sprint 4"})
    gl.groups.get("acme/mobile", lazy=True).milestones.create({"title": "Sprint 4"})

    assert len(gl.groups.get("acme", lazy=True).milestones.list(include_descendants=True)) == 7


# -- milestone webhooks ------------------------------------------------------------------


def test_a_group_milestone_event_goes_to_the_group_and_its_ancestors_hooks_without_a_project(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    gl, sim = gitlab_api, gitlab_sim
    parent = sim.add_hook(NOWHERE, group="acme")
    own = sim.add_hook(NOWHERE, group="acme/web")
    project = sim.add_hook(NOWHERE, project="acme/web/site")

    gl.groups.get("acme/web", lazy=True).milestones.create({"title": "Sprint 9"})

    [to_parent], [to_own] = deliveries(sim, parent), deliveries(sim, own)
    assert deliveries(sim, project) == []
    assert to_parent.body == to_own.body
    body = to_own.body
    assert (body["object_kind"], body["action"], body["project"]) == ("milestone", "create", None)
    web = sim.state.group("acme/web")
    assert web is not None
    assert (body["object_attributes"]["group_id"], body["object_attributes"]["project_id"]) == (
        web["id"],
        None,
    )


def test_a_project_milestone_event_carries_the_project_to_project_and_group_hooks(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    gl, sim = gitlab_api, gitlab_sim
    project_hook = sim.add_hook(NOWHERE, project="acme/api")
    group_hook = sim.add_hook(NOWHERE, group="acme")

    gl.projects.get("acme/api", lazy=True).milestones.create({"title": "v2.0"})

    [to_project], [to_group] = deliveries(sim, project_hook), deliveries(sim, group_hook)
    assert to_project.body == to_group.body
    assert to_project.body["project"]["path_with_namespace"] == "acme/api"
    assert to_project.body["object_attributes"]["group_id"] is None


def test_closing_reopening_and_deleting_a_milestone_send_their_actions(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    gl, sim = gitlab_api, gitlab_sim
    hook = sim.add_hook(NOWHERE, group="acme")
    milestones = gl.groups.get("acme", lazy=True).milestones
    sprint = milestones.list(title="Sprint 3")[0]

    sprint.state_event = "close"
    sprint.save()
    sprint.state_event = "activate"
    sprint.save()
    sprint.delete()

    assert [d.body["action"] for d in deliveries(sim, hook)] == ["close", "reopen", "delete"]


def test_the_service_reads_a_group_milestone_event_without_a_project(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    gl, sim = gitlab_api, gitlab_sim
    hook = sim.add_hook(NOWHERE, group="acme")
    gl.groups.get("acme", lazy=True).milestones.create({"title": "Q4"})
    [delivery] = deliveries(sim, hook)

    event = parse_event(delivery.event, delivery.body)

    assert isinstance(event, MilestoneEvent) and event.object_attributes.title == "Q4"


def test_a_dump_keeps_which_same_titled_milestone_an_issue_has(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    sim = gitlab_sim
    acme_sprint = next(
        m for m in sim.state.milestones.values() if m["title"] == "Sprint 3" and m["group_id"] == 1
    )
    requests.put(
        f"{sim.url}/api/v4/projects/acme%2Fweb%2Fsite/issues/1",
        headers={"PRIVATE-TOKEN": "sim-token"},
        json={"milestone_id": acme_sprint["id"]},
        timeout=5,
    ).raise_for_status()

    again = Simulator(sim.dump())

    milestone = again.issue("acme/web/site", 1)["milestone"]
    assert owners(again, [milestone]) == [("Sprint 3", "acme")]


def test_the_test_helper_picks_a_same_titled_milestone_by_owner(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    sim = gitlab_sim

    picked = sim.milestone("Sprint 3", owner="acme/mobile/app")

    assert owners(sim, [picked]) == [("Sprint 3", "acme/mobile/app")]


def test_editing_a_milestone_needs_at_least_one_field(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    sim = gitlab_sim
    sprint = sim.milestone("Sprint 3", owner="acme")

    r = requests.put(
        f"{sim.url}/api/v4/groups/acme/milestones/{sprint['id']}",
        headers={"PRIVATE-TOKEN": "sim-token"},
        json={},
        timeout=5,
    )

    assert (r.status_code, r.json()) == (
        400,
        {
            "error": "title, description, start_date, due_date, state_event are missing, "
            "at least one parameter must be provided"
        },
    )


def test_a_projects_issues_by_milestone_title_include_an_ancestors_same_titled_sprint(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    gl, sim = gitlab_api, gitlab_sim
    site = gl.projects.get("acme/web/site", lazy=True)
    acme_sprint = sim.milestone("Sprint 3", owner="acme")
    site.issues.create({"title": "Footer", "milestone_id": acme_sprint["id"]})

    found = site.issues.list(milestone="Sprint 3", get_all=True)

    assert sorted((i.title, i.milestone["group_id"]) for i in found) == [
        ("Footer", acme_sprint["group_id"]),
        ("Landing", sim.milestone("Sprint 3", owner="acme/web")["group_id"]),
    ]


def test_a_seed_repeating_a_title_within_a_project_and_its_group_is_refused() -> None:
    seed = {
        **TEAM_SEED,
        "milestones": [
            *TEAM_SEED["milestones"],
            {"project": "acme/api", "title": "Sprint 3"},  # acme, its group, has one
        ],
    }

    with pytest.raises(ValueError, match="already used by the project or its group"):
        Simulator(seed)
