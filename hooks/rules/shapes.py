"""What a template value is known to hold: the shapes `hooks check` follows paths through.

Built from the payload and reader models (`model_shape`) and from `vars:` (`value_shape`);
`merge` is what a value holds when a rule's triggers disagree.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from hooks.events import Change


class Shape:
    """What a template value is known to hold."""


@dataclass(frozen=True)
class Opaque(Shape):
    """Anything: a plain value, a date, a function's result, an unknown name."""


@dataclass(frozen=True)
class Fields(Shape):
    """A mapping with known keys (a dumped model, `vars`, `rule`)."""

    fields: dict[str, Shape] = field(default_factory=dict)
    payload: bool = False  # a webhook payload model: GitLab may send fields it does not name


@dataclass(frozen=True)
class ListOf(Shape):
    item: Shape


@dataclass(frozen=True)
class MapOf(Shape):
    """A mapping whose keys are data (e.g. `event.changes`): any key, values of one shape."""

    value: Shape


@dataclass(frozen=True)
class Absent(Shape):
    """Never set for the rule's triggers (None or empty); `reason` says when it is."""

    reason: str


ANY = Opaque()


def model_shape(model: type[BaseModel]) -> Fields:
    """The keys of `model.model_dump(by_alias=True)` with the shape of each value."""
    return Fields(
        {
            (f.alias or name): _annotation_shape(f.annotation)
            for name, f in model.model_fields.items()
        },
        payload=model.model_config.get("extra") == "allow" and model is not Change,
    )


def _annotation_shape(annotation: Any) -> Shape:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _annotation_shape(args[0])
    if origin in (typing.Union, types.UnionType):
        shapes = [_annotation_shape(a) for a in args if a is not type(None)]
        return merge_all(shapes) if shapes else ANY
    if origin is list and args:
        return ListOf(_annotation_shape(args[0]))
    if origin is dict and len(args) == 2:
        return MapOf(_annotation_shape(args[1]))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_shape(annotation)
    return ANY


def value_shape(value: Any) -> Shape:
    """The shape of a plain value (a `vars:` entry): mappings by their keys."""
    if isinstance(value, dict):
        return Fields({str(k): value_shape(v) for k, v in value.items()})
    if isinstance(value, list):
        return ListOf(ANY)
    return ANY


def merge(a: Shape, b: Shape) -> Shape:
    """What a value holds when it may be either (a rule with several triggers)."""
    if isinstance(a, Absent):
        return b
    if isinstance(b, Absent):
        return a
    if isinstance(a, Fields) and isinstance(b, Fields):
        keys = {**a.fields, **b.fields}
        return Fields(
            {
                k: merge(a.fields[k], b.fields[k]) if k in a.fields and k in b.fields else v
                for k, v in keys.items()
            },
            payload=a.payload or b.payload,
        )
    if isinstance(a, ListOf) and isinstance(b, ListOf):
        return ListOf(merge(a.item, b.item))
    if isinstance(a, MapOf) and isinstance(b, MapOf):
        return MapOf(merge(a.value, b.value))
    return a if a == b else ANY


def merge_all(shapes: list[Shape]) -> Shape:
    result = shapes[0]
    for shape in shapes[1:]:
        result = merge(result, shape)
    return result
