"""A project's Git repository in the simulator: blobs, commits, branches, trees, diffs.

Plain data and pure functions, no HTTP: the repository routes (`sim_repository`,
`sim_commits`, `sim_merge_requests`) read and write it under the simulator's lock. Blob ids
are Git's own (`sha1("blob <size>\\0" + content)`), so a file's `blob_id` is what `git
hash-object` prints; commit and directory ids are SHA-1s of their content, 40 hex digits
like Git's, but not computed from Git's object format.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field

ZERO_SHA = "0" * 40  # a push's `before` when the branch is new, its `after` when deleted
FILE_MODE = "100644"
TREE_MODE = "040000"


def blob_id(content: bytes) -> str:
    """Git's id of a blob with this content."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class Commit:
    id: str
    parent_ids: list[str]
    files: dict[str, str]  # path -> blob id: the whole tree at this commit
    message: str
    author_name: str
    author_email: str
    authored_date: str
    committer_name: str
    committer_email: str
    committed_date: str

    @property
    def title(self) -> str:
        return self.message.split("\n", 1)[0]


@dataclass
class Change:
    """One file's change between two trees, as a diff entry describes it."""

    old_path: str
    new_path: str
    old_blob: str | None
    new_blob: str | None

    @property
    def new_file(self) -> bool:
        return self.old_blob is None

    @property
    def deleted_file(self) -> bool:
        return self.new_blob is None


@dataclass
class Repo:
    """One project's repository."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)  # name -> head commit id
    _serial: int = 0

    def resolve(self, ref: str | None, default_branch: str) -> Commit | None:
        """The commit a ref names: a branch, `HEAD` (the default branch), a full or
        abbreviated (7+ digits) commit id; None when nothing matches."""
        if ref in (None, "", "HEAD"):
            ref = default_branch
        assert ref is not None
        if ref in self.branches:
            return self.commits[self.branches[ref]]
        if ref in self.commits:
            return self.commits[ref]
        if len(ref) >= 7:
            found = [c for sha, c in self.commits.items() if sha.startswith(ref)]
            if len(found) == 1:
                return found[0]
        return None

    def write(
        self,
        parents: list[Commit],
        files: dict[str, str],
        message: str,
        author: tuple[str, str],
        committer: tuple[str, str],
        when: str,
    ) -> Commit:
        """Store a new commit with tree `files` (path -> blob id); no branch moves."""
        self._serial += 1
        digest = hashlib.sha1()
        for part in (
            *(p.id for p in parents),
            *(f"{path}\0{blob}" for path, blob in sorted(files.items())),
            message,
            *author,
            *committer,
            when,
            str(self._serial),
        ):
            digest.update(part.encode() + b"\n")
        commit = Commit(
            id=digest.hexdigest(),
            parent_ids=[p.id for p in parents],
            files=dict(sorted(files.items())),
            message=message,
            author_name=author[0],
            author_email=author[1],
            authored_date=when,
            committer_name=committer[0],
            committer_email=committer[1],
            committed_date=when,
        )
        self.commits[commit.id] = commit
        return commit

    def store(self, content: bytes) -> str:
        sha = blob_id(content)
        self.blobs[sha] = content
        return sha

    # -- history ---------------------------------------------------------------

    def ancestors(self, commit: Commit) -> list[Commit]:
        """The commit and every commit it descends from, newest first (by walk order)."""
        seen: dict[str, Commit] = {}
        todo = [commit]
        while todo:
            current = todo.pop(0)
            if current.id in seen:
                continue
            seen[current.id] = current
            todo += [self.commits[p] for p in current.parent_ids if p in self.commits]
        return list(seen.values())

    def between(self, old: str | None, new: Commit) -> list[Commit]:
        """Commits reachable from `new` but not from `old`, oldest first (`git log old..new`
        reversed), as a push lists them."""
        hidden = set()
        if old and old in self.commits:
            hidden = {c.id for c in self.ancestors(self.commits[old])}
        return [c for c in reversed(self.ancestors(new)) if c.id not in hidden]

    def merge_base(self, one: Commit, other: Commit) -> Commit | None:
        """The newest commit both descend from."""
        theirs = {c.id for c in self.ancestors(other)}
        return next((c for c in self.ancestors(one) if c.id in theirs), None)


def changes(old: dict[str, str], new: dict[str, str]) -> list[Change]:
    """The files added, modified and removed from tree `old` to tree `new`, by path.
    A file removed and one added with the same content count as a rename."""
    added = {p: b for p, b in new.items() if p not in old}
    removed = {p: b for p, b in old.items() if p not in new}
    found: list[Change] = []
    for path, blob in list(removed.items()):
        target = next((p for p, b in added.items() if b == blob), None)
        if target is not None:
            found.append(Change(path, target, blob, blob))
            del added[target], removed[path]
    found += [Change(p, p, old[p], new[p]) for p in new if p in old and old[p] != new[p]]
    found += [Change(p, p, None, b) for p, b in added.items()]
    found += [Change(p, p, b, None) for p, b in removed.items()]
    return sorted(found, key=lambda c: c.new_path)


def unified(change: Change, blobs: dict[str, bytes]) -> str:
    """The change as GitLab's `diff` field shows it: hunks only, no `---`/`+++` header."""
    before = _text(blobs.get(change.old_blob or "", b"")).splitlines()
    after = _text(blobs.get(change.new_blob or "", b"")).splitlines()
    lines = difflib.unified_diff(before, after, lineterm="", n=3)
    body = [line for line in lines if not line.startswith(("---", "+++"))]
    return "\n".join(body) + ("\n" if body else "")


