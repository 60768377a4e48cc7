"""Repository reads (doc/api/repositories.md, repository_files.md) and branches
(doc/api/branches.md): the tree, a file (base64, raw or its headers), a blob by id, branches
listed, got, created and deleted; and the REST shapes of a commit and a branch the other
repository routes share.

Error bodies as lib/api/repositories.rb, files.rb and branches.rb answer them: an unknown ref
of the tree is `404 Tree Not Found`, a path that is not a directory `404 invalid revision or
path Not Found`; a file's unknown ref `404 Commit Not Found`, an unknown path `404 File Not
Found`; an unknown branch `404 Branch Not Found`; an unknown blob `404 Blob Not Found`.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web

from hooks.testing.sim_git import ZERO_SHA, Commit, Repo, entries
from hooks.testing.sim_http import API, Api, ApiError, Handler, bad_request, body, flag, paginate
from hooks.testing.sim_repo_hooks import commit_url, pushed

if TYPE_CHECKING:
    from hooks.testing.sim_core import SimCore


def commit_rest(project: dict[str, Any], commit: Commit) -> dict[str, Any]:
    """A commit as API::Entities::Commit answers it in lists (doc/api/commits.md)."""
    return {
        "id": commit.id,
        "short_id": commit.id[:8],
        "created_at": commit.committed_date,
        "parent_ids": list(commit.parent_ids),
        "title": commit.title,
        "message": commit.message,
        "author_name": commit.author_name,
        "author_email": commit.author_email,
        "authored_date": commit.authored_date,
        "committer_name": commit.committer_name,
        "committer_email": commit.committer_email,
        "committed_date": commit.committed_date,
        "trailers": {},
        "extended_trailers": {},
        "web_url": commit_url(project, commit.id),
    }


def branch_rest(sim: SimCore, project: dict[str, Any], name: str) -> dict[str, Any]:
    """A branch as doc/api/branches.md answers it."""
    repo = sim.state.repo(project)
    head = repo.commits[repo.branches[name]]
    default = project["default_branch"]
    merged = False
    if name != default and default in repo.branches:
        tip = repo.commits[repo.branches[default]]
        merged = head.id in {c.id for c in repo.ancestors(tip)}
    return {
        "name": name,
        "merged": merged,
        "protected": name == default,  # GitLab protects the default branch by default
        "default": name == default,
        "developers_can_push": False,
        "developers_can_merge": False,
        "can_push": True,
        "web_url": f"{project['web_url']}/-/tree/{name}",
        "commit": commit_rest(project, head),
    }


def last_commit_for(repo: Repo, commit: Commit, path: str) -> str:
    """The newest commit, from `commit` back, that changed `path` (git log -1 -- path)."""
    blob = commit.files.get(path)
    current = commit
    while current.parent_ids:
        parent = repo.commits.get(current.parent_ids[0])
        if parent is None or parent.files.get(path) != blob:
            return current.id
        current = parent
    return current.id


def routes(sim: SimCore) -> list[tuple[str, str, Handler]]:
    s = sim.state
    api = Api(sim)

    def commit_of(project: dict[str, Any], ref: str | None, what: str = "Commit") -> Commit:
        found = s.repo(project).resolve(ref, project["default_branch"])
        if found is None:
            raise ApiError(404, {"message": f"404 {what} Not Found"})
        return found

    def file_of(request: web.Request, *, required_ref: bool) -> tuple[Any, ...]:
        project = api.project_of(request)
        ref = request.query.get("ref")
        if required_ref and not ref:
            raise bad_request("ref is missing" if ref is None else "ref is empty")
        commit = commit_of(project, ref)
        path = request.match_info["file_path"]
        blob = commit.files.get(path)
        if blob is None:
            raise ApiError(404, {"message": "404 File Not Found"})
        return project, commit, path, blob

    def blob_data(project: dict[str, Any], commit: Commit, path: str, ref: str) -> dict[str, Any]:
        repo = s.repo(project)
        content = repo.blobs[commit.files[path]]
        return {
            "file_name": path.rsplit("/", 1)[-1],
            "file_path": path,
            "size": len(content),
            "encoding": "base64",
            "content_sha256": hashlib.sha256(content).hexdigest(),
            "ref": ref,
            "blob_id": commit.files[path],
            "commit_id": commit.id,
            "last_commit_id": last_commit_for(repo, commit, path),
            "execute_filemode": False,
        }

    async def tree(request: web.Request, uid: int) -> web.Response:
        q = request.query
        project = api.project_of(request)
        pagination = q.get("pagination", "legacy")
        if pagination not in ("legacy", "keyset", "none"):
            raise bad_request("pagination does not have a valid value")
        if pagination == "none" and not flag(q.get("recursive")):
            raise bad_request('pagination cannot be "none" unless "recursive" is true')
        commit = commit_of(project, q.get("ref"), "Tree")
        listed = entries(commit.files, q.get("path", ""), flag(q.get("recursive")))
        if listed is None:
            raise ApiError(404, {"message": "404 invalid revision or path Not Found"})
        if pagination == "none":
            return web.json_response(listed)
        if pagination == "keyset":
            return tree_keyset(request, listed)
        return paginate(request, listed)

    async def get_file(request: web.Request, uid: int) -> web.Response:
        project, commit, path, _blob = file_of(request, required_ref=True)
        data = blob_data(project, commit, path, request.query["ref"])
        content = s.repo(project).blobs[commit.files[path]]
        return web.json_response({**data, "content": base64.b64encode(content).decode()})

    async def head_file(request: web.Request, uid: int) -> web.Response:
        """HEAD: the file's data as X-Gitlab-* headers, no body (files.rb)."""
        project, commit, path, _blob = file_of(request, required_ref=True)
        data = blob_data(project, commit, path, request.query["ref"])
        return web.Response(headers=_headers(data), content_type="application/json")

    async def get_blob(request: web.Request, uid: int) -> web.Response:
        project = api.project_of(request)
        content = s.repo(project).blobs.get(request.match_info["sha"])
        if content is None:
            raise ApiError(404, {"message": "404 Blob Not Found"})
        if request.path.endswith("/raw"):
            return web.Response(body=content, content_type="text/plain")
        encoded = base64.b64encode(content).decode()
        answer = {"size": len(content), "encoding": "base64", "content": encoded}
        return web.json_response({**answer, "sha": request.match_info["sha"]})

    async def raw_file(request: web.Request, uid: int) -> web.Response:
        project, commit, path, blob = file_of(request, required_ref=False)
        ref = request.query.get("ref") or project["default_branch"]
        headers = _headers(blob_data(project, commit, path, ref))
        return web.Response(
            body=s.repo(project).blobs[blob], content_type="text/plain", headers=headers
        )

    async def branches(request: web.Request, uid: int) -> web.Response:
        project = api.project_of(request)
        names = sorted(s.repo(project).branches)
        term = request.query.get("search")
        if term:
            start, end = term.startswith("^"), term.endswith("$")
            core = term.strip("^$")
            names = [
                n
                for n in names
                if (n.startswith(core) if start else True)
                and (n.endswith(core) if end else True)
                and core in n
            ]
        return paginate(request, [branch_rest(sim, project, n) for n in names])

    async def get_branch(request: web.Request, uid: int) -> web.Response:
        project = api.project_of(request)
        name = request.match_info["branch"]
        if name not in s.repo(project).branches:
            raise ApiError(404, {"message": "404 Branch Not Found"})
        return web.json_response(branch_rest(sim, project, name))

    async def create_branch(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        project = api.project_of(request)
        data = await body(request)
        missing = [k for k in ("branch", "ref") if not data.get(k)]
        if missing:
            raise bad_request(", ".join(f"{k} is missing" for k in missing))
        repo = s.repo(project)
        name = str(data["branch"])
        if name in repo.branches:
            raise bad_request_message("Branch already exists")
        start = repo.resolve(str(data["ref"]), project["default_branch"])
        if start is None:
            raise bad_request_message("Invalid reference name: " + str(data["ref"]))
        repo.branches[name] = start.id
        pushed(sim, project, name, ZERO_SHA, start.id, uid, api.event_uuid(request))
        return web.json_response(branch_rest(sim, project, name), status=201)

    async def delete_branch(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        project = api.project_of(request)
        repo = s.repo(project)
        name = request.match_info["branch"]
        if name not in repo.branches:
            raise ApiError(404, {"message": "404 Branch Not Found"})
        if name == project["default_branch"]:
            # Branches::DeleteService's refusal and its status.
            raise ApiError(405, {"message": "The default branch of a project cannot be deleted."})
        before = repo.branches.pop(name)
        pushed(sim, project, name, before, ZERO_SHA, uid, api.event_uuid(request))
        return web.Response(status=204)

    p = f"{API}/projects/{{project}}/repository"
    return [
        ("GET", f"{p}/tree", api.route(tree)),
        ("GET", f"{p}/files/{{file_path}}", api.route(get_file)),
        ("HEAD", f"{p}/files/{{file_path}}", api.route(head_file)),
        ("GET", f"{p}/files/{{file_path}}/raw", api.route(raw_file)),
        ("GET", f"{p}/blobs/{{sha}}", api.route(get_blob)),
        ("GET", f"{p}/blobs/{{sha}}/raw", api.route(get_blob)),
        ("GET", f"{p}/branches", api.route(branches)),
        ("POST", f"{p}/branches", api.route(create_branch)),
        ("GET", f"{p}/branches/{{branch}}", api.route(get_branch)),
        ("DELETE", f"{p}/branches/{{branch}}", api.route(delete_branch)),
    ]


def _headers(data: dict[str, Any]) -> dict[str, str]:
    """A blob's data as the X-Gitlab-* headers files.rb sets (X-Gitlab-Blob-Id, ...)."""
    return {
        f"X-Gitlab-{k.replace('_', '-').title()}": str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in data.items()
    }


def tree_keyset(request: web.Request, listed: list[dict[str, str]]) -> web.Response:
    """The tree by keyset (GitalyKeysetPager): entries after the one whose id is
    `page_token`, and a `next` Link naming the last one's id while more remain."""
    q = request.query
    try:
        per_page = max(1, min(100, int(q.get("per_page", 20))))
    except ValueError:
        raise bad_request("per_page is invalid") from None
    start = 0
    if q.get("page_token"):
        ids = [e["id"] for e in listed]
        start = ids.index(q["page_token"]) + 1 if q["page_token"] in ids else len(listed)
    chunk = listed[start : start + per_page]
    headers = {}
    if start + per_page < len(listed):
        query = {**q, "page_token": chunk[-1]["id"], "per_page": str(per_page)}
        base = f"{request.scheme}://{request.host}{request.raw_path.split('?', 1)[0]}"
        headers["Link"] = f'<{base}?{urlencode(query)}>; rel="next"'
    return web.json_response(chunk, headers=headers)


def bad_request_message(message: str) -> ApiError:
    """A service's refusal: 400 `{"message": ...}` (render_api_error!), not Grape's
    `{"error": ...}` of a parameter that fails validation."""
    return ApiError(400, {"message": message})
