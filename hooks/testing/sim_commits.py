"""Commits (doc/api/commits.md): create one with several file actions, list and get them,
comment on them; the single-file writes of doc/api/repository_files.md. Every commit to a
branch sends the Push Hook (and an `update` to the merge requests from that branch).

`write_commit` is the one way a commit is made (API, seeds, merges); its refusals are
Commits::CreateService's messages, 400 `{"message": ...}`.
"""

from __future__ import annotations

import base64
import binascii
import difflib
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hooks.testing.sim_commit_statuses import combined_status
from hooks.testing.sim_git import ZERO_SHA, Commit, changes
from hooks.testing.sim_http import (
    API,
    Api,
    ApiError,
    Handler,
    bad_request,
    body,
    flag,
    paginate,
    stamp,
)
from hooks.testing.sim_repo_hooks import pushed
from hooks.testing.sim_repository import bad_request_message, commit_rest
from hooks.testing.sim_state import timestamp

if TYPE_CHECKING:
    from hooks.testing.sim_core import SimCore

ACTIONS = ("create", "delete", "move", "update", "chmod")


def write_commit(
    sim: SimCore,
    project: dict[str, Any],
    branch: str,
    actions: list[dict[str, Any]],
    message: str,
    actor_id: int,
    *,
    start_branch: str | None = None,
    author: tuple[str | None, str | None] = (None, None),
    parents: list[Commit] | None = None,
    tree: dict[str, str] | None = None,
    event_uuid: str | None = None,
) -> Commit:
    """Commit `actions` (doc/api/commits.md action hashes) to `branch` and send the push.
    A new branch starts from `start_branch`; `parents` (a merge) overrides both, and `tree`
    (path -> blob id, a merge's result) is then the commit's files as they are."""
    repo = sim.state.repo(project)
    if parents is None:
        start_name = start_branch or branch
        if repo.commits and start_name not in repo.branches:
            raise bad_request_message("You can only create or edit files when you are on a branch")
        if start_name != branch and branch in repo.branches:
            raise bad_request_message(
                f"A branch called {branch} already exists. "
                "Switch to that branch in order to make changes"
            )
        parents = [repo.commits[repo.branches[start_name]]] if start_name in repo.branches else []
    files = dict(tree if tree is not None else parents[0].files if parents else {})
    for index, action in enumerate(actions):
        _apply(repo, files, action, index)
    committer = identity(sim, actor_id)
    when = commit_time(sim)
    made = repo.write(
        parents,
        files,
        message,
        (author[0] or committer[0], author[1] or committer[1]),
        committer,
        when,
    )
    before = repo.branches.get(branch, ZERO_SHA)
    repo.branches[branch] = made.id
    pushed(sim, project, branch, before, made.id, actor_id, event_uuid)
    return made


def identity(sim: SimCore, uid: int) -> tuple[str, str]:
    """A user's name and commit email (the simulator's users have no other)."""
    user = sim.user_rest(uid) or {"name": "Simulator", "username": "sim"}
    return str(user["name"]), f"{user['username']}@gitlab.sim"


def commit_time(sim: SimCore) -> str:
    return timestamp(sim.now()).removesuffix("Z") + "+00:00"