def merged_tree(
    base: dict[str, str], ours: dict[str, str], theirs: dict[str, str]
) -> tuple[dict[str, str], list[str]]:
    """A three-way merge of whole files: (the merged tree, the paths in conflict)."""
    result = dict(ours)
    conflicts: list[str] = []
    for path in sorted(set(base) | set(ours) | set(theirs)):
        b, o, t = base.get(path), ours.get(path), theirs.get(path)
        if t in (b, o):
            continue  # they did not change it, or changed it as we did
        if o == b:
            if t is None:
                result.pop(path, None)
            else:
                result[path] = t
            continue
        conflicts.append(path)
    return result, conflicts


def entries(files: dict[str, str], path: str, recursive: bool) -> list[dict[str, str]] | None:
    """The tree at `path` as GitLab lists it (directories first, then files, each by path);
    None when `path` is not a directory of the tree."""
    prefix = path.strip("/")
    prefix = f"{prefix}/" if prefix else ""
    inside = {p: b for p, b in files.items() if p.startswith(prefix)}
    if prefix and not inside:
        return None
    trees: dict[str, str] = {}
    blobs: dict[str, str] = {}
    for full, blob in inside.items():
        parts = full[len(prefix) :].split("/")
        for depth in range(1, len(parts)):
            if depth > 1 and not recursive:
                break
            directory = prefix + "/".join(parts[:depth])
            trees[directory] = _tree_id(files, directory)
        if recursive or len(parts) == 1:
            blobs[full] = blob
    listed = [_entry(p, i, "tree", TREE_MODE) for p, i in sorted(trees.items())]
    return listed + [_entry(p, i, "blob", FILE_MODE) for p, i in sorted(blobs.items())]


def _entry(path: str, sha: str, kind: str, mode: str) -> dict[str, str]:
    return {"id": sha, "name": path.rsplit("/", 1)[-1], "type": kind, "path": path, "mode": mode}


def _tree_id(files: dict[str, str], directory: str) -> str:
    digest = hashlib.sha1()
    for path, blob in sorted(files.items()):
        if path.startswith(f"{directory}/"):
            digest.update(f"{path}\0{blob}\n".encode())
    return digest.hexdigest()


def _text(content: bytes) -> str:
    return content.decode("utf-8", errors="replace")
