"""The `hooks` command line: one sub-command per task an operator or team member does."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import structlog
from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from hooks.catchup import cli as reconcile_cli
from hooks.gitlab import install
from hooks.preview import cli as preview_cli
from hooks.processing.worker import utcnow
from hooks.rules import cli as rules_cli
from hooks.schedules import cli as schedule_cli
from hooks.service import demo
from hooks.service.admin import uninstall_sighup
from hooks.service.app import StartupError, create_app
from hooks.service.config import Settings, settings_problems, unknown_settings
from hooks.service.logs import configure_logging
from hooks.service.stop_signals import STOP
from hooks.storage.engine import DatabaseUnusable, database_unusable
from hooks.storage.store import Store, open_store
from hooks.testing import cli as testing_cli

T = TypeVar("T")
Subparsers = argparse._SubParsersAction


def _with_store(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    async def run() -> T:
        store = open_store(settings.database_url)
        try:
            try:
                await store.migrate()
            except (DBAPIError, OSError) as exc:
                raise database_unusable(exc) from exc
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the web app and the worker until SIGTERM or SIGINT."""
    with STOP.caught():  # a stop signal from now on ends in a clean stop, never in a kill
        return _serve(args)


def _serve(args: argparse.Namespace) -> int:
    settings = Settings()
    configure_logging(
        level=settings.log_level, fmt=settings.log_format, secrets=settings.secret_values()
    )
    for name in unknown_settings(os.environ):
        structlog.get_logger("hooks.cli").warning("unknown setting ignored", variable=name)
    # Bound before anything starts: a busy port must not leave a half-started service
    # (migrations run, schedules caught up) behind its error.
    try:
        sock = _listen(args.host, args.port)
    except OSError as exc:
        # create_server appends the address to the system's reason; the line says it already.
        errno = exc.errno or 0
        reason = os.strerror(errno) if errno > 0 else exc.strerror or str(exc)
        print(f"hooks: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr)
        return 1
    with sock:
        try:
            app = create_app(settings)
            app.on_startup.append(_freeze_startup_objects)  # runs after the app's own start-up
            host, port = sock.getsockname()[:2]
            host = f"[{host}]" if ":" in host else host  # an IPv6 address, as URLs write it
            structlog.get_logger("hooks.cli").info("listening", url=f"http://{host}:{port}")
            asyncio.run(_run_until_stopped(app, sock, settings.shutdown_grace_s))
        except (StartupError, DatabaseUnusable) as exc:
            print(f"hooks: cannot start: {exc}", file=sys.stderr)
            return 1
    return 0


async def _run_until_stopped(app: web.Application, sock: socket.socket, grace_s: float) -> None:
    """Start the app, serve until the first stop signal, then drain and clean up.

    Unlike `web.run_app`, a stop signal never raises into whatever is running: start-up
    (migrations included) finishes, then the service drains; more signals are only logged.
    """
    stop = STOP.attach()
    try:
        runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=None,
            keepalive_timeout=75.0,
            shutdown_timeout=grace_s,
        )
        await runner.setup()  # the app's start-up: migrations, rules, scheduler, worker
        try:
            if not stop.is_set():
                await web.SockSite(runner, sock).start()
                await stop.wait()
        finally:
            await runner.cleanup()  # stops listening, drains, then the app's own clean-up
    finally:
        uninstall_sighup()
        STOP.detach()


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


async def _freeze_startup_objects(_app: web.Application) -> None:
    """Keep what start-up loaded (about 100,000 objects: modules, rules, the app) out of
    the garbage collector's full passes: each pass over them paused the event loop for
    50-400 ms under load, the tail of the webhook acknowledgement time."""
    gc.freeze()


def cmd_migrate(_args: argparse.Namespace) -> int:
    """Apply database migrations and exit."""
    settings = Settings()

    async def nothing(_store: Store) -> None:
        return None

    _with_store(settings, nothing)
    print(f"database at {settings.database_url.split('@')[-1]} is up to date")
    return 0


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines)


