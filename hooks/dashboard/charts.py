"""Geometry of the dashboard's charts; the template draws them as inline SVG (no script)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT, PAD = 560, 180, 32
COLOURS = {"on_track": "#1f883d", "needs_attention": "#bf8700", "at_risk": "#cf222e"}


@dataclass(frozen=True)
class Line:
    name: str
    colour: str
    points: str  # "x,y x,y ..." for <polyline>
    last: int


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    lines: list[Line]
    y_ticks: list[tuple[float, int]]  # (y, value)
    x_ticks: list[tuple[float, str]]  # (x, label)
    baseline: float


def _scale_max(values: Sequence[int]) -> int:
    return max([*values, 1])


def line_chart(days: Sequence[date], series: dict[str, list[int]]) -> LineChart:
    """One polyline per series over the days, sharing a y axis from 0."""
    top = _scale_max([v for values in series.values() for v in values])
    plot_w, plot_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    step = plot_w / max(len(days) - 1, 1)

    def x(i: int) -> float:
        return round(PAD + i * step, 1)

    def y(v: int) -> float:
        return round(HEIGHT - PAD - v / top * plot_h, 1)

    lines = [
        Line(
            name=name,
            colour=COLOURS.get(name, "#57606a"),
            points=" ".join(f"{x(i)},{y(v)}" for i, v in enumerate(values)),
            last=values[-1] if values else 0,
        )
        for name, values in series.items()
    ]
    ticks = sorted({0, top // 2, top})
    every = max(len(days) // 7, 1)
    x_ticks = [(x(i), f"{d:%m-%d}") for i, d in enumerate(days) if i % every == 0]
    return LineChart(WIDTH, HEIGHT, lines, [(y(v), v) for v in ticks], x_ticks, y(0))


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    y: float
    length: float


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    bars: list[Bar]
    label_width: int


def bar_chart(items: Sequence[tuple[str, int]], *, row: int = 22) -> BarChart:
    """Horizontal bars, one row per (label, value)."""
    label_width = 160
    top = _scale_max([v for _, v in items])
    room = WIDTH - label_width - PAD
    bars = [
        Bar(label, value, 8 + i * row, round(value / top * room, 1))
        for i, (label, value) in enumerate(items)
    ]
    return BarChart(WIDTH, 16 + len(items) * row, bars, label_width)
