"""Commit statuses (doc/api/commits.md "Commit status"), not work item statuses
(`sim_statuses`): set one, list a commit's.

As lib/api/commit_statuses.rb: a status of the same name and ref that is still pending or
running is moved on; a finished one is kept and a new status is made. Moves the state machine
refuses (pending again, running again) answer 400 with its message. Each (commit, ref) gets an
external pipeline, whose id the statuses carry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from hooks.testing.sim_http import API, Api, ApiError, Handler, bad_request, body, flag, paginate
from hooks.testing.sim_state import timestamp

if TYPE_CHECKING:
    from hooks.testing.sim_core import SimCore

# state -> (CommitStatus event, the states it moves from)
TRANSITIONS = {
    "pending": ("enqueue", {"created"}),
    "running": ("run", {"created", "pending"}),
    "success": ("success", {"created", "pending", "running"}),
    "failed": ("drop", {"created", "pending", "running"}),
    "canceled": ("cancel", {"created", "pending", "running"}),
    "skipped": ("skip", {"created"}),
}
MAX_TEXT = 255


def routes(sim: SimCore) -> list[tuple[str, str, Handler]]:
    s = sim.state
    api = Api(sim)

    def commit_of(request: web.Request) -> tuple[dict[str, Any], str]:
        project = api.project_of(request)
        found = s.repo(project).resolve(request.match_info["sha"], project["default_branch"])
        if found is None:
            raise ApiError(404, {"message": "404 Commit Not Found"})
        return project, found.id

    async def set_status(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        data = await body(request)
        state = data.get("state")
        if state in (None, ""):
            raise bad_request("state is missing")
        if state not in TRANSITIONS:
            raise bad_request("state does not have a valid value")
        project, sha = commit_of(request)
        repo = s.repo(project)
        ref = data.get("ref") or next(
            (
                name
                for name, head in sorted(repo.branches.items())
                if sha in {c.id for c in repo.ancestors(repo.commits[head])}
            ),
            None,
        )
        if ref is None:
            raise ApiError(404, {"message": "404 References for commit Not Found"})
        too_long = {
            k: ["is too long (maximum is 255 characters)"]
            for k in ("description", "target_url")
            if len(str(data.get(k) or "")) > MAX_TEXT
        }
        if too_long:
            raise ApiError(400, {"message": too_long})
        name = str(data.get("name") or data.get("context") or "default")
        pipeline = s.pipelines.setdefault((project["id"], sha, ref), s.new_id("pipeline"))
        status = next(
            (
                st
                for st in s.commit_statuses.values()
                if (st["project_id"], st["pipeline_id"], st["name"], st["ref"])
                == (project["id"], pipeline, name, ref)
                and st["status"] in ("pending", "running")
            ),
            None,
        )
        current = status["status"] if status else "created"
        event, sources = TRANSITIONS[state]
        if current not in sources:
            raise ApiError(
                400,
                {
                    "message": f"Cannot transition status via :{event} from :{current} "
                    f'(Reason(s): Status cannot transition via "{event}")'
                },
            )
        now = timestamp(sim.now())
        if status is None:
            status = {
                "id": s.new_id("status"),
                "project_id": project["id"],
                "sha": sha,
                "ref": ref,
                "status": "created",
                "name": name,
                "target_url": None,
                "description": None,
                "created_at": now,
                "started_at": None,
                "finished_at": None,
                "allow_failure": False,
                "coverage": None,
                "pipeline_id": pipeline,
                "author": sim.user_rest(uid),
            }
            s.commit_statuses[status["id"]] = status
        for key in ("target_url", "description"):
            if data.get(key) is not None:
                status[key] = str(data[key])
        if data.get("coverage") not in (None, ""):
            try:
                status["coverage"] = float(data["coverage"])
            except ValueError:
                raise bad_request("coverage is invalid") from None
        status["status"] = state
        if state == "running":
            status["started_at"] = now
        elif state != "pending":
            status["finished_at"] = now
        return web.json_response(status_rest(status), status=201)

    async def list_statuses(request: web.Request, uid: int) -> web.Response:
        q = request.query
        project, sha = commit_of(request)
        order = q.get("order_by", "id")
        if order not in ("id", "pipeline_id"):
            raise bad_request("order_by does not have a valid value")
        if q.get("sort", "asc") not in ("asc", "desc"):
            raise bad_request("sort does not have a valid value")
        found = sorted(
            (
                st
                for st in s.commit_statuses.values()
                if (st["project_id"], st["sha"]) == (project["id"], sha)
            ),
            key=lambda st: st["id"],
        )
        if not flag(q.get("all")):  # the latest status of each name (and ref)
            latest: dict[tuple[str, str], dict[str, Any]] = {}
            for st in found:
                latest[(st["name"], st["ref"])] = st
            found = sorted(latest.values(), key=lambda st: st["id"])
        for key in ("ref", "name"):
            if q.get(key):
                found = [st for st in found if st[key] == q[key]]
        if q.get("pipeline_id"):
            found = [st for st in found if str(st["pipeline_id"]) == q["pipeline_id"]]
        if q.get("stage") and q["stage"] != "external":  # external statuses' stage
            found = []
        found.sort(key=lambda st: (st[order], st["id"]), reverse=q.get("sort") == "desc")
        return paginate(request, [status_rest(st) for st in found])

    p = f"{API}/projects/{{project}}"
    return [
        ("POST", f"{p}/statuses/{{sha}}", api.route(set_status)),
        ("GET", f"{p}/repository/commits/{{sha}}/statuses", api.route(list_statuses)),
    ]


def combined_status(sim: SimCore, project_id: int, sha: str) -> str | None:
    """The commit's status from its latest status per name, as a pipeline sums its jobs."""
    latest: dict[str, str] = {}
    for status in sorted(sim.state.commit_statuses.values(), key=lambda st: st["id"]):
        if status["project_id"] == project_id and status["sha"] == sha:
            latest[status["name"]] = status["status"]
    found = set(latest.values())
    for state in ("failed", "running", "pending", "canceled", "success", "skipped"):
        if state in found:
            return state
    return None


def status_rest(status: dict[str, Any]) -> dict[str, Any]:
    """A status as API::Entities::CommitStatus answers it."""
    return {k: v for k, v in status.items() if k != "project_id"}
