"""The GitLab operations the executor needs, each one REST or GraphQL request where possible.

Raw `http_*` calls on a python-gitlab client are used instead of its object managers:
a manager's `projects.get(path)` costs a request before the real one, and a roll-over of
a thousand issues must cost a thousand requests, not two thousand.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import gitlab

HEALTH_GRAPHQL = {"on_track": "onTrack", "needs_attention": "needsAttention", "at_risk": "atRisk"}


class GraphQLError(gitlab.exceptions.GitlabError):
    """A GraphQL answer that carried errors; GitLab answers those with HTTP 200."""


def _project(path: str) -> str:
    return quote(path, safe="")


class GitlabOps:
    """Synchronous operations over one python-gitlab client (call from the gateway's pool)."""

    def __init__(self, gl: gitlab.Gitlab, *, max_retries: int = 5) -> None:
        self.gl = gl
        self.max_retries = max_retries

    def _get(self, path: str, **query: Any) -> Any:
        return self.gl.http_get(path, query_data=query, max_retries=self.max_retries)

    def _list(self, path: str, **query: Any) -> list[dict[str, Any]]:
        result = self.gl.http_list(
            path, query_data=query, get_all=True, max_retries=self.max_retries
        )
        return list(result)

    def _put(self, path: str, data: dict[str, Any]) -> Any:
        return self.gl.http_put(path, post_data=data, max_retries=self.max_retries)

    def _post(self, path: str, data: dict[str, Any], *, resend: bool = True) -> Any:
        # resend=False: a 5xx or timeout is raised, not re-sent; a 429 is still waited out
        # (GitLab did nothing). The caller decides whether the first send took effect.
        return self.gl.http_post(
            path, post_data=data, max_retries=self.max_retries, retry_transient_errors=resend
        )

    # -- reads --------------------------------------------------------------

    def current_user(self) -> dict[str, Any]:
        user: dict[str, Any] = self._get("/user")
        return user

    def token_self(self) -> dict[str, Any]:
        """The token in use: its name, scopes, `active` and `expires_at` (a date or null)."""
        token: dict[str, Any] = self._get("/personal_access_tokens/self")
        return token

    def issue(self, project: str, iid: int) -> dict[str, Any]:
        issue: dict[str, Any] = self._get(f"/projects/{_project(project)}/issues/{iid}")
        return issue

    def issues(self, project: str, **query: Any) -> list[dict[str, Any]]:
        return self._list(f"/projects/{_project(project)}/issues", **query)

    def notes(self, project: str, iid: int) -> list[dict[str, Any]]:
        return self._list(
            f"/projects/{_project(project)}/issues/{iid}/notes", sort="desc", order_by="created_at"
        )

    def user_id(self, username: str) -> int | None:
        found = self._get("/users", username=username)
        return int(found[0]["id"]) if found else None

    def member_access_level(self, project: str, user_id: int) -> int | None:
        """The user's effective access level in the project (direct or inherited from its
        groups: GET /projects/:id/members/all/:user_id), None when not a member. Callers cache
        it: one request per (project, user) and run, not per rule."""
        try:
            member = self._get(f"/projects/{_project(project)}/members/all/{int(user_id)}")
        except gitlab.exceptions.GitlabHttpError as exc:
            # "404 Not found" is the user; "404 Project Not Found" is a wrong project path.
            if exc.response_code == 404 and "project" not in str(exc.error_message).lower():
                return None
            raise
        return int(member["access_level"])

    def project_milestones(self, project: str, **query: Any) -> list[dict[str, Any]]:
        return self._list(f"/projects/{_project(project)}/milestones", **query)

    def group_milestones(self, group: str, **query: Any) -> list[dict[str, Any]]:
        return self._list(f"/groups/{_project(group)}/milestones", **query)

    def group_issues(self, group: str, **query: Any) -> list[dict[str, Any]]:
        return self._list(f"/groups/{_project(group)}/issues", **query)

    def first_page(self, path: str, **query: Any) -> list[dict[str, Any]]:
        """One page of a list (`per_page`, `page` in the query), not the whole list."""
        result = self.gl.http_list(
            path, query_data=query, get_all=False, iterator=False, max_retries=self.max_retries
        )
        return list(result)

    def scope_path(self, kind: str, scope: str) -> str:
        """`/projects/<path>` or `/groups/<path>`."""
        return f"/{'groups' if kind == 'group' else 'projects'}/{_project(scope)}"

    def scope_kind(self, scope: str) -> str:
        """'project' when a project has this path, else 'group' (404 when neither has)."""
        try:
            self._get(f"/projects/{_project(scope)}")
            return "project"
        except gitlab.exceptions.GitlabHttpError as exc:
            if exc.response_code != 404:
                raise
        self._get(f"/groups/{_project(scope)}")
        return "group"

    def label_events(self, project: str, iid: int) -> list[dict[str, Any]]:
        return self._list(f"/projects/{_project(project)}/issues/{iid}/resource_label_events")

    def hook(self, kind: str, scope: str, hook_id: int) -> dict[str, Any]:
        hook: dict[str, Any] = self._get(f"{self.scope_path(kind, scope)}/hooks/{hook_id}")
        return hook

    def hook_failures(self, kind: str, scope: str, hook_id: int) -> list[dict[str, Any]]:
        """The hook's recent failed deliveries (GitLab 17.3+: GET .../hooks/:id/events)."""
        # Both categories in one list (GitLab takes them comma-separated; server_failure
        # includes "internal error", a receiver that could not be reached); 20 a page at most.
        path = f"{self.scope_path(kind, scope)}/hooks/{hook_id}/events"
        return self._list(path, status="client_failure,server_failure", per_page=20)

    def resend_hook_event(self, kind: str, scope: str, hook_id: int, log_id: int) -> int | None:
        """Ask GitLab to send a logged delivery again (17.4+); the receiver's HTTP status.

        Sent once, never retried: GitLab allows 5 a minute per project or group and user and
        answers 429 past that (without Retry-After), and a resend whose answer was lost may
        have gone out. The caller tries again on its next pass, within the limit.
        """
        path = f"{self.scope_path(kind, scope)}/hooks/{hook_id}/events/{log_id}/resend"
        answer = self.gl.http_post(path, max_retries=0, retry_transient_errors=False)
        status = answer.get("response_status") if isinstance(answer, dict) else None
        return int(status) if isinstance(status, int | str) and str(status).isdigit() else None

    def test_hook(self, kind: str, scope: str, hook_id: int, trigger: str) -> None:
        """GitLab's test delivery, which re-enables a disabled hook when it succeeds."""
        self._post(f"{self.scope_path(kind, scope)}/hooks/{hook_id}/test/{trigger}", {})

    # -- writes -------------------------------------------------------------

    def edit_issue(self, project: str, iid: int, **fields: Any) -> dict[str, Any]:
        issue: dict[str, Any] = self._put(f"/projects/{_project(project)}/issues/{iid}", fields)
        return issue

    def create_note(self, project: str, iid: int, body: str, *, internal: bool) -> dict[str, Any]:
        """POST a note once; a failure is raised (it may have been created: look first)."""
        note: dict[str, Any] = self._post(
            f"/projects/{_project(project)}/issues/{iid}/notes",
            {"body": body, "internal": internal},
            resend=False,
        )
        return note

    def create_issue(self, project: str, **fields: Any) -> dict[str, Any]:
        """POST an issue once; a failure is raised (it may have been created: look first)."""
        issue: dict[str, Any] = self._post(
            f"/projects/{_project(project)}/issues", fields, resend=False
        )
        return issue

    def link_issues(
        self, project: str, iid: int, target_project: str, target_iid: int, link_type: str
    ) -> dict[str, Any]:
        link: dict[str, Any] = self._post(
            f"/projects/{_project(project)}/issues/{iid}/links",
            {
                "target_project_id": target_project,
                "target_issue_iid": target_iid,
                "link_type": link_type,
            },
        )
        return link

    def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """One GraphQL request through the same session, budget and retries as REST."""
        url = f"{self.gl.url}/api/graphql"
        answer = self.gl.http_post(
            url, post_data={"query": query, "variables": variables}, max_retries=self.max_retries
        )
        if not isinstance(answer, dict):
            raise GraphQLError("unexpected GraphQL answer")
        errors = answer.get("errors") or []
        for payload in (answer.get("data") or {}).values():
            if isinstance(payload, dict):
                errors.extend({"message": m} for m in payload.get("errors") or [])
        if errors:
            message = "; ".join(str(e.get("message", e)) for e in errors)
            raise GraphQLError(message, response_code=422)
        data: dict[str, Any] = answer.get("data") or {}
        return data

    def set_health_native(self, project: str, iid: int, status: str | None) -> None:
        self.graphql(
            "mutation($projectPath: ID!, $iid: String!, $health: HealthStatus) {"
            " updateIssue(input: {projectPath: $projectPath, iid: $iid, healthStatus: $health})"
            " { issue { healthStatus } errors } }",
            {
                "projectPath": project,
                "iid": str(iid),
                "health": HEALTH_GRAPHQL[status] if status else None,
            },
        )

    def set_iteration(self, project: str, iid: int, iteration_id: int | str | None) -> None:
        gid = f"gid://gitlab/Iteration/{iteration_id}" if iteration_id is not None else None
        if isinstance(iteration_id, str) and iteration_id.startswith("gid://"):
            gid = iteration_id
        self.graphql(
            "mutation($projectPath: ID!, $iid: String!, $iterationId: IterationID) {"
            " issueSetIteration(input: {projectPath: $projectPath, iid: $iid,"
            " iterationId: $iterationId}) { issue { iid } errors } }",
            {"projectPath": project, "iid": str(iid), "iterationId": gid},
        )

    # -- work item statuses (GitLab 18.2+, Premium) ---------------------------

    def allowed_statuses(self, namespace: str) -> list[dict[str, Any]]:
        """The statuses the namespace's issues may have (its top-level group's custom ones,
        else GitLab's five); [] where the status widget does not exist (Free, before 18.2)."""
        data = self.graphql(
            "query($fullPath: ID!) { namespace(fullPath: $fullPath) {"
            " workItemTypes(name: ISSUE) { nodes { widgetDefinitions {"
            " ... on WorkItemWidgetDefinitionStatus { allowedStatuses {"
            " id name category color } } } } } } }",
            {"fullPath": namespace},
        )
        found: list[dict[str, Any]] = []
        types = ((data.get("namespace") or {}).get("workItemTypes") or {}).get("nodes") or []
        for node in types:
            for widget in node.get("widgetDefinitions") or []:
                statuses = widget.get("allowedStatuses")
                # Before 18.x allowedStatuses was a connection: {nodes: [...]}.
                if isinstance(statuses, dict):
                    statuses = statuses.get("nodes")
                found.extend(statuses or [])
        return found

    def work_item_status(self, project: str, iid: int) -> tuple[str | None, dict[str, Any] | None]:
        """(the work item's global id, its status) of issue `iid`; (None, None) when GitLab
        knows no such item."""
        data = self.graphql(
            "query($fullPath: ID!, $iid: String!) { namespace(fullPath: $fullPath) {"
            " workItem(iid: $iid) { id state widgets {"
            " ... on WorkItemWidgetStatus { status { id name category color } } } } } }",
            {"fullPath": project, "iid": str(iid)},
        )
        item = (data.get("namespace") or {}).get("workItem")
        if not item:
            return None, None
        status = next(
            (
                w["status"]
                for w in item.get("widgets") or []
                if isinstance(w, dict) and "status" in w
            ),
            None,
        )
        return item.get("id"), status

    def set_work_item_status(self, work_item_id: str, status_id: str) -> dict[str, Any]:
        """Set the status (a done/canceled one closes the item, others reopen a closed one);
        answers the work item's new state and status."""
        data = self.graphql(
            "mutation($id: WorkItemID!, $status: WorkItemsStatusesStatusID!) {"
            " workItemUpdate(input: {id: $id, statusWidget: {status: $status}}) {"
            " workItem { id state widgets { ... on WorkItemWidgetStatus {"
            " status { id name category } } } } errors } }",
            {"id": work_item_id, "status": status_id},
        )
        item: dict[str, Any] = (data.get("workItemUpdate") or {}).get("workItem") or {}
        return item
