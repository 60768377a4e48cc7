"""The package's shape: no import circles, a short top level, modules a reader can take in.

The import graph is built from the source (ast over every file of `hooks/`), not by importing
it, so an import inside a function or under `TYPE_CHECKING` counts as much as one at the top:
a circle hidden in a function is still a circle a reader has to untangle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import hooks

PACKAGE = Path(hooks.__file__).parent
TOP_LEVEL_LIMIT = 12
LINE_LIMIT = 400

# Modules allowed over LINE_LIMIT, each with why (none today). An entry whose file is back
# under the limit fails the test (remove it); one whose file is gone is ignored.
OVER_LIMIT: dict[str, str] = {}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(root: Path) -> dict[str, set[str]]:
    """Each module of the package `root` and the package's modules it imports.

    Importing `a.b.c` runs `a/__init__.py` and `a/b/__init__.py` first, so an import also
    depends on every package above the module it names."""
    files = {module_name(p, root): p for p in root.rglob("*.py")}

    def with_parents(name: str) -> set[str]:
        found = set()
        while name:
            if name in files:
                found.add(name)
            name = name.rpartition(".")[0]
        return found

    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    deps |= with_parents(alias.name)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join([*base, node.module] if node.module else base)
                else:
                    source = node.module or ""
                deps |= with_parents(source)
                for alias in node.names:  # `from pkg import module`
                    deps |= with_parents(f"{source}.{alias.name}")
        deps.discard(name)
        graph[name] = deps
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every set of modules that import each other, directly or around (Tarjan's SCCs)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in sorted(graph[node]):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circles() -> None:
    found = circles(import_graph(PACKAGE))
    assert found == [], "modules importing each other in a circle:\n" + "\n".join(
        " <-> ".join(c) for c in found
    )


def test_the_circle_finder_finds_circles(tmp_path: Path) -> None:
    """The check above is not vacuous: a lazy import back, a package's `__init__` importing
    a module that imports its sibling, and a `TYPE_CHECKING` import are all circles."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "app.py").write_text("from pkg.routes import handler\n")
    (pkg / "routes.py").write_text("def handler():\n    from pkg.app import X\n")
    (pkg / "sub" / "__init__.py").write_text("from pkg.sub import views\n")
    (pkg / "sub" / "views.py").write_text("from . import charts\n")
    (pkg / "sub" / "charts.py").write_text("")
    (pkg / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.b\n"
    )
    (pkg / "b.py").write_text("from pkg import a\n")
    (pkg / "fine.py").write_text("import pkg.sub.charts\n")
    assert circles(import_graph(pkg)) == [
        ["pkg.a", "pkg.b"],
        ["pkg.app", "pkg.routes"],
        ["pkg.sub", "pkg.sub.views"],
    ]


def test_top_level_is_short() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= TOP_LEVEL_LIMIT, (
        f"{len(top)} modules directly in hooks/ (at most {TOP_LEVEL_LIMIT}); put new ones in "
        f"the package of the stage they belong to: {top}"
    )


def test_modules_are_short() -> None:
    lines = {
        p.relative_to(PACKAGE).as_posix(): len(p.read_text().splitlines())
        for p in PACKAGE.rglob("*.py")
    }
    too_long = {
        path: n for path, n in sorted(lines.items()) if n > LINE_LIMIT and path not in OVER_LIMIT
    }
    assert too_long == {}, f"modules over {LINE_LIMIT} lines: split them"
    stale = [path for path in OVER_LIMIT if path in lines and lines[path] <= LINE_LIMIT]
    assert stale == [], f"back under {LINE_LIMIT} lines, remove from OVER_LIMIT: {stale}"


def test_every_folder_of_modules_is_a_package() -> None:
    """A folder without `__init__.py` imports in a checkout but is left out of `pip install .`."""
    folders = {p.parent for p in PACKAGE.rglob("*.py")}
    missing = sorted(
        str(f.relative_to(PACKAGE)) for f in folders if not (f / "__init__.py").exists()
    )
    assert missing == [], f"folders of modules without __init__.py: {missing}"