def cmd_deliveries(args: argparse.Namespace) -> int:
    """List stored deliveries, or show one with its audit trail."""
    settings = Settings()
    if args.show is not None:
        return _show_delivery(settings, args.show, as_json=args.json)

    async def work(store: Store) -> list[Any]:
        return await store.list_deliveries(status=args.status, limit=args.limit)

    found = _with_store(settings, work)
    if args.json:
        print(json.dumps([_delivery_dict(d) for d in found], indent=2, default=str))
        return 0
    rows = [
        [
            str(d.id),
            d.received_at.strftime("%Y-%m-%d %H:%M:%S"),
            d.kind or d.event_header,
            d.project or "-",
            d.status,
            str(d.attempts),
            (d.last_error or "")[:60],
        ]
        for d in found
    ]
    print(_table(rows, ["ID", "RECEIVED (UTC)", "KIND", "PROJECT", "STATUS", "TRIES", "ERROR"]))
    return 0


def _delivery_dict(d: Any) -> dict[str, Any]:
    return {
        "id": d.id,
        "received_at": d.received_at.isoformat(),
        "event": d.event_header,
        "kind": d.kind,
        "project": d.project,
        "status": d.status,
        "attempts": d.attempts,
        "last_error": d.last_error,
    }


def _show_delivery(settings: Settings, delivery_id: int, *, as_json: bool) -> int:
    async def work(store: Store) -> tuple[Any, list[dict[str, Any]]]:
        return await store.get_delivery(delivery_id), await store.audit_for(delivery_id=delivery_id)

    delivery, trail = _with_store(settings, work)
    if delivery is None:
        print(f"hooks: no delivery with id {delivery_id}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps({**_delivery_dict(delivery), "audit": trail}, indent=2, default=str))
        return 0
    info = _delivery_dict(delivery)
    versions = list(dict.fromkeys(line["rules_version"] for line in trail if line["rules_version"]))
    info["rules"] = ", ".join(versions) or None
    for key, value in info.items():
        print(f"{key:>12}: {value}")
    print()
    for line in trail:
        who = line["rule"] or line["subject"] or ""
        detail = json.dumps(line["detail"], sort_keys=True, default=str)
        when = f"{line['created_at']:%H:%M:%S}"
        print(f"  {when}  {line['kind']:<7} {line['outcome']:<12} {who}  {detail}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Queue a stored delivery to be processed again."""
    settings = Settings()
    queued = _with_store(settings, lambda store: store.replay(args.id, utcnow()))
    if not queued:
        print(f"hooks: delivery {args.id} is unknown or being processed right now", file=sys.stderr)
        return 1
    print(f"delivery {args.id} queued again; a running service picks it up")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="hooks", description="GitLab sprint automation: webhooks in, rules, API out."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the webhook service (web app and worker)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on")
    serve.set_defaults(handler=cmd_serve)

    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(handler=cmd_migrate)

    deliveries = sub.add_parser("deliveries", help="list stored deliveries or show one")
    deliveries.add_argument(
        "--status", choices=["pending", "processing", "done", "partial", "failed"]
    )
    deliveries.add_argument("--limit", type=int, default=50)
    deliveries.add_argument(
        "--show", type=int, metavar="ID", help="one delivery and its audit trail"
    )
    deliveries.add_argument("--json", action="store_true", help="print JSON")
    deliveries.set_defaults(handler=cmd_deliveries)

    replay = sub.add_parser("replay", help="process a stored delivery again")
    replay.add_argument("id", type=int)
    replay.set_defaults(handler=cmd_replay)

    rules_cli.register(sub)
    schedule_cli.register(sub)
    install.register(sub)
    reconcile_cli.register(sub)
    preview_cli.register(sub)
    demo.register(sub)
    testing_cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args)
    except ValidationError as exc:
        if exc.title != Settings.__name__:
            raise
        for line in settings_problems(exc):
            print(f"hooks: {line}", file=sys.stderr)
        return 2
    except (StartupError, DatabaseUnusable) as exc:
        print(f"hooks: {exc}", file=sys.stderr)
        return 1
    except DBAPIError as exc:  # whichever command opened it: unreachable, read-only, refused
        print(f"hooks: {database_unusable(exc)}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`hooks schema | head`): nothing left to say to it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:  # the machine said no (a connection refused, a file missing)
        print(f"hooks: {exc}", file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
