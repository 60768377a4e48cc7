"""Every route the simulator serves answers the fields GitLab's API documentation lists for it.

One row per route: the documented fields (kept here as data, each list with the gitlabhq doc
file it comes from) must all be in the answer, and the answer may hold nothing the
documentation does not list. python-gitlab makes the call wherever it has a method for the
route, the way a team would use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gitlab
import pytest
import requests
from gitlab.base import RESTObject

from hooks.testing.simulator import Simulator
from tests.sim_seed import TEAM_SEED

# -- the documented fields -------------------------------------------------------------

USER = {  # doc/api/users.md (GET /user, GET /users)
    "id", "username", "name", "state", "locked", "avatar_url", "web_url",
}  # fmt: skip
CURRENT_USER = USER | {"is_admin", "bot"}  # doc/api/users.md "Get the current user"
TOKEN = {  # doc/api/personal_access_tokens.md "List all personal access tokens" (one token)
    "id", "name", "revoked", "created_at", "description", "scopes", "user_id", "last_used_at",
    "active", "expires_at",
}  # fmt: skip
ISSUE = {  # doc/api/issues.md "List project issues" (Premium/Ultimate fields included)
    "id", "iid", "project_id", "title", "description", "state", "created_at", "updated_at",
    "closed_at", "closed_by", "labels", "milestone", "assignees", "assignee", "author", "type",
    "issue_type", "user_notes_count", "merge_requests_count", "upvotes", "downvotes",
    "due_date", "confidential", "discussion_locked", "web_url", "time_stats",
    "task_completion_status", "has_tasks", "task_status", "_links", "references", "severity",
    "moved_to_id", "imported", "imported_from", "service_desk_reply_to",
    "blocking_issues_count", "health_status", "iteration", "weight", "epic_iid", "epic",
}  # fmt: skip
SINGLE_ISSUE = ISSUE | {"subscribed"}  # doc/api/issues.md "Single project issue"
ISSUE_BASIC = ISSUE - {  # doc/api/issue_links.md, milestones.md: the shorter IssueBasic entity
    "has_tasks", "task_status", "_links", "references", "severity", "moved_to_id", "imported",
    "imported_from", "service_desk_reply_to",
}  # fmt: skip
ONLY_WITH_TASKS = {"task_status"}  # doc/api/issues.md: present when the description has tasks
LINKED_ISSUE = ISSUE | {  # doc/api/issue_links.md "List issue relations"
    "issue_link_id", "link_type", "link_created_at", "link_updated_at",
}  # fmt: skip
ISSUE_LINK = {"source_issue", "target_issue", "link_type"}  # doc/api/issue_links.md
LABEL_EVENT = {  # doc/api/resource_label_events.md
    "id", "user", "created_at", "resource_type", "resource_id", "label", "action",
}  # fmt: skip
NOTE = {  # doc/api/notes.md "List project issue notes"
    "id", "type", "body", "attachment", "author", "created_at", "updated_at", "system",
    "noteable_id", "noteable_type", "project_id", "noteable_iid", "resolvable",
    "confidential", "internal", "imported", "imported_from",
}  # fmt: skip
MEMBER = {  # doc/api/members.md "Get a member of a group or project" (+ membership_state, locked)
    "id", "username", "name", "state", "locked", "avatar_url", "web_url", "access_level",
    "created_at", "expires_at", "group_saml_identity", "membership_state",
}  # fmt: skip
AWARD = {  # doc/api/emoji_reactions.md
    "id", "name", "user", "created_at", "updated_at", "awardable_id", "awardable_type", "url",
}  # fmt: skip
MILESTONE = {  # doc/api/milestones.md
    "id", "iid", "project_id", "title", "description", "due_date", "start_date", "state",
    "updated_at", "created_at", "expired", "web_url",
}  # fmt: skip
GROUP_MILESTONE = MILESTONE - {"project_id"} | {"group_id"}  # doc/api/group_milestones.md
ITERATION = {  # doc/api/group_iterations.md (iterations.md's example omits `sequence`)
    "id", "iid", "sequence", "group_id", "title", "description", "state", "created_at",
    "updated_at", "start_date", "due_date", "web_url",
}  # fmt: skip
GROUP_LABEL = {  # doc/api/group_labels.md (counts with `with_counts=true`)
    "id", "name", "color", "text_color", "description", "description_html", "subscribed",
}  # fmt: skip
COUNTS = {"open_issues_count", "closed_issues_count", "open_merge_requests_count"}
PROJECT_LABEL = GROUP_LABEL | {"priority", "is_project_label"}  # doc/api/labels.md
RELEASE = {  # doc/api/releases/_index.md (+ description_html with include_html_description)
    "tag_name", "description", "name", "created_at", "released_at", "upcoming_release",
    "author", "commit", "milestones", "commit_path", "tag_path", "assets", "evidences",
    "_links",
}  # fmt: skip
SIMPLE_PROJECT = {  # doc/api/projects.md "List all projects" with simple=true
    "id", "description", "name", "name_with_namespace", "path", "path_with_namespace",
    "created_at", "default_branch", "tag_list", "topics", "ssh_url_to_repo",
    "http_url_to_repo", "web_url", "readme_url", "avatar_url", "forks_count", "star_count",
    "last_activity_at", "namespace", "visibility",
}  # fmt: skip
PROJECT = SIMPLE_PROJECT | {  # doc/api/projects.md "Get a single project" (the part served)
    "archived", "empty_repo", "issues_enabled", "open_issues_count", "merge_requests_enabled",
    "wiki_enabled", "jobs_enabled", "creator_id", "_links",
}  # fmt: skip
GROUP = {  # doc/api/groups.md "List groups"
    "id", "name", "path", "description", "visibility", "full_name", "full_path", "parent_id",
    "web_url", "avatar_url", "created_at",
}  # fmt: skip
SINGLE_GROUP = GROUP | {"projects", "shared_projects"}  # doc/api/groups.md "Get a single group"
HOOK = {  # doc/api/project_webhooks.md "Get a project webhook" (+ milestone_events, 18.2,
    # and emoji_events, a setting of "Add a webhook to a project" since 16.x)
    "id", "url", "name", "description", "project_id", "push_events",
    "push_events_branch_filter", "issues_events", "confidential_issues_events",
    "merge_requests_events", "tag_push_events", "note_events", "confidential_note_events",
    "job_events", "pipeline_events", "wiki_page_events", "deployment_events",
    "releases_events", "feature_flag_events", "enable_ssl_verification",
    "repository_update_events", "alert_status", "disabled_until", "url_variables",
    "created_at", "resource_access_token_events", "custom_webhook_template", "custom_headers",
    "milestone_events", "emoji_events",
}  # fmt: skip
GROUP_HOOK = HOOK - {"project_id"} | {  # doc/api/group_webhooks.md
    "group_id", "subgroup_events", "member_events", "project_events",
}  # fmt: skip
HOOK_EVENT = {  # doc/api/project_webhooks.md "Get a list of project webhook events"
    "id", "url", "trigger", "request_headers", "request_data", "response_headers",
    "response_body", "execution_duration", "response_status",
}  # fmt: skip
TREE_ENTRY = {"id", "name", "type", "path", "mode"}  # doc/api/repositories.md
REPO_FILE = {  # doc/api/repository_files.md "Get file from repository"
    "file_name", "file_path", "size", "encoding", "content", "content_sha256", "ref", "blob_id",
    "commit_id", "last_commit_id", "execute_filemode",
}  # fmt: skip
FILE_WRITE = {"file_path", "branch"}  # doc/api/repository_files.md "Create new file"
COMMIT_BASE = {  # doc/api/commits.md (the attributes every commit answer has)
    "id", "short_id", "title", "message", "author_name", "author_email", "authored_date",
    "committer_name", "committer_email", "committed_date", "created_at", "parent_ids",
    "web_url",
}  # fmt: skip
COMMIT = COMMIT_BASE | {"trailers", "extended_trailers"}  # "List repository commits"
CREATED_COMMIT = COMMIT_BASE | {"stats", "status"}  # "Create a commit with multiple files"
SINGLE_COMMIT = CREATED_COMMIT | {"last_pipeline"}  # "Get a single commit"
COMMIT_COMMENT = {"note", "author", "created_at", "path", "line", "line_type"}  # "Post comment"
BRANCH = {  # doc/api/branches.md
    "name", "merged", "protected", "default", "developers_can_push", "developers_can_merge",
    "can_push", "web_url", "commit",
}  # fmt: skip
COMMIT_STATUS = {  # doc/api/commits.md "Set commit pipeline status"; `pipeline_id` is exposed by
    # lib/api/entities/commit_status.rb though the docs' table leaves it out
    "id", "sha", "ref", "status", "name", "target_url", "description", "created_at",
    "started_at", "finished_at", "allow_failure", "coverage", "author", "pipeline_id",
}  # fmt: skip
MERGE_REQUEST = {  # doc/api/merge_requests.md "List project merge requests" (MergeRequestBasic)
    "id", "iid", "project_id", "title", "description", "state", "imported", "imported_from",
    "created_at", "updated_at", "merged_by", "merge_user", "merged_at", "merge_after",
    "prepared_at", "closed_by", "closed_at", "target_branch", "source_branch",
    "user_notes_count", "upvotes", "downvotes", "author", "assignee", "assignees", "reviewers",
    "source_project_id", "target_project_id", "labels", "draft", "work_in_progress",
    "milestone", "merge_when_pipeline_succeeds", "merge_status", "detailed_merge_status", "sha",
    "merge_commit_sha", "squash_commit_sha", "discussion_locked", "should_remove_source_branch",
    "force_remove_source_branch", "reference", "references", "web_url", "time_stats", "squash",
    "squash_on_merge", "task_completion_status", "has_conflicts",
    "blocking_discussions_resolved",
}  # fmt: skip
SINGLE_MERGE_REQUEST = MERGE_REQUEST | {  # "Get single MR" (API::Entities::MergeRequest)
    "subscribed", "changes_count", "latest_build_started_at", "latest_build_finished_at",
    "first_deployed_to_production_at", "pipeline", "head_pipeline", "diff_refs", "merge_error",
    "first_contribution", "user",
}  # fmt: skip
MR_CHANGES = SINGLE_MERGE_REQUEST | {"changes", "overflow"}  # "Get single MR changes"
MR_DIFF = {  # doc/api/merge_requests.md "List merge request diffs"
    "old_path", "new_path", "a_mode", "b_mode", "diff", "new_file", "renamed_file",
    "deleted_file", "generated_file",
}  # fmt: skip
VERSION = {"version", "revision"}  # doc/api/version.md
TEST_HOOK = {"message"}  # doc/api/project_webhooks.md "Trigger a test project webhook"
RESEND = {"response_status"}  # doc/api/project_webhooks.md "Resend a project webhook event"


@dataclass(frozen=True)
class Route:
    route: str
    fields: set[str]
    call: Callable[[gitlab.Gitlab, Simulator], Any]
    optional: frozenset[str] = frozenset(ONLY_WITH_TASKS)  # documented, present only sometimes


@pytest.fixture
def gitlab_seed() -> dict[str, Any]:
    """The simulator's fixtures load the team seed (subgroups, same-titled sprints), with
    files in acme/api's repository."""
    files = {"README.md": "Hello\n", "rules/10-a.yaml": "rules: []\n"}
    return {**TEAM_SEED, "repositories": [{"project": "acme/api", "files": files}]}


