"""What tests and seeds do to a simulated project's repository without the API: commit files
(`seed_repository`, `seed_directory`), move a branch back (`force_push`), and read what the
service wrote (files, commit comments, commit statuses, merge requests and their notes).
Merge requests themselves are opened, updated and merged through the API, as a team does.

Every commit and force-push sends the Push Hook (and merge request `update`s) as a push
through the API does.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from hooks.testing.sim_commit_statuses import status_rest
from hooks.testing.sim_commits import write_commit
from hooks.testing.sim_core import SimCore
from hooks.testing.sim_mr_shapes import merge_request_rest
from hooks.testing.sim_repo_hooks import pushed


class SimRepoHelpers(SimCore):
    """The simulator's repository helpers (thread-safe: each takes the simulator's lock)."""

    def seed_repository(
        self,
        project: str,
        files: dict[str, str | bytes | None],
        branch: str | None = None,
        *,
        message: str = "Add files",
        user: str | None = None,
        start_branch: str | None = None,
        exact: bool = False,
    ) -> str:
        """Commit `files` (path -> content; None deletes the file) to `branch` (default: the
        project's default branch) as `user` (default: the bot); a new branch starts from
        `start_branch` (default: the default branch). With `exact`, files not listed are
        deleted: the branch then holds exactly `files`. Returns the commit's id."""
        with self.lock:
            target = self._project_or_fail(project)
            repo = self.state.repo(target)
            name = branch or target["default_branch"]
            current = repo.commits[repo.branches[name]].files if name in repo.branches else {}
            if name not in repo.branches and repo.commits:
                base = repo.branches.get(start_branch or target["default_branch"])
                current = repo.commits[base].files if base else {}
            actions: list[dict[str, Any]] = []
            for path, content in sorted(files.items()):
                if content is None:
                    if path in current:
                        actions.append({"action": "delete", "file_path": path})
                    continue
                data = content.encode() if isinstance(content, str) else content
                kind = "update" if path in current else "create"
                actions.append({"action": kind, "file_path": path, "content": _b64(data)})
                actions[-1]["encoding"] = "base64"
            if exact:
                actions += [
                    {"action": "delete", "file_path": p} for p in sorted(current) if p not in files
                ]
            uid = self._uid(user)
            start = None
            if name not in repo.branches and repo.commits:
                start = start_branch or target["default_branch"]
            made = write_commit(self, target, name, actions, message, uid, start_branch=start)
            return made.id

    def seed_directory(
        self,
        project: str,
        folder: Path | str,
        prefix: str = "",
        branch: str | None = None,
        **options: Any,
    ) -> str:
        """Commit every file under `folder`, at `prefix/<its path under folder>`."""
        files: dict[str, str | bytes | None] = {**folder_files(folder, prefix)}
        return self.seed_repository(project, files, branch, **options)

    def force_push(self, project: str, branch: str, sha: str, *, user: str | None = None) -> None:
        """Set `branch` to `sha` (an older commit, say) as `git push --force` does: a Push
        Hook with no commits, and an `update` for the open merge requests from the branch."""
        with self.lock:
            target = self._project_or_fail(project)
            repo = self.state.repo(target)
            if branch not in repo.branches:
                raise KeyError(f"no branch {branch} in {project}")
            commit = repo.resolve(sha, target["default_branch"])
            if commit is None:
                raise KeyError(f"no commit {sha} in {project}")
            before = repo.branches[branch]
            repo.branches[branch] = commit.id
            pushed(self, target, branch, before, commit.id, self._uid(user))

    def branch_head(self, project: str, branch: str | None = None) -> str:
        """The id of the commit `branch` (default: the default branch) points at."""
        with self.lock:
            target = self._project_or_fail(project)
            return self.state.repo(target).branches[branch or target["default_branch"]]

    def file(self, project: str, path: str, ref: str | None = None) -> str:
        """A file's text at `ref` (default: the default branch)."""
        with self.lock:
            target = self._project_or_fail(project)
            repo = self.state.repo(target)
            commit = repo.resolve(ref, target["default_branch"])
            if commit is None or path not in commit.files:
                raise KeyError(f"no file {path} at {ref or 'HEAD'} in {project}")
            return repo.blobs[commit.files[path]].decode()

    def commit_comments(self, project: str, sha: str) -> list[dict[str, Any]]:
        with self.lock:
            target = self._project_or_fail(project)
            return [dict(n) for n in self.state.commit_notes.get((target["id"], sha), [])]

    def commit_statuses(self, project: str, sha: str) -> list[dict[str, Any]]:
        """Every status set on the commit, oldest first."""
        with self.lock:
            pid = self._project_or_fail(project)["id"]
            found = [
                st
                for st in self.state.commit_statuses.values()
                if (st["project_id"], st["sha"]) == (pid, sha)
            ]
            return [status_rest(st) for st in sorted(found, key=lambda st: st["id"])]

    def merge_request(self, project: str, iid: int) -> dict[str, Any]:
        """A merge request as GET /projects/:id/merge_requests/:iid answers it (for the bot)."""
        with self.lock:
            found = self.state.merge_request(self._project_or_fail(project)["id"], iid)
            if found is None:
                raise KeyError(f"no merge request {project}!{iid}")
            return merge_request_rest(self, found, 1, single=True)

    def mr_notes(self, project: str, iid: int) -> list[dict[str, Any]]:
        """A merge request's notes, oldest first."""
        with self.lock:
            found = self.state.merge_request(self._project_or_fail(project)["id"], iid)
            if found is None:
                raise KeyError(f"no merge request {project}!{iid}")
            return [dict(n) for n in self.state.mr_notes[found["id"]]]

    def _uid(self, username: str | None) -> int:
        if username is None:
            return 1
        user = self.state.user_by_name(username)
        if user is None:
            raise KeyError(f"no user {username}")
        return int(user["id"])


def folder_files(folder: Path | str, prefix: str = "") -> dict[str, bytes]:
    """Every file under `folder` by its repository path, `prefix/<path under folder>`."""
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"{root}: not a folder")
    prefix = prefix.strip("/")
    found: dict[str, bytes] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name = path.relative_to(root).as_posix()
        found[f"{prefix}/{name}" if prefix else name] = path.read_bytes()
    return found


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
