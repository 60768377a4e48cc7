"""Every filter the simulator accepts does what GitLab's documentation says it does.

Each row: the doc file, the route with its query, and what GitLab answers on the shared team
seed (tests/sim_seed.py). Issues are named by their full reference.
"""

from __future__ import annotations

from typing import Any

import gitlab
import pytest
import requests

from hooks.testing.simulator import Simulator
from tests.sim_seed import TEAM_SEED

API1, API2, API3 = "acme/api#1", "acme/api#2", "acme/api#3"
SITE, APP = "acme/web/site#1", "acme/mobile/app#1"
EVERY = [API1, API2, API3, SITE, APP]
BUGS = [API1, SITE, APP]

ISSUE_FILTERS = [  # doc/api/issues.md "List group issues" (the same filters as project lists)
    ("state=opened", [API1, API3, SITE, APP]),
    ("state=closed", [API2]),
    ("state=all", EVERY),
    ("labels=bug", BUGS),
    ("labels=bug,feature", [SITE]),
    ("labels=None", [API3]),
    ("labels=Any", [API1, API2, SITE, APP]),
    ("not[labels]=bug", [API2, API3]),
    ("not[labels]=bug,feature", [API3]),
    ("milestone=Sprint 3", BUGS),
    ("milestone=None", [API3]),
    ("milestone=Any", [API1, API2, SITE, APP]),
    ("not[milestone]=Sprint 3", [API2, API3]),
    ("milestone=Started", BUGS),
    ("milestone_id=Upcoming", BUGS),
    ("milestone_id=None", [API3]),
    ("not[milestone_id]=Any", [API3]),
    ("author_username=bob", [API1, API3]),
    ("not[author_username]=bob", [API2, SITE, APP]),
    ("author_id=2", [API2]),
    ("assignee_username=alice", [API1]),
    ("assignee_username[]=bob", [SITE]),
    ("not[assignee_username]=bob", [API1, API2, API3, APP]),
    ("assignee_id=None", [API2, API3, APP]),
    ("assignee_id=Any", [API1, SITE]),
    ("assignee_id=3", [SITE]),
    ("confidential=true", [API3]),
    ("confidential=false", [API1, API2, SITE, APP]),
    ("search=dark", [API2]),
    ("search=one&in=description", [API3]),
    ("search=one&in=title", []),
    ("not[search]=dark", [API1, API3, SITE, APP]),
    ("not[search]=one&not[in]=description", [API1, API2, SITE, APP]),
    ("not[iids][]=1", [API2, API3]),
    ("labels=none", [API3]),
    ("labels=No Label", [API3]),
    ("iids[]=1", BUGS),
    ("due_date=tomorrow", [API1]),
    ("due_date=0", [API2, API3, SITE, APP]),
    ("due_date=overdue", []),
    ("iteration_id=None", EVERY),
    ("iteration_id=Any", []),
    ("health_status=None", EVERY),
    ("health_status=Any", []),
    ("my_reaction_emoji=None", EVERY),  # the simulator models no reactions
    ("my_reaction_emoji=Any", []),
    ("weight=None", EVERY),  # nor weights
    ("not[weight]=None", []),
    ("issue_type=issue", EVERY),
    ("issue_type=incident", []),
    ("created_after=2999-01-01T00:00:00Z", []),
    ("updated_before=2999-01-01T00:00:00Z", EVERY),
    ("scope=all", EVERY),
]

ORDERS = [  # doc/api/issues.md `order_by`, `sort`
    ("order_by=title&sort=asc", ["Crash", "Dark mode", "Docs", "Landing", "Login fails"]),
    ("order_by=created_at&sort=asc", ["Login fails", "Dark mode", "Docs", "Landing", "Crash"]),
    ("order_by=due_date&sort=desc&state=opened&assignee_id=Any", ["Login fails", "Landing"]),
]