def raw(sim: Simulator, method: str, path: str, **kwargs: Any) -> Any:
    r = requests.request(
        method, f"{sim.url}/api/v4{path}", headers={"PRIVATE-TOKEN": "sim-token"}, timeout=5,
        **kwargs,
    )  # fmt: skip
    r.raise_for_status()
    return r.json()


def api_project(gl: gitlab.Gitlab) -> Any:
    return gl.projects.get("acme/api", lazy=True)


def acme(gl: gitlab.Gitlab) -> Any:
    return gl.groups.get("acme", lazy=True)


def issue1(gl: gitlab.Gitlab) -> Any:
    return api_project(gl).issues.get(1)


def linked(gl: gitlab.Gitlab) -> Any:
    issue = issue1(gl)
    issue.links.create({"target_project_id": "acme/web/site", "target_issue_iid": 1})
    return issue


def noted(gl: gitlab.Gitlab) -> Any:
    issue = issue1(gl)
    return issue, issue.notes.create({"body": "Looks good"})


def sprint(gl: gitlab.Gitlab) -> Any:
    return gl.groups.get("acme", lazy=True).milestones.list(title="Sprint 3")[0]


def hooked(gl: gitlab.Gitlab, owner: Any) -> Any:
    return owner.hooks.create({"url": "http://127.0.0.1:9/unreachable", "issues_events": True})