def _apply(repo: Any, files: dict[str, str], action: dict[str, Any], index: int) -> None:
    name = f"actions[{index}]"
    if not isinstance(action, dict):
        raise bad_request(f"{name} is invalid")
    kind, path = action.get("action"), action.get("file_path")
    if not kind:
        raise bad_request(f"{name}[action] is missing")
    if kind not in ACTIONS:
        raise bad_request(f"{name}[action] does not have a valid value")
    if not path:
        raise bad_request(f"{name}[file_path] is missing")
    path = str(path)
    if path.startswith("/") or any(part in ("", ".", "..") for part in path.split("/")):
        raise bad_request_message(f"The file path {path!r} is not a path inside the repository")
    encoding = action.get("encoding") or "text"
    if encoding not in ("text", "base64"):
        raise bad_request(f"{name}[encoding] does not have a valid value")
    content: bytes | None = None
    if action.get("content") is not None:
        raw = str(action["content"])
        try:
            content = base64.b64decode(raw, validate=True) if encoding == "base64" else raw.encode()
        except (binascii.Error, ValueError):
            raise bad_request_message(f"The content of {path} is not valid base64") from None
    if kind == "move":
        previous = str(action.get("previous_path") or "")
        if previous not in files:
            raise bad_request_message("A file with this name doesn't exist")
        if path in files:
            raise bad_request_message("A file with this name already exists")
        blob = files.pop(previous)
        files[path] = repo.store(content) if content is not None else blob
    elif kind == "create":
        if path in files:
            raise bad_request_message("A file with this name already exists")
        files[path] = repo.store(content or b"")
    elif path not in files:
        raise bad_request_message("A file with this name doesn't exist")
    elif kind == "update":
        files[path] = repo.store(content or b"")
    elif kind == "delete":
        del files[path]
    # chmod: the simulator keeps no file modes; the file stays as it is.


def stats(repo: Any, commit: Commit) -> dict[str, int]:
    """Lines added and deleted against the first parent."""
    parent = repo.commits.get(commit.parent_ids[0]) if commit.parent_ids else None
    added = deleted = 0
    for change in changes(parent.files if parent else {}, commit.files):
        old = repo.blobs.get(change.old_blob or "", b"").decode(errors="replace").splitlines()
        new = repo.blobs.get(change.new_blob or "", b"").decode(errors="replace").splitlines()
        for line in difflib.unified_diff(old, new, lineterm="", n=0):
            if line.startswith("+") and not line.startswith("+++"):
                added += 1
            elif line.startswith("-") and not line.startswith("---"):
                deleted += 1
    return {"additions": added, "deletions": deleted, "total": added + deleted}


