"""`python -m bench [name ...]`: run the benchmarks (all by default) and print their tables."""

from __future__ import annotations

import importlib
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.report import Row, load, table

PREFERRED = ("simulator", "rules", "end_to_end", "rollover", "rate_budget", "intake", "preview")


def available() -> list[str]:
    """The bench_*.py modules present, in the preferred order, others after them by name."""
    found = sorted(p.stem.removeprefix("bench_") for p in Path(__file__).parent.glob("bench_*.py"))
    return [n for n in PREFERRED if n in found] + [n for n in found if n not in PREFERRED]


def main(argv: list[str]) -> int:
    benchmarks = available()
    names = argv or benchmarks
    unknown = [n for n in names if n not in benchmarks]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {', '.join(benchmarks)}")
        return 2
    began = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {load()}"
    print(f"# benchmarks, {began}, python {sys.version.split()[0]}")
    rows: list[Row] = []
    for name in names:
        started = time.perf_counter()
        print(f"\n## {name} ({load()})")
        rows += importlib.import_module(f"bench.bench_{name}").main() or []
        print(f"({time.perf_counter() - started:.0f} s)")
    print(f"\n# summary: started {began}; ended {datetime.now(UTC):%H:%M} UTC, {load()}")
    print(table(sorted(rows, key=lambda r: r.number)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