def edited_note(gl: gitlab.Gitlab) -> Any:
    _issue, note = noted(gl)
    note.body = "Looks better"
    note.save()
    return note


def member(sim: Simulator, path: str) -> Any:
    """Alice, a developer of acme and a reporter of acme/api, as `path` answers her."""
    sim.add_member("alice", "developer", group="acme")
    sim.add_member("alice", "reporter", project="acme/api")
    alice = sim.state.user_by_name("alice")
    assert alice is not None
    return raw(sim, "GET", path.format(uid=alice["id"]))


def awarded(gl: gitlab.Gitlab, sim: Simulator, on_note: bool = False) -> tuple[str, Any]:
    """(the award_emoji path, the award) of a thumbsup on issue 1 or on a note of it."""
    base = f"{P}/issues/1" + (f"/notes/{noted(gl)[1].id}" if on_note else "")
    return f"{base}/award_emoji", raw(sim, "POST", f"{base}/award_emoji", json={"name": "thumbsup"})


def one_award(gl: gitlab.Gitlab, sim: Simulator, on_note: bool) -> str:
    path, award = awarded(gl, sim, on_note)
    return f"{path}/{award['id']}"


def award_routes(on_note: bool) -> list[Route]:
    where = "/projects/:id/issues/:issue_iid" + ("/notes/:note_id" if on_note else "")
    return [
        Route(f"POST {where}/award_emoji", AWARD, lambda gl, sim: awarded(gl, sim, on_note)[1]),
        Route(
            f"GET {where}/award_emoji",
            AWARD,
            lambda gl, sim: raw(sim, "GET", awarded(gl, sim, on_note)[0]),
        ),
        Route(
            f"GET {where}/award_emoji/:award_id",
            AWARD,
            lambda gl, sim: raw(sim, "GET", one_award(gl, sim, on_note)),
        ),
        Route(
            f"DELETE {where}/award_emoji/:award_id",
            set(),
            lambda gl, sim: deleted(
                lambda: requests.delete(
                    f"{sim.url}/api/v4{one_award(gl, sim, on_note)}",
                    headers={"PRIVATE-TOKEN": "sim-token"},
                    timeout=5,
                ).raise_for_status()
            ),
        ),
    ]


def member_routes(owner: str, path: str) -> list[Route]:
    return [
        Route(f"GET /{owner}/:id/members", MEMBER, lambda gl, sim: member(sim, f"{path}/members")),
        Route(
            f"GET /{owner}/:id/members/all",
            MEMBER,
            lambda gl, sim: member(sim, f"{path}/members/all"),
        ),
        Route(
            f"GET /{owner}/:id/members/all/:user_id",
            MEMBER,
            lambda gl, sim: member(sim, f"{path}/members/all/{{uid}}"),
        ),
    ]


def edited_release(gl: gitlab.Gitlab) -> Any:
    release = api_project(gl).releases.get("v1.0")
    release.description = "Now with notes"
    release.save()
    return release


def edited_milestone(gl: gitlab.Gitlab, owner: Any) -> Any:
    m = owner.milestones.create({"title": "Sprint 9"})
    m.state_event = "close"
    m.save()
    return m


def deleted(method: Callable[[], Any]) -> dict[str, int]:
    method()
    return {}


def committed(gl: gitlab.Gitlab) -> Any:
    return api_project(gl).commits.create(
        {
            "branch": "main",
            "commit_message": "Edit",
            "actions": [{"action": "update", "file_path": "README.md", "content": "Hi"}],
        }
    )


def commented(gl: gitlab.Gitlab) -> Any:
    return api_project(gl).commits.get("main", lazy=True).comments.create({"note": "Nice"})