def routes(sim: SimCore) -> list[tuple[str, str, Handler]]:
    s = sim.state
    api = Api(sim)

    def commit_of(request: web.Request) -> tuple[dict[str, Any], Commit]:
        project = api.project_of(request)
        found = s.repo(project).resolve(request.match_info["sha"], project["default_branch"])
        if found is None:
            raise ApiError(404, {"message": "404 Commit Not Found"})
        return project, found

    def detail(project: dict[str, Any], commit: Commit) -> dict[str, Any]:
        rest = commit_rest(project, commit)
        del rest["trailers"], rest["extended_trailers"]  # not in the single commit's answer
        status = combined_status(sim, project["id"], commit.id)
        return {**rest, "stats": stats(s.repo(project), commit), "status": status}

    async def create_commit(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        project = api.project_of(request)
        data = await body(request)
        missing = [k for k in ("branch", "commit_message", "actions") if data.get(k) is None]
        if missing:
            raise bad_request(", ".join(f"{k} is missing" for k in missing))
        if not isinstance(data["actions"], list) or not data["actions"]:
            raise bad_request("actions is empty")
        made = write_commit(
            sim,
            project,
            str(data["branch"]),
            data["actions"],
            str(data["commit_message"]),
            uid,
            start_branch=data.get("start_branch"),
            author=(data.get("author_name"), data.get("author_email")),
            event_uuid=api.event_uuid(request),
        )
        return web.json_response(detail(project, made), status=201)

    async def list_commits(request: web.Request, uid: int) -> web.Response:
        q = request.query
        project = api.project_of(request)
        repo = s.repo(project)
        if flag(q.get("all")):
            found = list(repo.commits.values())
        else:
            head = repo.resolve(q.get("ref_name"), project["default_branch"])
            found = repo.ancestors(head) if head else []
        if q.get("path"):
            path = q["path"].strip("/")
            found = [c for c in found if _touches(repo, c, path)]
        if q.get("since"):
            found = [c for c in found if stamp(c.committed_date) >= stamp(q["since"])]
        if q.get("until"):
            found = [c for c in found if stamp(c.committed_date) <= stamp(q["until"])]
        found.sort(key=lambda c: c.committed_date, reverse=True)
        return paginate(request, [commit_rest(project, c) for c in found], totals=False)

    async def get_commit(request: web.Request, uid: int) -> web.Response:
        project, commit = commit_of(request)
        last = None  # the external pipeline commit statuses made, as PipelineBasic shows it
        status = combined_status(sim, project["id"], commit.id)
        for (pid, sha, ref), pipeline_id in s.pipelines.items():
            if pid == project["id"] and sha == commit.id:
                last = {"id": pipeline_id, "ref": ref, "sha": sha, "status": status}
        return web.json_response({**detail(project, commit), "last_pipeline": last})

    async def comments(request: web.Request, uid: int) -> web.Response:
        project, commit = commit_of(request)
        return paginate(request, s.commit_notes.get((project["id"], commit.id), []))

    async def add_comment(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        data = await body(request)
        project, commit = commit_of(request)
        if not str(data.get("note") or "").strip():
            raise bad_request("note is missing")
        path = data.get("path") or None
        line_type = data.get("line_type") or ("new" if path else None)
        if line_type not in (None, "new", "old"):
            raise bad_request("line_type does not have a valid value")
        placed = path is not None and path in commit.files and data.get("line") is not None
        note = {
            "note": str(data["note"]),
            "path": path if placed else None,
            "line": int(data["line"]) if placed else None,
            "line_type": line_type if placed else None,
            "author": sim.user_rest(uid),
            "created_at": timestamp(sim.now()),
        }
        s.commit_notes.setdefault((project["id"], commit.id), []).append(note)
        return web.json_response(note, status=201)

    async def write_file(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        project = api.project_of(request)
        data = await body(request)
        kind = {"POST": "create", "PUT": "update", "DELETE": "delete"}[request.method]
        needed = ("branch", "commit_message") + (("content",) if kind != "delete" else ())
        missing = [k for k in needed if data.get(k) is None]
        if missing:
            raise bad_request(", ".join(f"{k} is missing" for k in missing))
        path = request.match_info["file_path"]
        action = {"action": kind, "file_path": path, "content": data.get("content")}
        action["encoding"] = data.get("encoding") or "text"
        write_commit(
            sim,
            project,
            str(data["branch"]),
            [action],
            str(data["commit_message"]),
            uid,
            start_branch=data.get("start_branch"),
            author=(data.get("author_name"), data.get("author_email")),
            event_uuid=api.event_uuid(request),
        )
        if kind == "delete":
            return web.Response(status=204)
        answer = {"file_path": path, "branch": str(data["branch"])}
        return web.json_response(answer, status=201 if kind == "create" else 200)

    p = f"{API}/projects/{{project}}/repository"
    one = f"{p}/commits/{{sha}}"
    return [
        ("POST", f"{p}/commits", api.route(create_commit)),
        ("GET", f"{p}/commits", api.route(list_commits)),
        ("GET", one, api.route(get_commit)),
        ("GET", f"{one}/comments", api.route(comments)),
        ("POST", f"{one}/comments", api.route(add_comment)),
        ("POST", f"{p}/files/{{file_path}}", api.route(write_file)),
        ("PUT", f"{p}/files/{{file_path}}", api.route(write_file)),
        ("DELETE", f"{p}/files/{{file_path}}", api.route(write_file)),
    ]


def _touches(repo: Any, commit: Commit, path: str) -> bool:
    parent = repo.commits.get(commit.parent_ids[0]) if commit.parent_ids else None
    before = parent.files if parent else {}

    def under(files: dict[str, str]) -> dict[str, str]:
        return {p: b for p, b in files.items() if p == path or p.startswith(f"{path}/")}

    return under(before) != under(commit.files)
