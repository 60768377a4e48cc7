"""Quick actions in notes (sim_notes applies them), and the GraphQL mutations the service uses.

A note line that starts with a quick action is executed and removed from the note, as
GitLab does; a note of quick actions only is not stored and answers 202.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hooks.testing import sim_statuses, sim_work_items
from hooks.testing.sim_http import Api, ApiError, body

if TYPE_CHECKING:
    from hooks.testing.sim_core import SimCore

_COMMAND = re.compile(r"^/(\w+)\s*(.*)$")
_LABEL = re.compile(r'~"([^"]+)"|~(\S+)')
HEALTH = {"on_track", "needs_attention", "at_risk"}
GRAPHQL_HEALTH = {"onTrack": "on_track", "needsAttention": "needs_attention", "atRisk": "at_risk"}


def quick_actions(
    sim: SimCore, issue: dict[str, Any], text: str
) -> tuple[str, dict[str, Any], list[str]]:
    """Split a note into (remaining text, field changes, summary) like GitLab's parser."""
    s = sim.state
    changes: dict[str, Any] = {}
    summary: list[str] = []
    kept: list[str] = []
    in_code = False
    labels = list(issue["labels"])
    for line in text.split("\n"):
        if line.startswith("```"):
            in_code = not in_code
        match = None if in_code else _COMMAND.match(line)
        if match is None:
            kept.append(line)
            continue
        command, arg = match.group(1), match.group(2).strip()
        if command in ("label", "labels"):
            for quoted, bare in _LABEL.findall(arg):
                if (quoted or bare) not in labels:
                    labels.append(quoted or bare)
            summary.append(f"Added {arg} label(s).")
        elif command == "unlabel":
            names = {q or b for q, b in _LABEL.findall(arg)}
            labels = [lbl for lbl in labels if lbl not in names] if names else []
            summary.append(f"Removed {arg or 'all'} label(s).")
        elif command == "milestone":
            title = arg.lstrip("%").strip('"')
            project = s.projects[issue["project_id"]]
            found = next((m for m in s.milestones_of(project) if m["title"] == title), None)
            if found:
                changes["milestone_id"] = found["id"]
                summary.append(f"Set the milestone to %{title}.")
        elif command == "health_status" and arg in HEALTH:
            changes["health_status"] = arg
            summary.append(f"Set health status to {arg}.")
        elif command == "clear_health_status":
            changes["health_status"] = None
            summary.append("Removed health status.")
        elif command == "close":
            changes["state"] = "closed"
            summary.append("Closed this issue.")
        elif command == "reopen":
            changes["state"] = "opened"
            summary.append("Reopened this issue.")
        elif command == "status" and arg and sim_statuses.available(sim, issue):
            found, said = sim_statuses.quick_action(sim, issue, arg)
            changes.update(found)
            summary.append(said)
        elif command == "assign":
            users = [s.user_by_name(u.lstrip("@")) for u in arg.split()]
            changes["assignee_ids"] = [u["id"] for u in users if u]
            summary.append(f"Assigned {arg}.")
        else:
            kept.append(line)
    if labels != issue["labels"]:
        changes["labels"] = labels
    return "\n".join(kept).strip(), changes, summary


def add_routes(app: web.Application, sim: SimCore) -> None:
    """The GraphQL route (under the simulator's lock like the REST ones)."""
    api = Api(sim)

    async def graphql(request: web.Request) -> web.Response:
        uid = api.user_of(request)
        if uid is None:
            return web.json_response({"errors": [{"message": "Invalid token"}]}, status=401)
        try:
            data = await body(request)
        except ApiError as exc:
            return web.json_response(exc.body, status=exc.status)
        query = str(data.get("query", ""))
        variables = data.get("variables") or {}
        with sim.lock:
            return web.json_response(_graphql(sim, uid, query, variables, request))

    app.router.add_post("/api/graphql", graphql)


def _arg(query: str, name: str, variables: dict[str, Any]) -> Any:
    """An input argument, inline (`iid: "3"`) or through a variable (`iid: $iid`)."""
    # Not preceded by `$`: `$iid: String!` declares a variable, it is not the argument.
    match = re.search(rf"(?<![$\w]){name}\s*:\s*(\$\w+|\"[^\"]*\"|[\w:/.-]+)", query)
    if match is None:
        return None
    raw = match.group(1)
    if raw.startswith("$"):
        return variables.get(raw[1:])
    if raw == "null":
        return None
    return raw.strip('"')


# GraphQL handlers besides this module's own: each answers its queries, None to others.
GRAPHQL_HANDLERS = (sim_statuses.answer,)


def _graphql(
    sim: SimCore, uid: int, query: str, variables: dict[str, Any], request: web.Request
) -> dict[str, Any]:
    for handler in GRAPHQL_HANDLERS:
        answered = handler(sim, uid, query, variables, request)
        if answered is not None:
            return answered
    s = sim.state
    read = sim_work_items.answer(sim, query, variables)
    if read is not None:
        return read
    if "currentUser" in query:
        user = s.users[uid]
        return {
            "data": {
                "currentUser": {"id": f"gid://gitlab/User/{uid}", "username": user["username"]}
            }
        }
    field = (
        "updateIssue"
        if "updateIssue" in query
        else "issueSetIteration"
        if "issueSetIteration" in query
        else None
    )
    if field is None:
        return {
            "errors": [
                {
                    "message": "this simulator answers updateIssue, issueSetIteration, currentUser,"
                    " work item statuses and workItemUpdate with statusWidget"
                }
            ]
        }
    project = s.project(str(_arg(query, "projectPath", variables) or ""))
    iid = _arg(query, "iid", variables)
    issue = s.issue(project["id"], int(iid)) if project and str(iid).isdigit() else None
    if issue is None:
        return {
            "data": {field: None},
            "errors": [
                {"message": "The resource that you are attempting to access does not exist"}
            ],
        }
    event_uuid = request.headers.get("X-Gitlab-Event-UUID")
    if field == "updateIssue":
        health = _arg(query, "healthStatus", variables)
        value = GRAPHQL_HEALTH.get(str(health)) if health else None
        if health and value is None:
            return {
                "data": {field: None},
                "errors": [{"message": f"invalid healthStatus {health}"}],
            }
        sim.update_issue(issue, {"health_status": value}, actor_id=uid, event_uuid=event_uuid)
        return {"data": {field: {"issue": {"healthStatus": health}, "errors": []}}}
    gid = _arg(query, "iterationId", variables)
    tail = str(gid).rsplit("/", 1)[-1] if gid else None
    iteration_id = int(tail) if tail and tail.isdigit() else None
    if gid and iteration_id not in s.iterations:
        return {"data": {field: {"issue": None, "errors": ["Iteration not found"]}}}
    sim.update_issue(issue, {"iteration_id": iteration_id}, actor_id=uid, event_uuid=event_uuid)
    return {"data": {field: {"issue": {"iid": str(issue["iid"])}, "errors": []}}}