def status_set(gl: gitlab.Gitlab) -> Any:
    commit = api_project(gl).commits.get("main", lazy=True)
    return commit.statuses.create({"state": "success", "name": "hooks/rules"})


def opened_mr(gl: gitlab.Gitlab) -> Any:
    topic_branch(gl)
    api_project(gl).commits.create(
        {
            "branch": "topic",
            "commit_message": "Change",
            "actions": [{"action": "update", "file_path": "README.md", "content": "Changed"}],
        }
    )
    return api_project(gl).mergerequests.create(
        {"source_branch": "topic", "target_branch": "main", "title": "Change the readme"}
    )


def mr_noted(gl: gitlab.Gitlab) -> Any:
    return opened_mr(gl).notes.create({"body": "Preview: no change"})


def mr_note_edited(gl: gitlab.Gitlab) -> Any:
    note = mr_noted(gl)
    note.body = "Preview: 2 changes"
    note.save()
    return note


def mr_edited(gl: gitlab.Gitlab) -> Any:
    mr = opened_mr(gl)
    mr.title = "Change the readme again"
    mr.save()
    return mr


def topic_branch(gl: gitlab.Gitlab) -> Any:
    return api_project(gl).branches.create({"branch": "topic", "ref": "main"})


P = "/projects/acme%2Fapi"
ROUTES = [
    Route("GET /user", CURRENT_USER, lambda gl, sim: raw(sim, "GET", "/user")),
    Route("GET /version", VERSION, lambda gl, sim: raw(sim, "GET", "/version")),
    Route(
        "GET /personal_access_tokens/self",
        TOKEN,
        lambda gl, sim: gl.personal_access_tokens.get("self").asdict(),
    ),
    Route("GET /users", USER, lambda gl, sim: gl.users.list(username="alice")),
    Route("GET /projects", PROJECT, lambda gl, sim: gl.projects.list()),
    Route(
        "GET /projects?simple=true", SIMPLE_PROJECT, lambda gl, sim: gl.projects.list(simple=True)
    ),
    Route("GET /projects/:id", PROJECT, lambda gl, sim: gl.projects.get("acme/api")),
    Route("GET /groups", GROUP, lambda gl, sim: gl.groups.list()),
    Route("GET /groups/:id", SINGLE_GROUP, lambda gl, sim: gl.groups.get("acme/web")),
    Route(
        "GET /groups/:id/subgroups",
        GROUP,
        lambda gl, sim: gl.groups.get("acme", lazy=True).subgroups.list(),
    ),
    Route("GET /issues", ISSUE, lambda gl, sim: gl.issues.list(scope="all")),
    Route("GET /projects/:id/issues", ISSUE, lambda gl, sim: api_project(gl).issues.list()),
    Route(
        "POST /projects/:id/issues",
        SINGLE_ISSUE,
        lambda gl, sim: api_project(gl).issues.create({"title": "New"}),
    ),
    Route(
        "GET /groups/:id/issues",
        ISSUE,
        lambda gl, sim: gl.groups.get("acme", lazy=True).issues.list(),
    ),
    Route("GET /projects/:id/issues/:issue_iid", SINGLE_ISSUE, lambda gl, sim: issue1(gl)),
    Route(
        "PUT /projects/:id/issues/:issue_iid",
        SINGLE_ISSUE,
        lambda gl, sim: raw(sim, "PUT", f"{P}/issues/1", json={"title": "Renamed"}),
    ),
    Route(
        "DELETE /projects/:id/issues/:issue_iid",
        set(),
        lambda gl, sim: deleted(lambda: api_project(gl).issues.delete(3)),
    ),
    Route(
        "GET /projects/:id/issues/:issue_iid/resource_label_events",
        LABEL_EVENT,
        lambda gl, sim: issue1(gl).resourcelabelevents.list(),
    ),
    Route(
        "GET /projects/:id/issues/:issue_iid/links",
        LINKED_ISSUE,
        lambda gl, sim: linked(gl).links.list(),
    ),
    Route(
        "POST /projects/:id/issues/:issue_iid/links",
        ISSUE_LINK,
        lambda gl, sim: raw(
            sim, "POST", f"{P}/issues/1/links", json={"target_project_id": 2, "target_issue_iid": 1}
        ),
    ),
    Route(
        "GET /projects/:id/issues/:issue_iid/links/:issue_link_id",
        ISSUE_LINK,
        lambda gl, sim: raw(
            sim, "GET", f"{P}/issues/1/links/{linked(gl).links.list()[0].issue_link_id}"
        ),
    ),
    Route(
        "DELETE /projects/:id/issues/:issue_iid/links/:issue_link_id",
        ISSUE_LINK,
        lambda gl, sim: raw(
            sim, "DELETE", f"{P}/issues/1/links/{linked(gl).links.list()[0].issue_link_id}"
        ),
    ),
    Route(
        "GET /projects/:id/issues/:issue_iid/notes",
        NOTE,
        lambda gl, sim: noted(gl)[0].notes.list(),
    ),
    Route("POST /projects/:id/issues/:issue_iid/notes", NOTE, lambda gl, sim: noted(gl)[1]),
    Route(
        "GET /projects/:id/issues/:issue_iid/notes/:note_id",
        NOTE,
        lambda gl, sim: issue1(gl).notes.get(noted(gl)[1].id),
    ),
    Route(
        "PUT /projects/:id/issues/:issue_iid/notes/:note_id", NOTE, lambda gl, sim: edited_note(gl)
    ),
    Route(
        "DELETE /projects/:id/issues/:issue_iid/notes/:note_id",
        set(),
        lambda gl, sim: deleted(noted(gl)[1].delete),
    ),
    Route(
        "GET /projects/:id/milestones", MILESTONE, lambda gl, sim: api_project(gl).milestones.list()
    ),
    Route(
        "POST /projects/:id/milestones",
        MILESTONE,
        lambda gl, sim: api_project(gl).milestones.create({"title": "v2.0"}),
    ),
    Route(
        "GET /projects/:id/milestones/:milestone_id",
        MILESTONE,
        lambda gl, sim: api_project(gl).milestones.get(api_project(gl).milestones.list()[0].id),
    ),
    Route(
        "PUT /projects/:id/milestones/:milestone_id",
        MILESTONE,
        lambda gl, sim: edited_milestone(gl, api_project(gl)),
    ),
    Route(
        "DELETE /projects/:id/milestones/:milestone_id",
        set(),
        lambda gl, sim: deleted(api_project(gl).milestones.list()[0].delete),
    ),
    Route(
        "GET /projects/:id/milestones/:milestone_id/issues",
        ISSUE_BASIC,
        lambda gl, sim: api_project(gl).milestones.list(state="closed")[0].issues(),
    ),
    Route(
        "GET /groups/:id/milestones",
        GROUP_MILESTONE,
        lambda gl, sim: gl.groups.get("acme", lazy=True).milestones.list(),
    ),
    Route(
        "POST /groups/:id/milestones",
        GROUP_MILESTONE,
        lambda gl, sim: gl.groups.get("acme", lazy=True).milestones.create({"title": "Q3"}),
    ),
    Route(
        "GET /groups/:id/milestones/:milestone_id",
        GROUP_MILESTONE,
        lambda gl, sim: gl.groups.get("acme", lazy=True).milestones.get(sprint(gl).id),
    ),
    Route(
        "PUT /groups/:id/milestones/:milestone_id",
        GROUP_MILESTONE,
        lambda gl, sim: edited_milestone(gl, gl.groups.get("acme", lazy=True)),
    ),
    Route(
        "DELETE /groups/:id/milestones/:milestone_id",
        set(),
        lambda gl, sim: deleted(sprint(gl).delete),
    ),
    Route(
        "GET /groups/:id/milestones/:milestone_id/issues",
        ISSUE_BASIC,
        lambda gl, sim: sprint(gl).issues(),
    ),
    Route(
        "GET /projects/:id/iterations",
        ITERATION,
        lambda gl, sim: raw(sim, "GET", f"{P}/iterations"),
    ),
    Route(
        "GET /groups/:id/iterations",
        ITERATION,
        lambda gl, sim: gl.groups.get("acme", lazy=True).iterations.list(),
    ),
    Route(
        "GET /projects/:id/labels?with_counts=true",
        PROJECT_LABEL | COUNTS,
        lambda gl, sim: api_project(gl).labels.list(with_counts=True),
    ),
    Route("GET /projects/:id/labels", PROJECT_LABEL, lambda gl, sim: api_project(gl).labels.list()),
    Route(
        "POST /projects/:id/labels",
        PROJECT_LABEL,
        lambda gl, sim: api_project(gl).labels.create({"name": "ux", "color": "#8e44ad"}),
    ),
    Route(
        "GET /projects/:id/labels/:label_id",
        PROJECT_LABEL,
        lambda gl, sim: api_project(gl).labels.get("api-only"),
    ),
    Route(
        "PUT /projects/:id/labels/:label_id",
        PROJECT_LABEL,
        lambda gl, sim: raw(sim, "PUT", f"{P}/labels/api-only", json={"new_name": "api"}),
    ),
    Route(
        "PUT /projects/:id/labels",  # the older form python-gitlab's label.save() uses
        PROJECT_LABEL,
        lambda gl, sim: raw(sim, "PUT", f"{P}/labels", json={"name": "api-only", "color": "#fff"}),
    ),
    Route(
        "DELETE /projects/:id/labels/:label_id",
        set(),
        lambda gl, sim: deleted(lambda: api_project(gl).labels.delete("api-only")),
    ),
    Route(
        "GET /groups/:id/labels",
        GROUP_LABEL,
        lambda gl, sim: acme(gl).labels.list(),
    ),
    Route(
        "PUT /groups/:id/labels/:label_id",
        GROUP_LABEL,
        lambda gl, sim: raw(sim, "PUT", "/groups/acme/labels/bug", json={"color": "#000000"}),
    ),
    Route(
        "PUT /groups/:id/labels",  # the older form python-gitlab's label.save() uses
        GROUP_LABEL,
        lambda gl, sim: raw(
            sim, "PUT", "/groups/acme/labels", json={"name": "bug", "color": "#fff"}
        ),
    ),
    Route(
        "DELETE /groups/:id/labels/:label_id",
        set(),
        lambda gl, sim: deleted(lambda: acme(gl).labels.delete("bug")),
    ),
    Route(
        "GET /groups/:id/labels?with_counts=true",
        GROUP_LABEL | COUNTS,
        lambda gl, sim: gl.groups.get("acme", lazy=True).labels.list(with_counts=True),
    ),
    Route(
        "POST /groups/:id/labels",
        GROUP_LABEL,
        lambda gl, sim: gl.groups.get("acme", lazy=True).labels.create(
            {"name": "ux", "color": "#8e44ad"}
        ),
    ),
    Route(
        "GET /groups/:id/labels/:label_id",
        GROUP_LABEL,
        lambda gl, sim: gl.groups.get("acme", lazy=True).labels.get("bug"),
    ),
    Route("GET /projects/:id/releases", RELEASE, lambda gl, sim: api_project(gl).releases.list()),
    Route(
        "POST /projects/:id/releases",
        RELEASE,
        lambda gl, sim: api_project(gl).releases.create({"tag_name": "v1.1", "ref": "main"}),
    ),
    Route(
        "GET /projects/:id/releases/:tag_name",
        RELEASE,
        lambda gl, sim: api_project(gl).releases.get("v1.0"),
    ),
    Route("PUT /projects/:id/releases/:tag_name", RELEASE, lambda gl, sim: edited_release(gl)),
    Route(
        "DELETE /projects/:id/releases/:tag_name",
        RELEASE,
        lambda gl, sim: raw(sim, "DELETE", f"{P}/releases/v1.0"),
    ),
    Route("POST /projects/:id/hooks", HOOK, lambda gl, sim: hooked(gl, api_project(gl))),
    Route(
        "GET /projects/:id/hooks",
        HOOK,
        lambda gl, sim: (hooked(gl, api_project(gl)), api_project(gl).hooks.list())[1],
    ),
    Route(
        "GET /projects/:id/hooks/:hook_id",
        HOOK,
        lambda gl, sim: api_project(gl).hooks.get(hooked(gl, api_project(gl)).id),
    ),
    Route(
        "PUT /projects/:id/hooks/:hook_id",
        HOOK,
        lambda gl, sim: raw(
            sim, "PUT", f"{P}/hooks/{hooked(gl, api_project(gl)).id}", json={"note_events": True}
        ),
    ),
    Route(
        "DELETE /projects/:id/hooks/:hook_id",
        set(),
        lambda gl, sim: deleted(hooked(gl, api_project(gl)).delete),
    ),
    Route(
        "POST /projects/:id/hooks/:hook_id/test/:trigger",
        TEST_HOOK,
        lambda gl, sim: requests.post(
            f"{sim.url}/api/v4{P}/hooks/{hooked(gl, api_project(gl)).id}/test/issues_events",
            headers={"PRIVATE-TOKEN": "sim-token"},
            timeout=15,
        ).json(),
    ),
    Route(
        "GET /projects/:id/hooks/:hook_id/events",
        HOOK_EVENT,
        lambda gl, sim: hook_events(gl, sim, api_project(gl), P),
    ),
    Route(
        "POST /projects/:id/hooks/:hook_id/events/:hook_event_id/resend",
        RESEND,
        lambda gl, sim: resent(gl, sim, api_project(gl), P),
    ),
    Route(
        "POST /groups/:id/hooks",
        GROUP_HOOK,
        lambda gl, sim: hooked(gl, gl.groups.get("acme", lazy=True)),
    ),
    Route(
        "GET /groups/:id/hooks/:hook_id",
        GROUP_HOOK,
        lambda gl, sim: gl.groups.get("acme", lazy=True).hooks.get(
            hooked(gl, gl.groups.get("acme", lazy=True)).id
        ),
    ),
    Route(
        "GET /groups/:id/hooks",
        GROUP_HOOK,
        lambda gl, sim: (hooked(gl, acme(gl)), acme(gl).hooks.list())[1],
    ),
    Route(
        "PUT /groups/:id/hooks/:hook_id",
        GROUP_HOOK,
        lambda gl, sim: raw(
            sim, "PUT", f"/groups/acme/hooks/{hooked(gl, acme(gl)).id}", json={"note_events": True}
        ),
    ),
    Route(
        "DELETE /groups/:id/hooks/:hook_id",
        set(),
        lambda gl, sim: deleted(hooked(gl, acme(gl)).delete),
    ),
    Route(
        "POST /groups/:id/hooks/:hook_id/test/:trigger",
        TEST_HOOK,
        lambda gl, sim: requests.post(
            f"{sim.url}/api/v4/groups/acme/hooks/{hooked(gl, acme(gl)).id}/test/issues_events",
            headers={"PRIVATE-TOKEN": "sim-token"},
            timeout=15,
        ).json(),
    ),
    Route(
        "GET /groups/:id/hooks/:hook_id/events",
        HOOK_EVENT,
        lambda gl, sim: hook_events(gl, sim, gl.groups.get("acme", lazy=True), "/groups/acme"),
    ),
    Route(
        "POST /groups/:id/hooks/:hook_id/events/:hook_event_id/resend",
        RESEND,
        lambda gl, sim: resent(gl, sim, acme(gl), "/groups/acme"),
    ),
]

