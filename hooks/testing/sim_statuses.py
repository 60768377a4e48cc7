"""Work item statuses (GitLab 18.2+, Premium): the allowed statuses of a top-level namespace,
the status widget of a work item, `workItemUpdate` with `statusWidget`, and `/status`.

As GitLab has them (gitlabhq: `WorkItems::Statuses::SystemDefined::Status`,
`WorkItems::Statuses::SharedConstants`, `Types::WorkItems::StatusType`,
`Types::WorkItems::Widgets::StatusInputType`, doc/user/work_items/status.md):

- Without custom statuses a namespace has the five system-defined ones, ids 1-5
  (`gid://gitlab/WorkItems::Statuses::SystemDefined::Status/N`); a top-level group's custom
  statuses (`gid://gitlab/WorkItems::Statuses::Custom::Status/N`) replace them for the group,
  its subgroups and projects.
- A status of category `done` or `canceled` closes the item; one of the other categories
  reopens a closed one. Closing or reopening otherwise gives the lifecycle's default closed
  or open status (an item without a status of its own shows that default).
- GraphQL answers errors with HTTP 200: an unknown status id is the argument's
  "Status doesn't exist." with `data.workItemUpdate: null`.
- The REST issue has no status (gitlab-org/gitlab#560083 asks for one), so only GraphQL
  and the `/status` quick action read and set it here.
- Webhooks carry no status: the issue hook's attributes (`Gitlab::HookData::IssueBuilder`)
  and the docs' work item event example have none, so a status change sends the issue hook
  of the state change it caused (`close`/`reopen`), else an `update` whose `changes` hold
  only `updated_at` and `updated_by_id`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiohttp import web

    from hooks.testing.sim_core import SimCore

SYSTEM_GID = "gid://gitlab/WorkItems::Statuses::SystemDefined::Status/"
CUSTOM_GID = "gid://gitlab/WorkItems::Statuses::Custom::Status/"
CATEGORIES = ("triage", "to_do", "in_progress", "done", "canceled")
CLOSING = ("done", "canceled")
ICONS = {
    "triage": "status-neutral",
    "to_do": "status-waiting",
    "in_progress": "status-running",
    "done": "status-success",
    "canceled": "status-cancelled",
}
SYSTEM_DEFINED: tuple[dict[str, Any], ...] = (
    {"id": 1, "name": "To do", "color": "#737278", "category": "to_do", "position": 0},
    {"id": 2, "name": "In progress", "color": "#1f75cb", "category": "in_progress", "position": 0},
    {"id": 3, "name": "Done", "color": "#108548", "category": "done", "position": 0},
    {"id": 4, "name": "Won't do", "color": "#DD2B0E", "category": "canceled", "position": 0},
    {"id": 5, "name": "Duplicate", "color": "#DD2B0E", "category": "canceled", "position": 10},
)
NOT_FOUND = (
    "The resource that you are attempting to access does not exist or you don't have "
    "permission to perform this action"
)


def _shape(status: dict[str, Any], gid_prefix: str) -> dict[str, Any]:
    """The `WorkItemStatus` GraphQL object (category as GitLab's enum answers it: lowercase)."""
    return {
        "id": f"{gid_prefix}{status['id']}",
        "name": status["name"],
        "iconName": ICONS[status["category"]],
        "color": status["color"],
        "position": status.get("position", 0),
        "description": status.get("description"),
        "category": status["category"],
    }


def root_path(sim: SimCore, project: dict[str, Any]) -> str:
    """The top-level namespace whose statuses a project's items use."""
    return str(project["path_with_namespace"]).split("/", 1)[0]


def allowed(sim: SimCore, root: str) -> list[dict[str, Any]]:
    """The statuses a top-level namespace allows: its custom ones, else the defaults (none
    on GitLab Free)."""
    if root in sim.state.free_namespaces:
        return []
    custom = sim.state.custom_statuses.get(root)
    if custom:
        return [_shape(c, CUSTOM_GID) for c in custom]
    return [_shape(s, SYSTEM_GID) for s in SYSTEM_DEFINED]


def add_custom(sim: SimCore, root: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A custom status of a top-level group (seed: `statuses: [{group, name, category}]`)."""
    category = str(spec.get("category", "to_do")).replace("cancelled", "canceled")
    if category not in CATEGORIES:
        raise ValueError(f"status {spec['name']!r}: category must be one of {CATEGORIES}")
    status = {
        "id": sim.state.new_id("custom_status", spec.get("id")),
        "name": spec["name"],
        "color": spec.get("color", "#737278"),
        "category": category,
        "position": len(sim.state.custom_statuses.get(root, [])),
        "description": spec.get("description"),
    }
    sim.state.custom_statuses.setdefault(root, []).append(status)
    return status


def _default(statuses: list[dict[str, Any]], closed: bool) -> dict[str, Any] | None:
    wanted = CLOSING if closed else ("triage", "to_do", "in_progress")
    for category in wanted:  # the lifecycle's defaults: first of the earliest category
        found = [s for s in statuses if s["category"] == category]
        if found:
            return found[0]
    return None


def status_of(sim: SimCore, issue: dict[str, Any]) -> dict[str, Any] | None:
    """An item's status: its own, else its lifecycle's default for its state (None: Free)."""
    statuses = allowed(sim, root_path(sim, sim.state.projects[issue["project_id"]]))
    if not statuses:
        return None
    own = issue.get("status_id")
    found = next((s for s in statuses if s["id"] == own), None) if own else None
    return found or _default(statuses, issue["state"] == "closed") or statuses[0]


def by_name(sim: SimCore, issue: dict[str, Any], name: str) -> dict[str, Any] | None:
    """GitLab matches a status name case-insensitively within the item's lifecycle."""
    statuses = allowed(sim, root_path(sim, sim.state.projects[issue["project_id"]]))
    return next((s for s in statuses if s["name"].casefold() == name.casefold()), None)


def status_changes(issue: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    """The field changes setting `status` makes: the status, and the state its category
    implies."""
    changes: dict[str, Any] = {"status_id": status["id"]}
    closing = status["category"] in CLOSING
    if closing and issue["state"] != "closed":
        changes["state"] = "closed"
    elif not closing and issue["state"] == "closed":
        changes["state"] = "opened"
    return changes


def available(sim: SimCore, issue: dict[str, Any]) -> bool:
    """Whether the item has statuses (the `/status` quick action exists for it)."""
    return bool(allowed(sim, root_path(sim, sim.state.projects[issue["project_id"]])))


def quick_action(sim: SimCore, issue: dict[str, Any], arg: str) -> tuple[dict[str, Any], str]:
    """`/status "In progress"` (or unquoted): (changes, the summary line)."""
    name = arg.strip().strip('"').strip()
    status = by_name(sim, issue, name)
    if status is None:
        return {}, f'Status "{name}" not found.'
    return status_changes(issue, status), f"Set status to {status['name']}."


# -- GraphQL ------------------------------------------------------------------------------


def _arg(query: str, name: str, variables: dict[str, Any]) -> Any:
    # Not preceded by `$` or a word character: `$id: WorkItemID!` declares a variable.
    match = re.search(rf"(?<![$\w]){name}\s*:\s*(\$\w+|\"[^\"]*\"|[\w:/.-]+)", query)
    if match is None:
        return None
    raw = match.group(1)
    if raw.startswith("$"):
        return variables.get(raw[1:])
    return None if raw == "null" else raw.strip('"')


def _error(field: str, message: str) -> dict[str, Any]:
    return {
        "data": {field: None},
        "errors": [{"message": message, "locations": [{"line": 1, "column": 1}], "path": [field]}],
    }


def _work_item(sim: SimCore, issue: dict[str, Any]) -> dict[str, Any]:
    project = sim.state.projects[issue["project_id"]]
    status = status_of(sim, issue)
    return {
        "id": f"gid://gitlab/WorkItem/{issue['id']}",
        "iid": str(issue["iid"]),
        "state": "CLOSED" if issue["state"] == "closed" else "OPEN",
        "workItemType": {"name": "Issue"},
        "namespace": {"fullPath": project["path_with_namespace"]},
        # Without the licensed feature there is no status widget at all.
        "widgets": [{"type": "STATUS", "status": status}] if status is not None else [],
    }


def answer(
    sim: SimCore, uid: int, query: str, variables: dict[str, Any], request: web.Request
) -> dict[str, Any] | None:
    """The answer to a status query or mutation, or None when the query is another's."""
    if "workItemUpdate" in query and "statusWidget" in query:
        return _update(sim, uid, query, variables, request)
    if "allowedStatuses" in query:
        path = str(_arg(query, "fullPath", variables) or "")
        owner = sim.state.group(path) or sim.state.project(path)
        if owner is None:
            return {"data": {"namespace": None}}
        root = path.split("/", 1)[0]
        statuses = allowed(sim, root)
        node: dict[str, Any] = {"id": "gid://gitlab/WorkItems::Type/1", "name": "Issue"}
        # Other widget definitions match no fragment of the query: GitLab answers them as {}.
        node["widgetDefinitions"] = (
            [{"type": "STATUS", "allowedStatuses": statuses}]
            if root not in sim.state.free_namespaces
            else [{}]
        )
        return {"data": {"namespace": {"workItemTypes": {"nodes": [node]}}}}
    if "WorkItemWidgetStatus" in query and "workItem(" in query:
        path = str(_arg(query, "fullPath", variables) or "")
        project = sim.state.project(path)
        iid = str(_arg(query, "iid", variables) or "")
        if project is None:
            return {"data": {"namespace": None}}
        issue = sim.state.issue(project["id"], int(iid)) if iid.isdigit() else None
        item = _work_item(sim, issue) if issue is not None else None
        return {"data": {"namespace": {"workItem": item}}}
    return None


def _update(
    sim: SimCore, uid: int, query: str, variables: dict[str, Any], request: web.Request
) -> dict[str, Any]:
    field = "workItemUpdate"
    gid = str(_arg(query, "id", variables) or "")
    tail = gid.rsplit("/", 1)[-1]
    issue = sim.state.issues.get(int(tail)) if tail.isdigit() else None
    if not gid.startswith("gid://gitlab/WorkItem/") or not tail.isdigit():
        return _error(field, f'"{gid}" does not represent an instance of WorkItem')
    if issue is None:
        return _error(field, NOT_FOUND)
    if sim.state.users[uid].get("read_only"):
        return _error(field, NOT_FOUND)
    wanted = _arg(query, "status", variables)
    statuses = allowed(sim, root_path(sim, sim.state.projects[issue["project_id"]]))
    if not statuses:  # WorkItems::Update refuses widget input the type does not support
        return _error(
            field, "Following widget keys are not supported by Issue type: [:status_widget]"
        )
    status = next((s for s in statuses if s["id"] == wanted), None)
    if status is None:
        return _error(field, "Status doesn't exist.")
    changes = status_changes(issue, status)
    sim.update_issue(
        issue,
        changes,
        actor_id=uid,
        event_uuid=request.headers.get("X-Gitlab-Event-UUID"),
    )
    return {"data": {field: {"workItem": _work_item(sim, issue), "errors": []}}}
