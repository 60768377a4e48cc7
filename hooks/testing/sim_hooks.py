"""Project and group webhooks (doc/api/project_webhooks.md, doc/api/group_webhooks.md): CRUD,
test deliveries and the recent-deliveries log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hooks.testing.sim_http import API, Api, ApiError, Handler, bad_request, body, flag, paginate
from hooks.testing.sim_releases import release_hook_payload
from hooks.testing.sim_repo_hooks import commit_hook, merge_request_payload, push_payload
from hooks.testing.sim_resend import resend_handler
from hooks.testing.sim_state import timestamp

if TYPE_CHECKING:
    from hooks.testing.sim_core import SimCore


def routes(sim: SimCore) -> list[tuple[str, str, Handler]]:
    s = sim.state
    api = Api(sim)

    def hook_owner(request: web.Request) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        if "project" in request.match_info:
            return api.project_of(request), None
        return None, api.group_of(request)

    def hooks_of(request: web.Request) -> list[dict[str, Any]]:
        project, group = hook_owner(request)
        return [
            h
            for h in s.hooks.values()
            if (project and h.get("project_id") == project["id"])
            or (group and h.get("group_id") == group["id"])
        ]

    def hook_of(request: web.Request) -> dict[str, Any]:
        hid = int(request.match_info["hook_id"])
        found = next((h for h in hooks_of(request) if h["id"] == hid), None)
        if found is None:
            raise ApiError(404, {"message": "404 Hook Not Found"})
        return found

    async def list_hooks(request: web.Request, uid: int) -> web.Response:
        return paginate(request, [hook_rest(h) for h in hooks_of(request)])

    async def get_hook(request: web.Request, uid: int) -> web.Response:
        return web.json_response(hook_rest(hook_of(request)))

    async def add_hook(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        data = await body(request)
        if not data.get("url"):
            raise bad_request("url is missing")
        project, group = hook_owner(request)
        hook = new_hook(sim, data, project=project, group=group)
        return web.json_response(hook_rest(hook), status=201)

    async def edit_hook(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        hook = hook_of(request)
        data = await body(request)
        flags = HOOK_FLAGS + (GROUP_HOOK_FLAGS if hook.get("group_id") else ())
        for key in (*flags, *TEXT_FIELDS, "url", "token"):
            if key in data:
                hook[key] = flag(data[key]) if key in flags else data[key]
        return web.json_response(hook_rest(hook))

    async def delete_hook(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        hook = hook_of(request)
        del s.hooks[hook["id"]]
        return web.Response(status=204)

    async def test_hook(request: web.Request, uid: int) -> web.Response:
        """TestHooks::ProjectService: a sample event of the trigger's kind, sent now; 201 when
        the receiver accepts it, 422 with the reason otherwise."""
        hook = hook_of(request)
        project, group = hook_owner(request)
        trigger = str(request.match_info["trigger"])
        if trigger not in TEST_TRIGGERS:
            raise bad_request("trigger does not have a valid value")
        candidates = [project] if project else s.projects_under(group) if group else []
        target = candidates[0] if candidates else None
        if target is None:
            raise ApiError(422, {"message": "Ensure the group has projects."})
        sample = test_payload(sim, target, trigger, uid)
        if isinstance(sample, str):
            raise ApiError(422, {"message": sample})
        # GitLab's "test" delivery also re-enables a disabled hook when it succeeds.
        hook.update(alert_status="executable", disabled_until=None, recent_failures=0)
        event, payload = sample
        status = await sim.webhooks.send(hook, event, payload, trigger)
        if not (isinstance(status, int) and 200 <= status < 400):
            return web.json_response({"message": f"[{status}] hook test failed"}, status=422)
        return web.json_response({"message": "201 Created"}, status=201)

    async def hook_events(request: web.Request, uid: int) -> web.Response:
        # GitLab 17.3+ (API::Hooks::Events): the hook's recent deliveries, newest first,
        # filtered by statuses or categories (comma-separated), at most 20 a page.
        hook = hook_of(request)
        per_page = request.query.get("per_page", "20")
        if not per_page.isdigit() or not 1 <= int(per_page) <= 20:
            raise ApiError(400, {"error": "per_page does not have a valid value"})
        wanted = [w for w in request.query.get("status", "").split(",") if w]
        found = [
            e
            for e in reversed(sim.webhooks.log(hook["id"]))
            if not wanted
            or _status_class(e["response_status"]) in wanted
            or str(e["response_status"]) in wanted
        ]
        return paginate(request, found)

    resend_event = resend_handler(sim, api, hook_of)

    p = f"{API}/projects/{{project}}"
    g = f"{API}/groups/{{group}}"
    hook = "{hook_id:\\d+}"
    log = "{log_id:\\d+}"
    return [
        ("GET", f"{p}/hooks", api.route(list_hooks)),
        ("POST", f"{p}/hooks", api.route(add_hook)),
        ("GET", f"{p}/hooks/{hook}", api.route(get_hook)),
        ("PUT", f"{p}/hooks/{hook}", api.route(edit_hook)),
        ("DELETE", f"{p}/hooks/{hook}", api.route(delete_hook)),
        ("POST", f"{p}/hooks/{hook}/test/{{trigger}}", api.route(test_hook)),
        ("GET", f"{p}/hooks/{hook}/events", api.route(hook_events)),
        ("POST", f"{p}/hooks/{hook}/events/{log}/resend", api.route(resend_event)),
        ("GET", f"{g}/hooks", api.route(list_hooks)),
        ("POST", f"{g}/hooks", api.route(add_hook)),
        ("GET", f"{g}/hooks/{hook}", api.route(get_hook)),
        ("PUT", f"{g}/hooks/{hook}", api.route(edit_hook)),
        ("DELETE", f"{g}/hooks/{hook}", api.route(delete_hook)),
        ("POST", f"{g}/hooks/{hook}/test/{{trigger}}", api.route(test_hook)),
        ("GET", f"{g}/hooks/{hook}/events", api.route(hook_events)),
        ("POST", f"{g}/hooks/{hook}/events/{log}/resend", api.route(resend_event)),
    ]


def _status_class(status: str) -> str:
    code = int(status) if status.isdigit() else 500  # "internal error" counts as a server failure
    if 200 <= code < 300:
        return "successful"
    if 400 <= code < 500:
        return "client_failure"
    return "server_failure"


TEST_TRIGGERS = (  # ProjectHook.triggers: what POST .../hooks/:id/test/:trigger accepts
    "push_events",
    "tag_push_events",
    "issues_events",
    "confidential_issues_events",
    "note_events",
    "confidential_note_events",
    "merge_requests_events",
    "job_events",
    "pipeline_events",
    "wiki_page_events",
    "deployment_events",
    "feature_flag_events",
    "releases_events",
    "emoji_events",
    "resource_access_token_events",
)


def test_payload(
    sim: SimCore, project: dict[str, Any], trigger: str, uid: int
) -> tuple[str, dict[str, Any]] | str:
    """(event, payload) of the test delivery for `trigger`, or why there is none."""
    s = sim.state
    if trigger == "push_events":
        # Gitlab::DataBuilder::Push.build_sample: the default branch's last 3 commits; an
        # empty repository gets a push without commits.
        repo = s.repo(project)
        head = repo.branches.get(project["default_branch"])
        if head is not None:
            recent = repo.ancestors(repo.commits[head])[:3]
            payload = push_payload(
                sim, project, project["default_branch"], recent[-1].id, head, uid
            )
            payload["commits"] = [commit_hook(project, repo, c) for c in reversed(recent)]
            payload["total_commits_count"] = len(recent)
            return "Push Hook", payload
        return "Push Hook", {
            "object_kind": "push",
            "event_name": "push",
            "ref": f"refs/heads/{project['default_branch']}",
            "project": sim.project_hook_payload(project),
            "commits": [],
            "total_commits_count": 0,
        }
    if trigger in ("issues_events", "confidential_issues_events"):
        confidential = trigger == "confidential_issues_events"
        issue = next(
            (
                i
                for i in s.issues.values()
                if i["project_id"] == project["id"] and i["confidential"] == confidential
            ),
            None,
        )
        if issue is None:
            return "Ensure the project has issues."
        return sim.issue_hook_payload(issue, "open", {}, uid)
    if trigger == "merge_requests_events":
        # TestHooks::ProjectService: the project's newest merge request, as an `open`.
        found = [m for m in s.merge_requests.values() if m["project_id"] == project["id"]]
        if not found:
            return "Ensure the project has merge requests."
        latest = max(found, key=lambda m: m["id"])
        return "Merge Request Hook", merge_request_payload(sim, latest, "open", uid, {})
    if trigger == "releases_events":
        release = next((r for r in s.releases.values() if r["project_id"] == project["id"]), None)
        if release is None:
            return "Ensure the project has releases."
        return "Release Hook", release_hook_payload(sim, release, "create")
    return f"The simulator builds no {trigger} test payload."


HOOK_FLAGS = (
    "issues_events",
    "confidential_issues_events",
    "releases_events",
    "milestone_events",
    "push_events",
    "merge_requests_events",
    "note_events",
    "pipeline_events",
    "tag_push_events",
    "job_events",
    "deployment_events",
    "feature_flag_events",
    "wiki_page_events",
    "confidential_note_events",
    "repository_update_events",
    "resource_access_token_events",
    "emoji_events",
    "enable_ssl_verification",
)
GROUP_HOOK_FLAGS = ("subgroup_events", "member_events", "project_events")
TEXT_FIELDS = {  # documented hook settings the simulator stores but does not act on
    "name": "",
    "description": "",
    "push_events_branch_filter": "",
    "custom_webhook_template": None,
}


def new_hook(
    sim: SimCore,
    data: dict[str, Any],
    *,
    project: dict[str, Any] | None,
    group: dict[str, Any] | None,
) -> dict[str, Any]:
    hid = sim.state.new_id("hook")
    hook: dict[str, Any] = {
        "id": hid,
        "url": data["url"],
        "token": data.get("token"),
        "project_id": project["id"] if project else None,
        "group_id": group["id"] if group else None,
        "created_at": timestamp(datetime.now(UTC)),
        "alert_status": "executable",
        "disabled_until": None,
        "recent_failures": 0,
    }
    for name in HOOK_FLAGS + (GROUP_HOOK_FLAGS if group else ()):
        default = name in ("push_events", "enable_ssl_verification")
        hook[name] = flag(data[name]) if name in data else default
    for name, default_text in TEXT_FIELDS.items():
        hook[name] = data.get(name, default_text)
    hook["url_variables"] = []
    hook["custom_headers"] = []
    sim.state.hooks[hid] = hook
    return hook


def hook_rest(hook: dict[str, Any]) -> dict[str, Any]:
    """A hook as GitLab returns it: never its token; `project_id` on a project hook,
    `group_id` on a group hook; the failure count stays the simulator's."""
    owner = "group_id" if hook.get("group_id") else "project_id"
    hidden = {"token", "recent_failures", "group_id", "project_id"} - {owner}
    return {k: v for k, v in hook.items() if k not in hidden}