ROUTES += award_routes(on_note=False) + award_routes(on_note=True)
ROUTES += member_routes("groups", "/groups/acme") + member_routes("projects", P)
ROUTES += [
    Route(
        f"GET /{owner}/:id/members/:user_id",
        MEMBER,
        lambda gl, sim, path=path: member(sim, f"{path}/members/{{uid}}"),  # type: ignore[misc]
    )
    for owner, path in (("groups", "/groups/acme"), ("projects", P))
]

ROUTES += [
    Route(
        "POST /projects/:id/merge_requests",
        SINGLE_MERGE_REQUEST,
        lambda gl, sim: opened_mr(gl),
    ),
    Route(
        "GET /projects/:id/merge_requests",
        MERGE_REQUEST,
        lambda gl, sim: (opened_mr(gl), api_project(gl).mergerequests.list())[1],
    ),
    Route(
        "GET /projects/:id/merge_requests/:merge_request_iid",
        SINGLE_MERGE_REQUEST,
        lambda gl, sim: api_project(gl).mergerequests.get(opened_mr(gl).iid),
    ),
    Route(
        "PUT /projects/:id/merge_requests/:merge_request_iid",
        SINGLE_MERGE_REQUEST,
        lambda gl, sim: mr_edited(gl),
    ),
    Route(
        "PUT /projects/:id/merge_requests/:merge_request_iid/merge",
        SINGLE_MERGE_REQUEST,
        lambda gl, sim: opened_mr(gl).merge(),
    ),
    Route(
        "GET /projects/:id/merge_requests/:merge_request_iid/changes",
        MR_CHANGES,
        lambda gl, sim: opened_mr(gl).changes(),
    ),
    Route(
        "GET /projects/:id/merge_requests/:merge_request_iid/diffs",
        MR_DIFF,
        lambda gl, sim: raw(sim, "GET", f"{P}/merge_requests/{opened_mr(gl).iid}/diffs"),
    ),
    Route(
        "GET /projects/:id/merge_requests/:merge_request_iid/commits",
        COMMIT,  # doc/api/merge_requests.md "Get single merge request commits"
        lambda gl, sim: opened_mr(gl).commits(),
    ),
    Route(
        "POST /projects/:id/merge_requests/:merge_request_iid/notes",
        NOTE,
        lambda gl, sim: mr_noted(gl),
    ),
    Route(
        "GET /projects/:id/merge_requests/:merge_request_iid/notes",
        NOTE,
        lambda gl, sim: (mr_noted(gl), api_project(gl).mergerequests.get(1).notes.list())[1],
    ),
    Route(
        "GET /projects/:id/merge_requests/:merge_request_iid/notes/:note_id",
        NOTE,
        lambda gl, sim: api_project(gl).mergerequests.get(1, lazy=True).notes.get(mr_noted(gl).id),
    ),
    Route(
        "PUT /projects/:id/merge_requests/:merge_request_iid/notes/:note_id",
        NOTE,
        lambda gl, sim: mr_note_edited(gl),
    ),
    Route(
        "DELETE /projects/:id/merge_requests/:merge_request_iid/notes/:note_id",
        set(),
        lambda gl, sim: deleted(mr_noted(gl).delete),
    ),
    Route("POST /projects/:id/statuses/:sha", COMMIT_STATUS, lambda gl, sim: status_set(gl)),
    Route(
        "GET /projects/:id/repository/commits/:sha/statuses",
        COMMIT_STATUS,
        lambda gl, sim: (
            status_set(gl),
            api_project(gl).commits.get("main", lazy=True).statuses.list(),
        )[1],
    ),
    Route(
        "GET /projects/:id/repository/tree",
        TREE_ENTRY,
        lambda gl, sim: api_project(gl).repository_tree(recursive=True),
    ),
    Route(
        "GET /projects/:id/repository/files/:file_path",
        REPO_FILE,
        lambda gl, sim: api_project(gl).files.get("rules/10-a.yaml", ref="main"),
    ),
    Route(
        "HEAD /projects/:id/repository/files/:file_path",
        set(),  # the file's data as headers, no body
        lambda gl, sim: (api_project(gl).files.head("README.md", ref="main"), {})[1],
    ),
    Route(
        "GET /projects/:id/repository/blobs/:sha",
        {"size", "encoding", "content", "sha"},  # doc/api/repositories.md "Get a blob"
        lambda gl, sim: api_project(gl).repository_blob(
            api_project(gl).files.get("README.md", ref="main").blob_id
        ),
    ),
    Route(
        "GET /projects/:id/repository/blobs/:sha/raw",
        set(),  # the blob's bytes
        lambda gl, sim: (
            api_project(gl).repository_raw_blob(
                api_project(gl).files.get("README.md", ref="main").blob_id
            ),
            {},
        )[1],
    ),
    Route(
        "GET /projects/:id/repository/files/:file_path/raw",
        set(),  # the file's bytes, not JSON
        lambda gl, sim: (api_project(gl).files.raw("README.md", ref="main"), {})[1],
    ),
    Route(
        "POST /projects/:id/repository/files/:file_path",
        FILE_WRITE,
        lambda gl, sim: raw(
            sim,
            "POST",
            f"{P}/repository/files/new.txt",
            json={"branch": "main", "commit_message": "Add", "content": "new"},
        ),
    ),
    Route(
        "PUT /projects/:id/repository/files/:file_path",
        FILE_WRITE,
        lambda gl, sim: raw(
            sim,
            "PUT",
            f"{P}/repository/files/README.md",
            json={"branch": "main", "commit_message": "Edit", "content": "changed"},
        ),
    ),
    Route(
        "DELETE /projects/:id/repository/files/:file_path",
        set(),
        lambda gl, sim: deleted(
            lambda: api_project(gl).files.delete("README.md", branch="main", commit_message="Rm")
        ),
    ),
    Route(
        "GET /projects/:id/repository/branches",
        BRANCH,
        lambda gl, sim: api_project(gl).branches.list(),
    ),
    Route(
        "GET /projects/:id/repository/branches/:branch",
        BRANCH,
        lambda gl, sim: api_project(gl).branches.get("main"),
    ),
    Route("POST /projects/:id/repository/branches", BRANCH, lambda gl, sim: topic_branch(gl)),
    Route(
        "DELETE /projects/:id/repository/branches/:branch",
        set(),
        lambda gl, sim: deleted(topic_branch(gl).delete),
    ),
    Route("POST /projects/:id/repository/commits", CREATED_COMMIT, lambda gl, sim: committed(gl)),
    Route(
        "GET /projects/:id/repository/commits",
        COMMIT,
        lambda gl, sim: api_project(gl).commits.list(),
    ),
    Route(
        "GET /projects/:id/repository/commits/:sha",
        SINGLE_COMMIT,
        lambda gl, sim: api_project(gl).commits.get("main"),
    ),
    Route(
        "POST /projects/:id/repository/commits/:sha/comments",
        COMMIT_COMMENT,
        lambda gl, sim: commented(gl),
    ),
    Route(
        "GET /projects/:id/repository/commits/:sha/comments",
        COMMIT_COMMENT,
        lambda gl, sim: (commented(gl), raw(sim, "GET", f"{P}/repository/commits/main/comments"))[
            1
        ],
    ),
]


