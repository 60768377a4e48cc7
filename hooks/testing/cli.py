"""`hooks simulate`: the GitLab simulator as a command, for trying rules offline."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError


def cmd_simulate(args: argparse.Namespace) -> int:
    """Run the simulator until interrupted."""
    # Imported here: `hooks serve` loads this module for its command line only.
    from hooks.testing.simulator import Simulator, SimulatorThread

    seed = None
    if args.seed:
        try:
            seed = YAML(typ="safe").load(Path(args.seed).read_text(encoding="utf-8"))
        except (OSError, ValueError, YAMLError) as exc:
            print(f"hooks: cannot read seed {args.seed}: {exc}", file=sys.stderr)
            return 1
        if isinstance(seed, dict):
            _folders_beside(seed, Path(args.seed).parent)
    try:
        sim = Simulator(seed, token=args.token)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        print(
            f"hooks: seed {args.seed} is not a simulator state (format: hooks/testing/"
            f"sim_seed.py): {type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return 1
    if args.hook_url:
        add_hooks(sim, args.hook_url, args.hook_secret)
    if args.rate_limit:
        from hooks.testing.sim_faults import Fault

        sim.faults.add(Fault(rate_limit_per_minute=args.rate_limit))
    runner = SimulatorThread(sim, host=args.host, port=args.port)
    try:
        url = runner.start()
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        print(f"hooks: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr)
        return 1
    print(f"GitLab simulator at {url} (API {url}/api/v4), token {args.token}", flush=True)
    if args.hook_url:
        print(f"webhooks of every group and project go to {args.hook_url}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    runner.stop()
    if args.dump:
        YAML().dump(sim.dump(), Path(args.dump))
        print(f"state written to {args.dump}")
    return 0


def _folders_beside(seed: dict[str, Any], base: Path) -> None:
    """A repository's `from_dir` is relative to the seed file, wherever it is run from."""
    for spec in seed.get("repositories") or []:
        if isinstance(spec, dict) and spec.get("from_dir"):
            spec["from_dir"] = str(base / Path(str(spec["from_dir"])).expanduser())


def add_hooks(sim: Any, url: str, secret: str | None) -> None:
    """One hook per top-level group (GitLab sends it the events of every project below, and
    group milestones' events, which no project hook gets) and one per project outside groups;
    each event is delivered once. They get pushes and merge request events too (a rules
    project's), and comments and reactions, as install-webhook subscribes to them."""
    s = sim.state
    said = {
        "merge_requests_events": True,
        "note_events": True,
        "confidential_note_events": True,
        "emoji_events": True,
    }
    for group in list(s.groups.values()):
        if not group["parent_id"]:
            sim.add_hook(url, secret, group=group["full_path"], **said)
    for project in list(s.projects.values()):
        if s.project_group(project) is None:
            path = project["path_with_namespace"]
            sim.add_hook(url, secret, project=path, **said)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add `hooks simulate` to the `hooks` parser."""
    simulate = sub.add_parser("simulate", help="run the GitLab simulator (offline rule trials)")
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", type=int, default=9000)
    simulate.add_argument("--seed", metavar="FILE", help="YAML seed (default: the built-in demo)")
    simulate.add_argument("--token", default="sim-token", help="the bot's API token")
    simulate.add_argument("--hook-url", metavar="URL", help="send every project's webhooks here")
    simulate.add_argument("--hook-secret", metavar="SECRET", help="X-Gitlab-Token of those hooks")
    simulate.add_argument(
        "--rate-limit",
        type=int,
        metavar="N",
        help="API requests per minute per user, then 429 (GitLab's authenticated API throttle)",
    )
    simulate.add_argument("--dump", metavar="FILE", help="write the final state here on exit")
    simulate.set_defaults(handler=cmd_simulate)
