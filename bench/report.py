"""One row per benchmark figure, and the summary table `python -m bench` prints at the end."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """A measured figure beside its same-run baseline and the issue's target."""

    number: int
    what: str
    figure: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    met: bool | None = None  # None: a figure without a target of its own


def load() -> str:
    """The machine's 1-minute load average and core count (the figures are only as quiet)."""
    one, _five, _fifteen = os.getloadavg()
    return f"load {one:.2f} on {os.cpu_count()} cores"


def table(rows: list[Row]) -> str:
    """The rows as an aligned text table, with met/missed per target."""
    header = ("#", "what", "figure", "baseline (same run)", "ratio", "target", "")
    cells = [
        (
            str(r.number),
            r.what,
            r.figure,
            r.baseline,
            r.ratio,
            r.target,
            "" if r.met is None else ("met" if r.met else "MISSED"),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in [header, *cells]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