# Lists of what the simulator does not model (merge requests): always empty, never a 404.
EMPTY_ROUTES = [
    Route(
        "GET /projects/:id/milestones/:milestone_id/merge_requests",
        set(),
        lambda gl, sim: list(api_project(gl).milestones.list(state="closed")[0].merge_requests()),
    ),
    Route(
        "GET /groups/:id/milestones/:milestone_id/merge_requests",
        set(),
        lambda gl, sim: list(sprint(gl).merge_requests()),
    ),
]


def hook_events(gl: gitlab.Gitlab, sim: Simulator, owner: Any, path: str) -> Any:
    hook = hooked(gl, owner)
    issue1(gl).notes.create({"body": "/label ~feature"})  # a change: one delivery
    assert sim.wait_webhooks_idle()
    return raw(sim, "GET", f"{path}/hooks/{hook.id}/events")


def resent(gl: gitlab.Gitlab, sim: Simulator, owner: Any, path: str) -> Any:
    """Resend the first logged delivery of a hook whose receiver answers (with a 404)."""
    hook = owner.hooks.create({"url": f"{sim.url}/receiver", "issues_events": True})
    issue1(gl).notes.create({"body": "/label ~feature"})
    assert sim.wait_webhooks_idle()
    entry = raw(sim, "GET", f"{path}/hooks/{hook.id}/events")[0]
    return raw(sim, "POST", f"{path}/hooks/{hook.id}/events/{entry['id']}/resend")


