"""GitLab reads that only GraphQL answers: iterations with their cadence, child work items.

REST lists iterations without their cadence, and a group may run several cadences (one per
team) with the same dates; the work item hierarchy (an issue's child tasks) has no REST API.
"""

from __future__ import annotations

from typing import Any

from hooks.gitlab.ops import GitlabOps

ITERATIONS = """
query($fullPath: ID!, $after: String) {
  project(fullPath: $fullPath) {
    iterations(includeAncestors: true, state: all, first: 100, after: $after) {
      nodes {
        id iid title startDate dueDate state webUrl
        iterationCadence { id title }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

CHILDREN = """
query($fullPath: ID!, $iid: String!) {
  project(fullPath: $fullPath) {
    workItems(iid: $iid) {
      nodes {
        widgets {
          ... on WorkItemWidgetHierarchy {
            children(first: 100) {
              nodes { iid state workItemType { name } namespace { fullPath } }
            }
          }
        }
      }
    }
  }
}
"""

MAX_PAGES = 20  # 2,000 iterations: years of weekly sprints for a dozen teams


def iterations(ops: GitlabOps, project: str) -> list[dict[str, Any]]:
    """Every iteration `project` sees (its groups'), as GraphQL gives them."""
    found: list[dict[str, Any]] = []
    after = None
    for _page in range(MAX_PAGES):
        data = ops.graphql(ITERATIONS, {"fullPath": project, "after": after})
        listing = ((data.get("project") or {}).get("iterations")) or {}
        found.extend(listing.get("nodes") or [])
        page = listing.get("pageInfo") or {}
        if not page.get("hasNextPage"):
            break
        after = page.get("endCursor")
    return found


def children(ops: GitlabOps, project: str, iid: int) -> list[dict[str, Any]]:
    """An item's child work items: `iid`, `state` (OPEN/CLOSED), type name, namespace."""
    data = ops.graphql(CHILDREN, {"fullPath": project, "iid": str(iid)})
    nodes = (((data.get("project") or {}).get("workItems")) or {}).get("nodes") or []
    for node in nodes:
        for widget in node.get("widgets") or []:
            if "children" in widget:
                return list((widget.get("children") or {}).get("nodes") or [])
    return []
