"""A mistake in a rule file, where it is (file and line), and what pydantic's complaint means.

A validation error is told as the rule writer sees it: at the line of the key (or the
deepest part of it that exists), with the keys allowed there and the nearest one to a typo.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from hooks.rules.model import Rule


@dataclass(frozen=True)
class RuleError:
    file: str
    line: int
    rule: str | None
    message: str

    def __str__(self) -> str:
        where = f"rule '{self.rule}': " if self.rule else ""
        at = f"{self.file}:{self.line}" if self.line else self.file  # 0: the whole file or folder
        return f"{at}: {where}{self.message}"


class RuleErrors(Exception):
    """Every error found in a rules folder, in file and line order."""

    def __init__(self, errors: list[RuleError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


def line_of(node: Any, path: list[Any]) -> int:
    """The 1-based line of the deepest node along `path` that exists."""
    line = getattr(getattr(node, "lc", None), "line", 0) + 1
    for part in path:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            break
    return line


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model that holds the key at the end of `loc` (walking pydantic's error path)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or current is None:
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {f.alias or n: f for n, f in current.model_fields.items()}
            if part in fields:
                current = _models_in(fields[part].annotation)
                continue
        if isinstance(current, list):
            current = next(
                (m for m in current if m.__name__ == part), current[0] if current else None
            )
    if isinstance(current, list):
        current = current[0] if current else None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _models_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list):
        found = [m for a in args for m in _flatten(_models_in(a))]
        return found[0] if len(found) == 1 else found
    return None


def _flatten(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


_UNION_TAGS = ("str", "int", "bool", "list[str]", "literal['clear']")


def _clean(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    # Drop pydantic's union-member tags ('CommentSpec', 'str', ...) from an error path.
    return tuple(
        p for p in loc if not (isinstance(p, str) and (p[:1].isupper() or p in _UNION_TAGS))
    )


def explain(
    file: Path, items: CommentedSeq, index: int, name: Any, exc: ValidationError
) -> list[RuleError]:
    found = [(_clean(tuple(e["loc"])), e) for e in exc.errors()]
    # When one union member goes deeper (a typo inside a mapping), its error is the useful
    # one; "Input should be a valid list" from the other member is noise.
    kept = [
        (loc, e)
        for loc, e in found
        if not any(len(other) > len(loc) and other[: len(loc)] == loc for other, _ in found)
    ]
    errors = []
    shown: set[tuple[int, str]] = set()
    for loc, error in kept:
        line = line_of(items, [index, *loc])
        message = _message(error, loc)
        if (line, message) in shown:
            continue
        shown.add((line, message))
        errors.append(RuleError(str(file), line, str(name) if name else None, message))
    return errors


def _message(error: Any, loc: tuple[Any, ...]) -> str:
    where = ".".join(str(p) for p in loc) or "rule"
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        model = _model_at(Rule, loc)
        allowed = [f.alias or n for n, f in model.model_fields.items()] if model else []
        near = difflib.get_close_matches(key, allowed, n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        return f"unknown key '{key}'{hint}; allowed: {', '.join(allowed)}"
    if kind == "missing":
        return f"required key '{loc[-1]}' is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"
