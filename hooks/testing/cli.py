"""Sub-commands of this package (placeholder until filled in)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this package's sub-commands to the `hooks` parser."""