def as_dict(answer: Any) -> dict[str, Any]:
    """The first object of an answer, as the JSON GitLab sent."""
    if not isinstance(answer, dict | RESTObject):
        answer = list(answer)
        assert answer, "the route answered an empty list: nothing to check"
        answer = answer[0]
    if isinstance(answer, RESTObject):
        return answer.asdict()
    assert isinstance(answer, dict)
    return answer


@pytest.mark.parametrize("row", ROUTES, ids=[r.route for r in ROUTES])
def test_each_route_answers_the_fields_gitlab_documents(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator, row: Route
) -> None:
    gl, sim = gitlab_api, gitlab_sim

    answer = as_dict(row.call(gl, sim))

    assert {
        "missing": sorted(row.fields - row.optional - set(answer)),
        "undocumented": sorted(set(answer) - row.fields),
    } == {"missing": [], "undocumented": []}


@pytest.mark.parametrize("row", EMPTY_ROUTES, ids=[r.route for r in EMPTY_ROUTES])
def test_a_list_of_what_the_simulator_does_not_model_is_empty(
    gitlab_api: gitlab.Gitlab, gitlab_sim: Simulator, row: Route
) -> None:
    gl, sim = gitlab_api, gitlab_sim

    assert row.call(gl, sim) == []


def test_the_table_covers_every_route_the_simulator_serves() -> None:
    from aiohttp import web

    sim = Simulator(TEAM_SEED)
    app: web.Application = sim.app()
    served = {
        f"{r.method} {r.resource.canonical.removeprefix('/api/v4')}"
        for r in app.router.routes()
        if r.resource is not None and r.resource.canonical.startswith("/api/v4")
    }
    tabled = {_canonical(r.route) for r in ROUTES + EMPTY_ROUTES}

    assert served - tabled == set()


