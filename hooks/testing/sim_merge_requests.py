"""Merge requests (doc/api/merge_requests.md): create, list, get, update, merge, their
changes and diffs; each change sends the Merge Request Hook (open, update, close, reopen,
merge), and a merge commits to the target branch and sends its Push Hook; their commits.

Refusals as lib/api/merge_requests.rb answers them: the same branch for source and target
422 `{"message": ["You can't use same project/branch for source and target"]}`, a second
open request for the same branches 409; merging one that is not open or a draft 405, one
that does not merge cleanly 422 `Branch cannot be merged`, a `sha` that is not the head 409.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from hooks.testing.sim_commits import commit_time, identity, write_commit
from hooks.testing.sim_git import ZERO_SHA, merged_tree
from hooks.testing.sim_http import (
    API,
    Api,
    ApiError,
    Handler,
    bad_request,
    between,
    body,
    flag,
    ids,
    label_names,
    paginate,
)
from hooks.testing.sim_mr_refs import mr_changes, mr_refs
from hooks.testing.sim_mr_shapes import (
    check_branches,
    diff_entry,
    is_draft,
    merge_request_rest,
    new_merge_request,
)
from hooks.testing.sim_repo_hooks import STATE_IDS, merge_request_hook, pushed
from hooks.testing.sim_repository import commit_rest
from hooks.testing.sim_state import timestamp

if TYPE_CHECKING:
    from hooks.testing.sim_core import SimCore

STATES = {"opened", "closed", "locked", "merged", "all"}
EDITABLE = ("title", "description", "target_branch", "labels", "assignee_ids", "reviewer_ids")


def routes(sim: SimCore) -> list[tuple[str, str, Handler]]:
    s = sim.state
    api = Api(sim)

    def mr_of(request: web.Request) -> dict[str, Any]:
        project = api.project_of(request)
        mr = s.merge_request(project["id"], int(request.match_info["iid"]))
        if mr is None:
            raise ApiError(404, {"message": "404 Not found"})
        return mr

    async def list_mrs(request: web.Request, uid: int) -> web.Response:
        q = request.query
        project = api.project_of(request)
        state = q.get("state", "all")
        if state not in STATES:
            raise bad_request("state does not have a valid value")
        order = q.get("order_by", "created_at")
        if order not in ("created_at", "updated_at", "title"):
            raise bad_request("order_by does not have a valid value")
        if q.get("sort", "desc") not in ("asc", "desc"):
            raise bad_request("sort does not have a valid value")
        found = [m for m in s.merge_requests.values() if m["project_id"] == project["id"]]
        if state != "all":
            found = [m for m in found if m["state"] == state]
        for key in ("source_branch", "target_branch"):
            if q.get(key):
                found = [m for m in found if m[key] == q[key]]
        try:
            iids = {int(v) for v in q.getall("iids[]", [])}
            author = int(q["author_id"]) if q.get("author_id") else None
        except ValueError:
            raise bad_request("iids is invalid") from None
        if iids:
            found = [m for m in found if m["iid"] in iids]
        if author is not None:
            found = [m for m in found if m["author_id"] == author]
        for label in label_names(q.get("labels")):
            found = [m for m in found if label in m["labels"]]
        if q.get("search"):
            term = q["search"].lower()
            found = [m for m in found if term in f"{m['title']}\n{m['description']}".lower()]
        found = between(q, between(q, found, "created_at"), "updated_at")
        found.sort(key=lambda m: (m[order], m["id"]), reverse=q.get("sort", "desc") == "desc")
        return paginate(request, found, shape=lambda m: merge_request_rest(sim, m, uid))

    async def get_mr(request: web.Request, uid: int) -> web.Response:
        return web.json_response(merge_request_rest(sim, mr_of(request), uid, single=True))

    async def create_mr(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        project = api.project_of(request)
        data = await body(request)
        missing = [k for k in ("source_branch", "target_branch", "title") if not data.get(k)]
        if missing:
            raise bad_request(", ".join(f"{k} is missing" for k in missing))
        if str(data.get("target_project_id") or project["id"]) not in (
            str(project["id"]),
            project["path_with_namespace"],
        ):
            raise ApiError(422, {"message": ["Source project is not a fork of the target project"]})
        fields = {
            **{k: str(data[k]) for k in ("source_branch", "target_branch", "title")},
            "description": str(data.get("description") or ""),
            "assignee_ids": ids(data.get("assignee_ids") or data.get("assignee_id")),
            "reviewer_ids": ids(data.get("reviewer_ids")),
            "labels": label_names(data.get("labels")),
            "squash": flag(data.get("squash")),
            "remove_source_branch": flag(data["remove_source_branch"])
            if "remove_source_branch" in data
            else None,
        }
        check_branches(sim, {**fields, "project_id": project["id"]})
        mr = new_merge_request(sim, project, fields, uid)
        merge_request_hook(sim, mr, "open", uid, {}, api.event_uuid(request))
        return web.json_response(merge_request_rest(sim, mr, uid, single=True), status=201)

    async def update_mr(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        mr = mr_of(request)
        data = await body(request)
        before = {k: (list(v) if isinstance(v, list) else v) for k, v in mr.items()}
        for key in EDITABLE:
            if key not in data:
                continue
            if key == "labels":
                mr[key] = label_names(data[key])
            elif key in ("assignee_ids", "reviewer_ids"):
                mr[key] = ids(data[key])
            else:
                mr[key] = str(data[key] or "")
        added = [lbl for lbl in label_names(data.get("add_labels")) if lbl not in mr["labels"]]
        removed = set(label_names(data.get("remove_labels")))
        mr["labels"] = [lbl for lbl in [*mr["labels"], *added] if lbl not in removed]
        mr["draft"] = is_draft(mr["title"])
        if "discussion_locked" in data:
            mr["discussion_locked"] = flag(data["discussion_locked"])
        event = data.get("state_event")
        action = "update"
        now = timestamp(sim.now())
        if event == "close" and mr["state"] == "opened":
            mr.update(state="closed", closed_at=now, closed_by_id=uid)
            action = "close"
        elif event == "reopen" and mr["state"] == "closed":
            check_branches(sim, mr)
            mr.update(state="opened", closed_at=None, closed_by_id=None)
            mr["sha"] = s.repo(s.projects[mr["project_id"]]).branches.get(
                mr["source_branch"], mr["sha"]
            )
            action = "reopen"
        elif event not in (None, "", "close", "reopen"):
            raise bad_request("state_event does not have a valid value")
        if mr["source_branch"] == mr["target_branch"]:
            mr.update(before)
            raise ApiError(
                422, {"message": ["You can't use same project/branch for source and target"]}
            )
        changed = {
            k: {"previous": before[k], "current": mr[k]} for k in EDITABLE if before[k] != mr[k]
        }
        if changed or action != "update":
            if "title" in changed or "description" in changed:
                mr.update(last_edited_at=now, last_edited_by_id=uid)
            mr["updated_at"] = now
            hook_changes = {
                **changed,
                "updated_at": {"previous": before["updated_at"], "current": now},
                "updated_by_id": {"previous": None, "current": uid},
            }
            if action != "update":
                state_ids = {
                    "previous": STATE_IDS[str(before["state"])],
                    "current": STATE_IDS[mr["state"]],
                }
                hook_changes["state_id"] = state_ids
            merge_request_hook(sim, mr, action, uid, hook_changes, api.event_uuid(request))
        return web.json_response(merge_request_rest(sim, mr, uid, single=True))

    async def merge_mr(request: web.Request, uid: int) -> web.Response:
        api.writable(uid)
        mr = mr_of(request)
        data = await body(request)
        project = s.projects[mr["project_id"]]
        repo = s.repo(project)
        if mr["state"] != "opened" or mr["draft"]:
            raise ApiError(405, {"message": "405 Method Not Allowed"})
        if data.get("sha") and data["sha"] != mr["sha"]:
            raise ApiError(
                409, {"message": f"SHA does not match HEAD of source branch: {mr['sha']}"}
            )
        base, start, head = mr_refs(repo, mr)
        if start is None or head is None:
            raise ApiError(422, {"message": "Branch cannot be merged"})
        tree, conflicts = merged_tree(base.files if base else {}, start.files, head.files)
        if conflicts:
            raise ApiError(422, {"message": "Branch cannot be merged"})
        message = str(
            data.get("merge_commit_message")
            or f"Merge branch '{mr['source_branch']}' into '{mr['target_branch']}'\n\n"
            f"{mr['title']}\n\nSee merge request {project['path_with_namespace']}!{mr['iid']}"
        )
        merged_head = head
        if flag(data.get("squash", mr["squash"])):  # one commit of the changes, then the merge
            squashed = repo.write(
                [base] if base else [],
                head.files,
                str(data.get("squash_commit_message") or mr["title"]),
                identity(sim, mr["author_id"]),
                identity(sim, uid),
                commit_time(sim),
            )
            merged_head = squashed
            mr["squash_commit_sha"] = squashed.id
        made = write_commit(
            sim,
            project,
            mr["target_branch"],
            [],
            message,
            uid,
            parents=[start, merged_head],
            tree=tree,
            event_uuid=api.event_uuid(request),
        )
        now = timestamp(sim.now())
        before_update = mr["updated_at"]
        mr.update(
            state="merged",
            merged_at=now,
            merged_by_id=uid,
            updated_at=now,
            merge_commit_sha=made.id,
            merged_refs=(base.id if base else None, start.id, head.id),
        )
        remove = data.get("should_remove_source_branch", mr["should_remove_source_branch"])
        merged_changes = {  # GitLab locks the request while merging: locked (4) -> merged (3)
            "state_id": {"previous": STATE_IDS["locked"], "current": STATE_IDS["merged"]},
            "updated_at": {"previous": before_update, "current": now},
        }
        merge_request_hook(sim, mr, "merge", uid, merged_changes, api.event_uuid(request))
        if flag(remove) and mr["source_branch"] in repo.branches:
            old = repo.branches.pop(mr["source_branch"])
            pushed(sim, project, mr["source_branch"], old, ZERO_SHA, uid)
        return web.json_response(merge_request_rest(sim, mr, uid, single=True))

    async def changes_of(request: web.Request, uid: int) -> web.Response:
        mr = mr_of(request)
        repo = s.repo(s.projects[mr["project_id"]])
        entries = [diff_entry(c, repo) for c in mr_changes(repo, mr)]
        rest = merge_request_rest(sim, mr, uid, single=True)
        return web.json_response({**rest, "changes": entries, "overflow": False})

    async def diffs_of(request: web.Request, uid: int) -> web.Response:
        mr = mr_of(request)
        repo = s.repo(s.projects[mr["project_id"]])
        return paginate(request, [diff_entry(c, repo) for c in mr_changes(repo, mr)])

    async def commits_of(request: web.Request, uid: int) -> web.Response:
        mr = mr_of(request)
        project = s.projects[mr["project_id"]]
        repo = s.repo(project)
        base, _start, head = mr_refs(repo, mr)
        found = list(reversed(repo.between(base.id if base else None, head))) if head else []
        return paginate(request, [commit_rest(project, c) for c in found])

    p = f"{API}/projects/{{project}}/merge_requests"
    one = f"{p}/{{iid:\\d+}}"
    return [
        ("GET", p, api.route(list_mrs)),
        ("POST", p, api.route(create_mr)),
        ("GET", one, api.route(get_mr)),
        ("PUT", one, api.route(update_mr)),
        ("PUT", f"{one}/merge", api.route(merge_mr)),
        ("GET", f"{one}/changes", api.route(changes_of)),
        ("GET", f"{one}/diffs", api.route(diffs_of)),
        ("GET", f"{one}/commits", api.route(commits_of)),
    ]