MILESTONE_FILTERS = [  # doc/api/milestones.md, doc/api/group_milestones.md
    ("/projects/acme%2Fapi/milestones?state=closed", [("v1.0", "acme/api")]),
    ("/projects/acme%2Fapi/milestones?state=active", []),
    ("/projects/acme%2Fapi/milestones?search=stable", [("v1.0", "acme/api")]),
    ("/projects/acme%2Fapi/milestones?title=v1.0", [("v1.0", "acme/api")]),
    (
        "/projects/acme%2Fapi/milestones?include_ancestors=true",
        [("Sprint 3", "acme"), ("v1.0", "acme/api")],
    ),
    ("/groups/acme/milestones", [("Sprint 3", "acme")]),
    (
        "/groups/acme%2Fweb/milestones?include_ancestors=true",
        [("Sprint 3", "acme"), ("Sprint 3", "acme/web")],
    ),
    (
        "/groups/acme/milestones?include_descendants=true",
        [
            ("Sprint 3", "acme"),
            ("Sprint 3", "acme/mobile/app"),
            ("Sprint 3", "acme/web"),
            ("v1.0", "acme/api"),
        ],
    ),
    ("/groups/acme/milestones?iids[]=1", [("Sprint 3", "acme")]),
    ("/groups/acme/milestones?iids[]=2", []),
    ("/groups/acme/milestones?iids=1,2", [("Sprint 3", "acme")]),
    ("/groups/acme/milestones?state=all", [("Sprint 3", "acme")]),
    (
        "/projects/acme%2Fapi/milestones?include_ancestors=true&iids[]=1",  # iids ignored
        [("Sprint 3", "acme"), ("v1.0", "acme/api")],
    ),
    (
        "/projects/acme%2Fapi/milestones?include_parent_milestones=true",  # the old name
        [("Sprint 3", "acme"), ("v1.0", "acme/api")],
    ),
    ("/groups/acme/milestones?search_title=sprint", [("Sprint 3", "acme")]),
    ("/groups/acme/milestones?updated_after=2999-01-01T00:00:00Z", []),
]

ITERATION_FILTERS = [  # doc/api/group_iterations.md, doc/api/iterations.md
    ("/groups/acme/iterations", ["It 1", "It 2", "It 3"]),
    ("/groups/acme/iterations?state=all", ["It 1", "It 2", "It 3"]),
    ("/groups/acme/iterations?state=opened", ["It 2", "It 3"]),
    ("/groups/acme/iterations?state=upcoming", ["It 3"]),
    ("/groups/acme/iterations?state=current", ["It 2"]),
    ("/groups/acme/iterations?state=closed", ["It 1"]),
    ("/groups/acme/iterations?search=3", ["It 3"]),
    ("/groups/acme/iterations?include_descendants=true", ["It 1", "It 2", "Web It", "It 3"]),
    ("/groups/acme%2Fweb/iterations", ["It 1", "It 2", "Web It", "It 3"]),
    ("/groups/acme%2Fweb/iterations?include_ancestors=false", ["Web It"]),
    ("/projects/acme%2Fweb%2Fsite/iterations?state=current", ["It 2", "Web It"]),
    ("/projects/acme%2Fweb%2Fsite/iterations?include_ancestors=false", ["Web It"]),
    (
        "/projects/acme%2Fapi/iterations?include_descendants=true",
        ["It 1", "It 2", "Web It", "It 3"],
    ),
    ("/groups/acme/iterations?search=web&in[]=title", []),
    ("/groups/acme%2Fweb/iterations?search=web&in[]=title", ["Web It"]),
]

LABEL_FILTERS = [  # doc/api/labels.md, doc/api/group_labels.md
    ("/projects/acme%2Fapi/labels", ["api-only", "bug", "feature"]),
    ("/projects/acme%2Fapi/labels?include_ancestor_groups=false", ["api-only"]),
    ("/projects/acme%2Fapi/labels?search=bu", ["bug"]),
    ("/groups/acme%2Fweb/labels", ["bug", "feature"]),
    ("/groups/acme%2Fweb/labels?include_ancestor_groups=false", []),
]