def _canonical(route: str) -> str:
    """`GET /projects/:id/issues/:issue_iid?x=y` as aiohttp names the served resource."""
    method, path = route.split(" ", 1)
    owner = "{group}" if path.startswith("/groups/") else "{project}"
    parts = []
    for part in path.split("?", 1)[0].split("/"):
        parts.append(owner if part == ":id" else _PARAMS.get(part, part))
    return f"{method} {'/'.join(parts)}"


_PARAMS = {
    ":issue_iid": "{iid}",
    ":note_id": "{note_id}",
    ":issue_link_id": "{link_id}",
    ":milestone_id": "{mid}",
    ":label_id": "{label}",
    ":tag_name": "{tag}",
    ":hook_id": "{hook_id}",
    ":trigger": "{trigger}",
    ":hook_event_id": "{log_id}",
    ":user_id": "{user_id}",
    ":award_id": "{award_id}",
    ":file_path": "{file_path}",
    ":branch": "{branch}",
    ":sha": "{sha}",
    ":merge_request_iid": "{iid}",
}


def test_an_issue_links_two_ends_have_the_issue_basic_fields(
    gitlab_api: gitlab.Gitlab,
    gitlab_sim: Simulator,
) -> None:
    sim = gitlab_sim
    answer = raw(
        sim, "POST", f"{P}/issues/1/links", json={"target_project_id": 2, "target_issue_iid": 1}
    )

    for end in ("source_issue", "target_issue"):
        assert set(answer[end]) == ISSUE_BASIC
