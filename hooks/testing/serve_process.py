"""`hooks serve` as a real process, for the tests and benchmarks that need one: started on a
free port with an environment of its own, waited for until `/readyz` answers, stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp

from hooks.testing.waiting import eventually


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_environment(**settings: str) -> dict[str, str]:
    """This process's environment without any HOOKS_* of its own, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKS_")}
    env.update(settings)
    return env


class ServeProcess:
    """One `hooks serve` subprocess; its output is appended to `log_path`.

    `port`: a given one (e.g. the port of a process that died, which a hook still points at);
    a free one if None.
    """

    def __init__(self, env: dict[str, str], log_path: Path, port: int | None = None) -> None:
        self.port = free_port() if port is None else port
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hooks", "serve", "--port", str(self.port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    async def ready(self, within_s: float = 20, every_s: float = 0.05) -> None:
        async with aiohttp.ClientSession() as session:

            async def answers_ready() -> bool:
                assert self.proc.poll() is None, "hooks serve exited during start-up"
                async with session.get(self.url + "/readyz") as response:
                    return response.status == 200

            await eventually(
                answers_ready,
                within_s=within_s,
                every_s=every_s,
                ignoring=(aiohttp.ClientError,),
                what="hooks serve ready",
            )

    def stop(self, sig: int = signal.SIGKILL, within_s: float = 30) -> int:
        """Send `sig` (if it still runs) and wait; killed if it has not exited by `within_s`.
        Its exit status (negative: the signal that ended it)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=within_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout=within_s)
        self.log.close()
        return code