PROJECT_FILTERS = [  # doc/api/projects.md "List all projects"
    ("/projects", ["acme/mobile/app", "acme/web/site", "acme/api"]),  # newest first
    ("/projects?order_by=name&sort=asc", ["acme/api", "acme/mobile/app", "acme/web/site"]),
    ("/projects?search=web", ["acme/web/site"]),
    ("/projects?owned=true", []),
    ("/projects?starred=true", []),
    ("/projects?archived=true", []),
    ("/projects?visibility=private", ["acme/mobile/app", "acme/web/site", "acme/api"]),
    ("/projects?visibility=public", []),
]

GROUP_FILTERS = [  # doc/api/groups.md "List groups", "List subgroups"
    ("/groups", ["acme", "acme/mobile", "acme/web"]),  # by name
    ("/groups?top_level_only=true", ["acme"]),
    ("/groups?search=mob", ["acme/mobile"]),
    ("/groups?order_by=id&sort=desc", ["acme/mobile", "acme/web", "acme"]),
    ("/groups?skip_groups[]=1", ["acme/mobile", "acme/web"]),
    ("/groups/acme/subgroups", ["acme/mobile", "acme/web"]),
    ("/groups/acme%2Fweb/subgroups", []),
]


@pytest.fixture
def gitlab_seed() -> dict[str, Any]:
    """The simulator's fixtures load the team seed (subgroups, same-titled sprints)."""
    return TEAM_SEED


