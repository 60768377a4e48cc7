"""The repository, commit and merge request calls of the rules source (doc/api/repositories.md,
repository_files.md, branches.md, commits.md, notes.md)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

from hooks.gitlab.ops import GitlabOps


def _id(project: str) -> str:
    return quote(project, safe="")


class RepositoryOps(GitlabOps):
    """Reads of one commit's files and the writes that report on a commit or merge request."""

    def project(self, project: str) -> dict[str, Any]:
        found: dict[str, Any] = self._get(f"/projects/{_id(project)}")
        return found

    def branch_head(self, project: str, branch: str) -> str:
        """The commit SHA the branch points to now."""
        found = self._get(f"/projects/{_id(project)}/repository/branches/{_id(branch)}")
        return str(found["commit"]["id"])

    def tree(self, project: str, sha: str, path: str, *, limit: int) -> list[dict[str, Any]]:
        """Every entry under `path` at `sha` (recursively), stopping once past `limit` files
        (folders do not count), so a huge folder costs a few pages, not all of them."""
        entries: list[dict[str, Any]] = []
        files = 0
        pages = self.gl.http_list(
            f"/projects/{_id(project)}/repository/tree",
            query_data={"path": path, "ref": sha, "recursive": True, "per_page": 100},
            iterator=True,
            max_retries=self.max_retries,
        )
        for entry in pages:
            entries.append(entry)
            files += entry.get("type") == "blob"
            if files > limit:
                break
        return entries

    def file(self, project: str, path: str, sha: str) -> tuple[int, bytes]:
        """One file at `sha`: its size as GitLab reports it, and its bytes."""
        found = self._get(f"/projects/{_id(project)}/repository/files/{_id(path)}", ref=sha)
        content = str(found.get("content") or "")
        data = base64.b64decode(content) if found.get("encoding") == "base64" else content.encode()
        return int(found.get("size", len(data))), data

    def commit_comment(self, project: str, sha: str, note: str) -> dict[str, Any]:
        # Not re-sent blind: after a lost answer the caller looks for its marker first.
        created: dict[str, Any] = self._post(
            f"/projects/{_id(project)}/repository/commits/{sha}/comments",
            {"note": note},
            resend=False,
        )
        return created

    def commit_comments(self, project: str, sha: str) -> list[dict[str, Any]]:
        return self._list(f"/projects/{_id(project)}/repository/commits/{sha}/comments")

    def set_status(
        self, project: str, sha: str, *, state: str, name: str, description: str
    ) -> dict[str, Any]:
        """Set a commit status (shown as a check on the merge request of that commit)."""
        created: dict[str, Any] = self._post(
            f"/projects/{_id(project)}/statuses/{sha}",
            {"state": state, "name": name, "description": description[:255]},
        )
        return created

    def merge_request_notes(self, project: str, iid: int) -> list[dict[str, Any]]:
        return self._list(
            f"/projects/{_id(project)}/merge_requests/{iid}/notes",
            sort="asc",
            order_by="created_at",
        )

    def create_merge_request_note(self, project: str, iid: int, body: str) -> dict[str, Any]:
        created: dict[str, Any] = self._post(
            f"/projects/{_id(project)}/merge_requests/{iid}/notes", {"body": body}, resend=False
        )
        return created

    def edit_merge_request_note(
        self, project: str, iid: int, note_id: int, body: str
    ) -> dict[str, Any]:
        edited: dict[str, Any] = self._put(
            f"/projects/{_id(project)}/merge_requests/{iid}/notes/{note_id}", {"body": body}
        )
        return edited
