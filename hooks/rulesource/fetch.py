"""Reading one commit's rules from the GitLab project, and validating them as `hooks check` does.

A read is of one commit SHA (never a branch name), so the files are one consistent version
however the branch moves meanwhile. The files are validated in a private folder laid out as
the repository is, so errors name the file as the team sees it (`rules/20-rollover.yaml:12`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

import gitlab

from hooks.gitlab.repository import RepositoryOps
from hooks.preview.validate import MAX_FILE_BYTES, MAX_FILES
from hooks.rules.errors import RuleError, RuleErrors
from hooks.rules.examples import ExampleResult, run_examples
from hooks.rules.loader import load_rules, rule_files
from hooks.rules.model import RuleSet

# Tree entry modes (git): a symbolic link's content is a path, not the file it names.
SYMLINK_MODE = "120000"


class RulesRefused(Exception):
    """A version of the rules that cannot go live, with every reason (`file:line: message`)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class CommitFiles:
    """The files under the rules folder at one commit, by repository path."""

    sha: str
    folder: str
    files: dict[str, bytes]
    ignored: list[str] = field(default_factory=list)


def inside(path: str, folder: str) -> bool:
    parts = PurePosixPath(path)
    return ".." not in parts.parts and parts.is_relative_to(PurePosixPath(folder))


def read_commit(ops: RepositoryOps, project: str, sha: str, folder: str) -> CommitFiles:
    """Every file under `folder` at `sha`; refuses a set GitLab should not make us load.

    Raises RulesRefused for too many files, a file over 1 MiB or a symbolic link, and lets
    GitLab's errors (unreachable, no access) through to the caller.
    """
    try:
        entries = ops.tree(project, sha, folder, limit=MAX_FILES)
    except gitlab.exceptions.GitlabError as exc:
        if exc.response_code != 404:
            raise
        # The project answered (its branch was read): the folder is what is missing.
        raise RulesRefused([f"{folder}: no such folder at commit {sha[:12]}"]) from exc
    blobs = [e for e in entries if e.get("type") == "blob"]
    if len(blobs) > MAX_FILES:
        raise RulesRefused(
            [f"{folder}: more than {MAX_FILES} files; the rules folder holds at most {MAX_FILES}"]
        )
    errors: list[str] = []
    ignored: list[str] = []
    files: dict[str, bytes] = {}
    for entry in blobs:
        path = str(entry["path"])
        if not inside(path, folder):
            ignored.append(f"{path}: outside {folder}/, ignored")
            continue
        if entry.get("mode") == SYMLINK_MODE:
            errors.append(f"{path}: a symbolic link; commit the file itself into {folder}/")
            continue
        size, data = ops.file(project, path, sha)
        if max(size, len(data)) > MAX_FILE_BYTES:
            errors.append(f"{path}: {max(size, len(data))} bytes, over the 1 MiB limit of a file")
            continue
        files[path] = data
    ignored += [f"{e['path']}: a submodule, ignored" for e in entries if e.get("type") == "commit"]
    if errors:
        raise RulesRefused(errors)
    return CommitFiles(sha=sha, folder=folder, files=files, ignored=ignored)


@contextmanager
def materialized(commit: CommitFiles) -> Iterator[Path]:
    """A private folder holding the files at their repository paths; its rules folder."""
    with tempfile.TemporaryDirectory(prefix="hooks-rules-") as root:
        base = Path(root)
        for path, data in commit.files.items():
            target = base / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        folder = base / commit.folder
        folder.mkdir(parents=True, exist_ok=True)
        yield folder


def _relative(text: str, root: Path) -> str:
    return text.replace(f"{root}/", "")


def _load(folder: Path, commit: CommitFiles, approval_setting: str | None) -> RuleSet:
    root = folder.parents[len(PurePosixPath(commit.folder).parts) - 1]
    try:
        ruleset = load_rules(
            folder, version=commit.sha, origin="gitlab", approval_setting=approval_setting
        )
    except RuleErrors as exc:
        raise RulesRefused([_relative(str(e), root) for e in exc.errors]) from exc
    if not ruleset.rules:
        count = len(rule_files(folder))
        problem = (
            f"no rules in {count} file(s); a rule file holds a 'rules:' list"
            if count
            else "no rule files (*.yaml, *.yml) in this folder"
        )
        raise RulesRefused([str(RuleError(commit.folder, 0, None, problem))])
    return ruleset


def _repository_paths(ruleset: RuleSet, folder: Path, commit: CommitFiles) -> RuleSet:
    root = folder.parents[len(PurePosixPath(commit.folder).parts) - 1]
    sources = {
        name: replace(ref, file=_relative(ref.file, root)) for name, ref in ruleset.sources.items()
    }
    return replace(ruleset, sources=sources)


def validate(commit: CommitFiles, approval_setting: str | None = None) -> RuleSet:
    """The rule set of a commit, or RulesRefused with every error as `hooks check` names it.

    `approval_setting`: HOOKS_APPROVAL_PROJECT as the service read it (`.env` included)."""
    with materialized(commit) as folder:
        return _repository_paths(_load(folder, commit, approval_setting), folder, commit)


def validate_and_test(
    commit: CommitFiles, approval_setting: str | None = None
) -> tuple[RuleSet, list[ExampleResult]]:
    """The rule set of a commit and the result of every rule's `examples:`."""
    with materialized(commit) as folder:
        ruleset = _load(folder, commit, approval_setting)
        root = folder.parents[len(PurePosixPath(commit.folder).parts) - 1]
        # Examples read their fixtures from the folder: run them before it goes.
        results = [
            replace(r, problems=[_relative(p, root) for p in r.problems])
            for r in run_examples(ruleset)
        ]
        return _repository_paths(ruleset, folder, commit), results
