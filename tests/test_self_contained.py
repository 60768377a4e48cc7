"""A clone of the repository carries everything its code, tests, docs and deploy files read."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("hooks/", "tests/", "bench/", "rules/", "deploy/", ".ci/")
CHECKED_FILES = ("Makefile", "README.md", "pyproject.toml")

# `../x` written in a file, read from the file's own folder (as shells, compose and links do).
RELATIVE = re.compile(r"(?<![\w.])((?:\.\./)+[\w.\-/]*)")
# Path(__file__)... .parent / .parents[N] chains: how many folders up from the file.
FILE_PARENTS = re.compile(
    r"__file__\)(?:\.resolve\(\))?((?:\.parent\b)*)(?:\.parents\[(\d+)\])?((?:\.parent\b)*)"
)
# The folder holding the checkout (ROOT is what this code base calls the repository root).
ROOT_PARENT = re.compile(r"\bROOT\.parent\b")
# Absolute paths into one machine's folders.
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|home|Users)/[\w.\-]")


# Folders a checkout grows while it runs; never part of what it carries.
GROWN = {".git", ".venv", "var", "artifacts", "__pycache__", ".pytest_cache", ".mypy_cache"}


def listed_files() -> list[str]:
    """The files git tracks; in a copy without git (a tarball, CI's copy), every file."""
    if (ROOT / ".git").exists():
        return subprocess.run(
            ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.splitlines()
    return [
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*")
        if path.is_file() and not GROWN.intersection(path.relative_to(ROOT).parts)
    ]


def tracked_files() -> list[Path]:
    listed = listed_files()
    return [
        ROOT / name
        for name in listed
        if (name.startswith(CHECKED) or name in CHECKED_FILES)
        and name != "tests/test_self_contained.py"  # it spells the patterns it looks for
    ]


def references_outside(path: Path, text: str) -> list[str]:
    found = []
    for match in RELATIVE.finditer(text):
        ref = match.group(1).rstrip(".,")
        target = (path.parent / ref).resolve()
        if not target.is_relative_to(ROOT) or not target.exists():
            found.append(ref)
    depth = len(path.relative_to(ROOT).parts)  # folders up from the file to the root
    for match in FILE_PARENTS.finditer(text):
        before, index, after = match.groups()
        up = before.count(".parent") + (int(index) + 1 if index else 0) + after.count(".parent")
        if up > depth:
            found.append(match.group(0))
    found += [m.group(0) for m in ROOT_PARENT.finditer(text)]
    found += [m.group(0) for m in MACHINE_PATH.finditer(text)]
    return found


def test_no_tracked_file_refers_to_a_path_outside_the_repository() -> None:
    files = tracked_files()
    assert any(f.name == "conftest.py" for f in files)  # the listing found the checkout
    offenders = {}
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue  # binary, or deleted in the work tree
        if found := references_outside(path, text):
            offenders[str(path.relative_to(ROOT))] = found
    assert offenders == {}


def test_the_check_catches_each_kind_of_escape() -> None:
    conftest = ROOT / "tests" / "conftest.py"
    assert references_outside(conftest, 'Path("../sibling/fixtures")') == ["../sibling/fixtures"]
    assert references_outside(conftest, "Path(__file__).resolve().parents[1].parent") != []
    assert references_outside(conftest, "Path(__file__).parent.parent.parent") != []
    assert references_outside(conftest, 'open("/work/shared/x.json")') != []
    assert references_outside(conftest, 'ROOT.parent / "shared" / "x.json"') != []
    assert references_outside(ROOT / "deploy" / "README.md", "see ../sibling/DESIGN.md") != []


def test_references_inside_the_repository_pass() -> None:
    conftest = ROOT / "tests" / "conftest.py"
    assert references_outside(conftest, "Path(__file__).resolve().parents[1] / 'rules'") == []
    assert references_outside(ROOT / "deploy" / "README.md", "mounts ../rules read-only") == []
    assert references_outside(conftest, "GET .../hooks/:id/events") == []
