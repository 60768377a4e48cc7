"""Helpers of the fault tests: deliveries sent like GitLab with a 1 s patience, and a database
link that can be cut."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.conftest import SECRET

ACK_PATIENCE_S = 1.0  # the bound on answering POST /webhook


@dataclass
class Acks:
    """Every POST /webhook made and how it was answered, with a client that waits 1 s."""

    answers: list[tuple[int | str, float]] = field(default_factory=list)

    async def post(self, session: aiohttp.ClientSession, url: str, body: bytes) -> int | None:
        """Send one delivery; its id when it was acknowledged with 202."""
        headers = {
            "X-Gitlab-Event": "Issue Hook",
            "X-Gitlab-Token": SECRET,
            "Idempotency-Key": str(uuid.uuid4()),
        }
        started = time.perf_counter()
        status: int | str
        delivery: int | None = None
        try:
            async with session.post(
                url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=ACK_PATIENCE_S),
            ) as response:
                status = response.status
                answer = await response.json()
                if status == 202:
                    delivery = int(answer["delivery"])
        except (TimeoutError, aiohttp.ClientError) as exc:
            status = type(exc).__name__
        self.answers.append((status, time.perf_counter() - started))
        return delivery

    @property
    def statuses(self) -> set[int | str]:
        return {status for status, _ in self.answers}

    @property
    def slowest_s(self) -> float:
        return max((seconds for _, seconds in self.answers), default=0.0)


class CuttableLink:
    """A loopback TCP proxy in its own thread: `cut()` drops every connection and refuses
    new ones, as a network partition or a stopped server would; `restore()` ends it."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.cuts = 0

    def __enter__(self) -> CuttableLink:
        self._thread.start()
        self._run(self._listen(0))
        return self

    def __exit__(self, *_exc: object) -> None:
        self._run(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def cut(self) -> None:
        self.cuts += 1
        self._run(self._close())

    def restore(self) -> None:
        self._run(self._listen(self.port))

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _listen(self, port: int) -> None:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        if server is not None:
            await server.wait_closed()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
        self._writers -= {writer, up_writer}
