"""Iteration cadences and the work item hierarchy: seeds and the GraphQL reads of both.

GitLab's REST iteration API does not name an iteration's cadence and REST has no work item
hierarchy, so the service reads both through GraphQL (`hooks/gitlab/work_items.py`); the
simulator answers those queries in GraphQL's shapes: global ids, camelCase fields, lower-case
iteration states, OPEN/CLOSED work item states, cursor pagination.
"""

from __future__ import annotations

from typing import Any

from hooks.testing.sim_core import SimCore
from hooks.testing.sim_seed import when
from hooks.testing.sim_state import BASE_URL, timestamp

PAGE = 100  # GraphQL's largest page


def add_iteration(sim: SimCore, spec: dict[str, Any]) -> dict[str, Any]:
    """A seeded iteration; `cadence: TITLE` puts it in that cadence of its group."""
    s = sim.state
    group = s.group(spec["group"]) if spec.get("group") else None
    cadence = None
    if spec.get("cadence"):
        cadence = next(
            (
                c
                for c in s.cadences.values()
                if c["title"] == spec["cadence"] and c["group_id"] == (group or {}).get("id")
            ),
            None,
        )
        if cadence is None:
            cid = s.new_id("cadence", spec.get("cadence_id"))
            cadence = {"id": cid, "title": spec["cadence"], "group_id": (group or {}).get("id")}
            s.cadences[cid] = cadence
    iid = s.new_id("iteration", spec.get("id"))
    stamp = timestamp(sim.now())
    iteration = {
        "id": iid,
        "iid": iid,
        "sequence": iid,
        "group_id": group["id"] if group else None,
        "title": spec.get("title"),  # automatic cadences' iterations have none
        "description": spec.get("description"),
        "state": 2,  # answered from the dates (sim_rest.iteration_rest)
        "created_at": stamp,
        "updated_at": stamp,
        "start_date": when(spec.get("start_date"), sim.today),
        "due_date": when(spec.get("due_date"), sim.today),
        "web_url": f"{BASE_URL}/groups/{spec.get('group')}/-/iterations/{iid}",
        "cadence_id": cadence["id"] if cadence else None,
    }
    s.iterations[iid] = iteration
    return iteration


def seeded_issue_fields(
    sim: SimCore, project: dict[str, Any], spec: dict[str, Any]
) -> dict[str, Any]:
    """A seed issue's `type: task`, `parent: IID` (in its project) and `iteration: ID`."""
    s = sim.state
    fields: dict[str, Any] = {}
    if spec.get("type"):
        fields["issue_type"] = spec["type"]
    if spec.get("parent") is not None:
        parent = s.issue(project["id"], int(spec["parent"]))
        assert parent is not None, f"seed issue's parent #{spec['parent']} is not seeded before it"
        fields["parent_id"] = parent["id"]
    if spec.get("iteration") is not None:
        assert int(spec["iteration"]) in s.iterations, f"no seeded iteration {spec['iteration']}"
        fields["iteration_id"] = int(spec["iteration"])
    return fields


def iteration_state(sim: SimCore, iteration: dict[str, Any]) -> str:
    """GraphQL's IterationState of an iteration, from its dates."""
    today = sim.today.isoformat()
    if iteration["due_date"] and iteration["due_date"] < today:
        return "closed"
    if iteration["start_date"] and iteration["start_date"] > today:
        return "upcoming"
    return "current"


def answer(sim: SimCore, query: str, variables: dict[str, Any]) -> dict[str, Any] | None:
    """The answer to a work item or iteration query, or None for other queries."""
    if "WorkItemWidgetHierarchy" in query:
        return _children(sim, variables)
    if "iterations" in query and "project(" in query:
        return _iterations(sim, variables)
    return None


def _iterations(sim: SimCore, variables: dict[str, Any]) -> dict[str, Any]:
    s = sim.state
    project = s.project(str(variables.get("fullPath") or ""))
    if project is None:
        return {"data": {"project": None}}
    group = s.project_group(project)
    groups = {group["id"], *(g["id"] for g in s.ancestors(group))} if group else set()
    seen = sorted(
        (i for i in s.iterations.values() if i["group_id"] in groups),
        key=lambda i: (i["start_date"] or "", i["id"]),
    )
    start = int(variables.get("after") or 0)
    page = seen[start : start + PAGE]
    nodes = []
    for i in page:
        cadence = s.cadences.get(i.get("cadence_id") or 0)
        nodes.append(
            {
                "id": f"gid://gitlab/Iteration/{i['id']}",
                "iid": str(i["iid"]),
                "title": i["title"],
                "startDate": i["start_date"],
                "dueDate": i["due_date"],
                "state": iteration_state(sim, i),
                "webUrl": i["web_url"],
                "iterationCadence": {
                    "id": f"gid://gitlab/Iterations::Cadence/{cadence['id']}",
                    "title": cadence["title"],
                }
                if cadence
                else None,
            }
        )
    more = start + PAGE < len(seen)
    info = {"hasNextPage": more, "endCursor": str(start + PAGE) if more else None}
    return {"data": {"project": {"iterations": {"nodes": nodes, "pageInfo": info}}}}


def _children(sim: SimCore, variables: dict[str, Any]) -> dict[str, Any]:
    s = sim.state
    project = s.project(str(variables.get("fullPath") or ""))
    iid = str(variables.get("iid") or "")
    parent = s.issue(project["id"], int(iid)) if project and iid.isdigit() else None
    if parent is None:
        return {"data": {"project": {"workItems": {"nodes": []}} if project else None}}
    children = [i for i in s.issues.values() if i.get("parent_id") == parent["id"]]
    nodes = [
        {
            "iid": str(c["iid"]),
            "state": "OPEN" if c["state"] == "opened" else "CLOSED",
            "workItemType": {"name": c.get("issue_type", "issue").replace("_", " ").title()},
            "namespace": {"fullPath": s.projects[c["project_id"]]["path_with_namespace"]},
        }
        for c in children[:PAGE]
    ]
    hierarchy = {"type": "HIERARCHY", "children": {"nodes": nodes}}
    # Widgets the inline fragment does not match come back as empty objects, as in GraphQL.
    widgets: list[dict[str, Any]] = [{}, hierarchy, {}]
    return {"data": {"project": {"workItems": {"nodes": [{"widgets": widgets}]}}}}
