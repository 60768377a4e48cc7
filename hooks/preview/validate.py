"""Is a candidate rule set usable? Its files' names and sizes, `hooks check`, its examples.

Errors read as `hooks check` prints them (`file:line: rule 'x': message`), with the file
named as the candidate names it (`20-rollover.yaml`), never a temporary folder.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from hooks.rules.examples import run_examples
from hooks.rules.loader import RuleError, RuleErrors, load_rules, rule_files
from hooks.rules.model import RuleSet

MAX_FILE_BYTES = 1024 * 1024
MAX_FILES = 200
SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class FileRefusal:
    """A candidate file refused before reading it: over a limit, or a name not allowed."""

    name: str
    problem: str
    too_large: bool = False  # a size or count limit (HTTP 413), else a bad name (422)

    def __str__(self) -> str:
        return f"{self.name}: {self.problem}" if self.name else self.problem


@dataclass
class Validation:
    """The candidate's rules when they load and their examples pass; else every error."""

    rules: RuleSet | None = None
    errors: list[str] = field(default_factory=list)
    refusals: list[FileRefusal] = field(default_factory=list)
    examples_passed: int = 0

    @property
    def ok(self) -> bool:
        return self.rules is not None and not self.errors and not self.refusals


def name_problem(name: str) -> str | None:
    """Why a candidate file name is not allowed, or None."""
    path = PurePosixPath(name)
    if not name or name != name.strip() or "\\" in name or "\0" in name:
        return "not a plain file name"
    if path.is_absolute() or ".." in path.parts:
        return "must be relative, without '..'"
    if len(path.parts) != 1:
        return "must be a file directly in the rules folder (sub-folders are not read)"
    if path.suffix not in SUFFIXES:
        return "must end in .yaml or .yml"
    return None


def file_refusals(files: Mapping[str, str | bytes]) -> list[FileRefusal]:
    """Every name and size limit the candidate files break (checked before reading them)."""
    refusals = []
    if len(files) > MAX_FILES:
        refusals.append(FileRefusal("", f"{len(files)} files; at most {MAX_FILES}", True))
    for name, content in sorted(files.items()):
        problem = name_problem(name)
        if problem:
            refusals.append(FileRefusal(name, problem))
        size = len(content.encode() if isinstance(content, str) else content)
        if size > MAX_FILE_BYTES:
            refusals.append(
                FileRefusal(name, f"{size} bytes; a rule file holds at most {MAX_FILE_BYTES}", True)
            )
    return refusals


def validate_folder(folder: Path, *, shown_as: Path | None = None) -> Validation:
    """Load a rules folder as `hooks check` does and run every rule's examples."""
    try:
        rules = load_rules(folder)
    except RuleErrors as exc:
        return Validation(errors=[str(_shown(e, folder, shown_as)) for e in exc.errors])
    if not rules.rules:
        files = len(rule_files(folder))
        problem = (
            f"no rules in {files} file(s); a rule file holds a 'rules:' list"
            if files
            else "no rule files (*.yaml, *.yml) in this folder"
        )
        where = str(shown_as) if shown_as is not None else str(folder)
        return Validation(errors=[str(RuleError(where, 0, None, problem))])
    errors = []
    passed = 0
    for result in run_examples(rules):
        if result.ok:
            passed += 1
            continue
        source = rules.sources[result.rule]
        at = _shown(RuleError(source.file, source.line, result.rule, ""), folder, shown_as)
        errors += [
            str(RuleError(at.file, at.line, result.rule, f"example '{result.example}': {p}"))
            for p in result.problems
        ]
    if errors:
        return Validation(errors=errors, examples_passed=passed)
    return Validation(rules=rules, examples_passed=passed)


def validate_files(files: Mapping[str, str | bytes], *, support: Path | None = None) -> Validation:
    """Validate candidate files given by name (`{"20-rollover.yaml": text}`).

    `support` is the live rules folder: what it holds besides its rule files (the examples'
    `fixtures/`) is available to the candidate, as it is in a checkout.
    """
    refusals = file_refusals(files)
    if refusals:
        return Validation(refusals=refusals, errors=[str(r) for r in refusals])
    with tempfile.TemporaryDirectory(prefix="hooks-preview-") as tmp:
        folder = Path(tmp)
        if support is not None and support.is_dir():
            for item in support.iterdir():
                if item.is_dir():
                    shutil.copytree(item, folder / item.name)
                elif item.suffix not in SUFFIXES:
                    shutil.copy2(item, folder / item.name)
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            (folder / name).write_bytes(data)
        return validate_folder(folder, shown_as=Path(""))


def _shown(error: RuleError, folder: Path, shown_as: Path | None) -> RuleError:
    if shown_as is None:
        return error
    try:
        relative = Path(error.file).relative_to(folder)
    except ValueError:
        return error
    name = str(shown_as / relative) if str(relative) != "." else str(shown_as) or "."
    message = error.message.replace(f" (relative to {folder})", "")
    return RuleError(name, error.line, error.rule, message)