def get(sim: Simulator, path: str, token: str = "sim-token") -> Any:
    r = requests.get(
        f"{sim.url}/api/v4{path}", headers={"PRIVATE-TOKEN": token}, params={"per_page": 100},
        timeout=5,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()


def owners(sim: Simulator, milestones: list[dict[str, Any]]) -> list[tuple[str, str]]:
    s = sim.state
    return sorted(
        (
            m["title"],
            s.groups[m["group_id"]]["full_path"]
            if m.get("group_id")
            else s.projects[m["project_id"]]["path_with_namespace"],
        )
        for m in milestones
    )


@pytest.mark.parametrize(("query", "expected"), ISSUE_FILTERS, ids=[q for q, _ in ISSUE_FILTERS])
def test_each_issue_filter_returns_what_the_docs_say(
    gitlab_sim: Simulator, query: str, expected: list[str]
) -> None:
    found = get(gitlab_sim, f"/groups/acme/issues?{query}")

    assert sorted(i["references"]["full"] for i in found) == sorted(expected)


@pytest.mark.parametrize(("query", "titles"), ORDERS, ids=[q for q, _ in ORDERS])
def test_each_issue_order_sorts_as_the_docs_say(
    gitlab_sim: Simulator, query: str, titles: list[str]
) -> None:
    found = get(gitlab_sim, f"/groups/acme/issues?{query}")

    assert [i["title"] for i in found] == titles


@pytest.mark.parametrize(
    ("path", "expected"), MILESTONE_FILTERS, ids=[p for p, _ in MILESTONE_FILTERS]
)
def test_each_milestone_filter_returns_what_the_docs_say(
    gitlab_sim: Simulator, path: str, expected: list[tuple[str, str]]
) -> None:
    assert owners(gitlab_sim, get(gitlab_sim, path)) == sorted(expected)


@pytest.mark.parametrize(
    ("path", "titles"), ITERATION_FILTERS, ids=[p for p, _ in ITERATION_FILTERS]
)
def test_each_iteration_filter_returns_what_the_docs_say(
    gitlab_sim: Simulator, path: str, titles: list[str]
) -> None:
    found = get(gitlab_sim, path)

    assert [i["title"] for i in found] == titles


@pytest.mark.parametrize(("path", "names"), LABEL_FILTERS, ids=[p for p, _ in LABEL_FILTERS])
def test_each_label_filter_returns_what_the_docs_say(
    gitlab_sim: Simulator, path: str, names: list[str]
) -> None:
    assert [lbl["name"] for lbl in get(gitlab_sim, path)] == names


def test_iterations_answer_gitlabs_state_numbers(gitlab_sim: Simulator) -> None:
    found = get(gitlab_sim, "/groups/acme/iterations")

    assert [(i["title"], i["state"]) for i in found] == [("It 1", 3), ("It 2", 2), ("It 3", 1)]


def test_the_issues_of_everyone_default_to_the_callers_own(gitlab_sim: Simulator) -> None:
    # GET /issues: scope defaults to created_by_me (the seed's unnamed authors are the bot).
    mine = get(gitlab_sim, "/issues")
    assigned = get(gitlab_sim, "/issues?scope=assigned_to_me", token="alice-token")

    assert sorted(i["references"]["full"] for i in mine) == [APP, SITE]
    assert [i["references"]["full"] for i in assigned] == [API1]


def test_with_labels_details_answers_labels_as_objects(gitlab_sim: Simulator) -> None:
    [issue] = get(gitlab_sim, "/projects/acme%2Fapi/issues?iids[]=1&with_labels_details=true")

    assert [label["name"] for label in issue["labels"]] == ["api-only", "bug"]  # by title
    bug = issue["labels"][1]
    assert set(bug) == {"id", "name", "color", "description", "description_html", "text_color"}
    assert (bug["name"], bug["color"], bug["text_color"]) == ("bug", "#d9534f", "#FFFFFF")


def test_a_negated_filter_the_simulator_does_not_model_is_refused_not_ignored(
    gitlab_sim: Simulator,
) -> None:
    r = requests.get(
        f"{gitlab_sim.url}/api/v4/groups/acme/issues?not[epic_id]=3",
        headers={"PRIVATE-TOKEN": "sim-token"},
        timeout=5,
    )

    assert (r.status_code, r.json()) == (
        400,
        {"error": "not[epic_id] is a filter this simulator does not model"},
    )


def test_milestone_id_takes_only_the_documented_timebox_values(gitlab_sim: Simulator) -> None:
    r = requests.get(
        f"{gitlab_sim.url}/api/v4/groups/acme/issues?milestone_id=1",
        headers={"PRIVATE-TOKEN": "sim-token"},
        timeout=5,
    )

    assert (r.status_code, r.json()) == (400, {"error": "milestone_id does not have a valid value"})


def test_python_gitlab_sends_not_and_iids_filters_the_simulator_applies(
    gitlab_api: gitlab.Gitlab,
) -> None:
    group = gitlab_api.groups.get("acme", lazy=True)

    negated = group.issues.list(**{"not": {"labels": "bug"}}, get_all=True)
    picked = group.issues.list(iids=[2, 3], get_all=True)

    assert sorted(i.references["full"] for i in negated) == [API2, API3]
    assert sorted(i.references["full"] for i in picked) == [API2, API3]


@pytest.mark.parametrize(("path", "paths"), PROJECT_FILTERS, ids=[p for p, _ in PROJECT_FILTERS])
def test_each_project_filter_returns_what_the_docs_say(
    gitlab_sim: Simulator, path: str, paths: list[str]
) -> None:
    assert [p["path_with_namespace"] for p in get(gitlab_sim, path)] == paths


@pytest.mark.parametrize(("path", "paths"), GROUP_FILTERS, ids=[p for p, _ in GROUP_FILTERS])
def test_each_group_filter_returns_what_the_docs_say(
    gitlab_sim: Simulator, path: str, paths: list[str]
) -> None:
    assert [g["full_path"] for g in get(gitlab_sim, path)] == paths


def test_include_html_description_adds_the_rendered_release_notes(gitlab_sim: Simulator) -> None:
    plain = get(gitlab_sim, "/projects/acme%2Fapi/releases/v1.0")
    rendered = get(gitlab_sim, "/projects/acme%2Fapi/releases/v1.0?include_html_description=true")

    assert "description_html" not in plain
    assert set(rendered) - set(plain) == {"description_html"}
