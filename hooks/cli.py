"""The `hooks` command line: one sub-command per task an operator or team member does."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from hooks.rules import cli as rules_cli
from hooks.testing import cli as testing_cli


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="hooks", description="GitLab sprint automation: webhooks in, rules, API out."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    rules_cli.register(sub)
    testing_cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
