"""A GitLab simulator: the core with a seed loaded, served over HTTP; runs in a thread.

Tests, benchmarks and `hooks simulate` share it. python-gitlab talks to it unchanged.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from hooks.testing import (
    sim_commands,
    sim_hooks,
    sim_members,
    sim_milestones,
    sim_releases,
    sim_rest,
    sim_statuses,
    sim_work_items,
)
from hooks.testing.sim_faults import middleware
from hooks.testing.sim_http import ApiError, json_errors
from hooks.testing.sim_repo_api import SimRepoHelpers, folder_files
from hooks.testing.sim_seed import when
from hooks.testing.sim_seed_demo import demo_seed
from hooks.testing.sim_state import BASE_URL


class Simulator(SimRepoHelpers):
    """One simulated GitLab instance: the core, its seed, its HTTP app."""

    def __init__(
        self,
        seed: dict[str, Any] | None = None,
        *,
        token: str = "sim-token",
        today: date | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(token=token, today=today, now=now)
        self.load(seed if seed is not None else demo_seed(self.today), token)

    # -- seed ------------------------------------------------------------------

    def load(self, seed: dict[str, Any], token: str) -> None:
        """Fill the state from a seed (see sim_seed's docstring for the format)."""
        s, today = self.state, self.today
        users = seed.get("users") or [{"username": "hooks-bot"}]
        for i, spec in enumerate(users):
            # The first user is the bot; it answers to `token` unless the seed says otherwise.
            uid = s.add_user(
                spec["username"],
                spec.get("name"),
                spec.get("token") or (token if i == 0 else None),
                spec.get("id"),
            )
            if spec.get("read_only"):  # a token that may read but not write: 403 on writes
                s.users[uid]["read_only"] = True
            if spec.get("no_access"):  # projects this user cannot see: 404, as GitLab
                s.users[uid]["no_access"] = list(spec["no_access"])
            if spec.get("token_expires_at"):  # GET /personal_access_tokens/self
                s.users[uid]["token_expires_at"] = when(spec["token_expires_at"], today)
        if token not in s.tokens:
            s.tokens[token] = 1
        for spec in seed.get("groups") or []:
            s.add_group(spec["path"], spec.get("description", ""), spec.get("id"))
            if spec.get("plan") == "free":  # the status widget is Premium and Ultimate
                s.free_namespaces.add(spec["path"].split("/", 1)[0])
        for spec in seed.get("statuses") or []:
            if "/" in spec["group"]:  # as GitLab's settings: top-level groups only
                raise ValueError(f"status {spec['name']!r}: {spec['group']} is not top-level")
            sim_statuses.add_custom(self, spec["group"], spec)
        for spec in seed.get("projects") or []:
            pid = s.add_project(spec["path"], spec.get("id"))
            s.projects[pid]["description"] = spec.get("description", "")
            s.projects[pid]["default_branch"] = spec.get("default_branch") or "main"
        for spec in seed.get("labels") or []:
            self._add_label(spec)
        for spec in seed.get("milestones") or []:
            owner = s.group(spec["group"]) if spec.get("group") else s.project(spec["project"])
            if owner is not None and sim_milestones.title_taken(self, spec["title"], owner):
                raise ValueError(
                    f"milestone {spec['title']!r} of {spec.get('group') or spec['project']}: "
                    "the title is already used by the project or its group (as GitLab refuses)"
                )
            self._add_milestone(spec, today)
        for spec in seed.get("iterations") or []:
            sim_work_items.add_iteration(self, spec)
        for spec in seed.get("issues") or []:
            project = s.project(spec["project"])
            assert project is not None, f"seed issue in unknown project {spec['project']}"
            author = s.user_by_name(spec.get("author", users[0]["username"]))
            milestone = self._milestone_by_title(
                project, spec.get("milestone"), spec.get("milestone_owner")
            )
            issue = self.create_issue(
                project,
                {
                    "title": spec["title"],
                    "description": spec.get("description", ""),
                    "labels": spec.get("labels", []),
                    "milestone_id": milestone["id"] if milestone else None,
                    "assignee_ids": [s.user_by_name(u)["id"] for u in spec.get("assignees", [])],  # type: ignore[index]
                    "due_date": when(spec.get("due_date"), today),
                    "confidential": spec.get("confidential", False),
                    **sim_work_items.seeded_issue_fields(self, project, spec),
                },
                author_id=author["id"] if author else 1,
                notify=False,
                iid=spec.get("iid"),
                issue_id=spec.get("id"),
            )
            if spec.get("state") == "closed":
                issue["state"], issue["closed_at"] = "closed", issue["updated_at"]
            if spec.get("status"):
                status = sim_statuses.by_name(self, issue, spec["status"])
                if status is None:
                    raise ValueError(f"seed issue {spec['title']!r}: no status {spec['status']!r}")
                issue.update(sim_statuses.status_changes(issue, status))
                if issue["state"] == "closed":
                    issue["closed_at"] = issue["updated_at"]
        sim_members.load_members(self, seed.get("members") or [])
        for spec in seed.get("releases") or []:
            project = s.project(spec["project"])
            assert project is not None, f"seed release in unknown project {spec['project']}"
            sim_releases.add_release(self, project, {**spec, "tag_name": spec["tag"]})
        for spec in seed.get("repositories") or []:
            self._seed_repository(spec)

    def _seed_repository(self, spec: dict[str, Any]) -> None:
        """A seed's `repositories` entry: a branch's files, inline and/or from a folder."""
        files: dict[str, str | bytes | None] = dict(spec.get("files") or {})
        if spec.get("from_dir"):
            files.update(folder_files(spec["from_dir"], str(spec.get("prefix") or "")))
        try:
            self.seed_repository(
                spec["project"],
                files,
                spec.get("branch"),
                message=spec.get("message") or "Add files",
                exact=True,
            )
        except ApiError as exc:  # what GitLab would refuse, e.g. a path outside the repository
            raise ValueError(f"repository {spec['project']}: {exc.body}") from None

    def add_hook(
        self,
        url: str,
        token: str | None = None,
        *,
        project: str | None = None,
        group: str | None = None,
        **events: bool,
    ) -> int:
        """Register a webhook as `POST /projects/:id/hooks` would; returns its id."""
        with self.lock:
            hook = sim_hooks.new_hook(
                self,
                {
                    "url": url,
                    "token": token,
                    "issues_events": True,
                    "confidential_issues_events": True,
                    "releases_events": True,
                    "milestone_events": True,
                    **events,
                },
                project=self.state.project(project) if project else None,
                group=self.state.group(group) if group else None,
            )
            return int(hook["id"])

    def add_member(
        self, user: str, access: int | str, *, project: str = "", group: str = ""
    ) -> None:
        """Make `user` a direct member of a project or group with an access level (a number or
        a role name such as `developer`)."""
        with self.lock:
            spec = {"user": user, "access_level": access, "project": project, "group": group}
            sim_members.load_members(self, [spec])

    # -- the app ---------------------------------------------------------------

    def who(self, request: web.Request) -> str | None:
        token = request.headers.get("PRIVATE-TOKEN")
        auth = request.headers.get("Authorization", "")
        if token is None and auth.startswith("Bearer "):
            token = auth[7:]
        uid = self.state.tokens.get(token or "")
        return self.state.users[uid]["username"] if uid else None

    async def _rebase(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        # State keeps URLs under a placeholder host; answers carry the address really served.
        response: web.StreamResponse = await handler(request)
        # A file's raw bytes are the file's, whatever URL they mention.
        json = isinstance(response, web.Response) and response.content_type == "application/json"
        if json and isinstance(response, web.Response) and response.body and self.url:
            raw = response.body
            if isinstance(raw, bytes) and BASE_URL.encode() in raw:
                response.body = raw.replace(BASE_URL.encode(), self.url.encode())
        return response

    def app(self) -> web.Application:
        """The aiohttp application speaking the REST and GraphQL subset."""
        application = web.Application(
            middlewares=[
                middleware(self.faults, self.requests, self._requests_lock, self.who),
                json_errors(),
                _rebase_middleware(self),
            ]
        )
        sim_rest.add_routes(application, self)
        sim_commands.add_routes(application, self)

        async def closing(_app: web.Application) -> Any:
            yield
            await self.webhooks.close()

        application.cleanup_ctx.append(closing)
        return application


def _rebase_middleware(sim: Simulator) -> Middleware:
    @web.middleware
    async def rebase(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        return await sim._rebase(request, handler)

    return rebase


class SimulatorThread:
    """Runs a simulator on 127.0.0.1 in its own thread and event loop."""

    def __init__(self, sim: Simulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sim = sim
        self.host = host
        self.port = port
        self.loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(
            target=self.loop.run_forever, daemon=True, name="gitlab-sim"
        )

    def start(self) -> str:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self.sim.url

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.sim.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.sim.url = f"http://{self.host}:{port}"
        self.sim.webhooks.public_url = self.sim.url
        self.sim.webhooks.loop = self.loop
        self.sim.webhooks.flush()

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    def __enter__(self) -> Simulator:
        self.start()
        return self.sim

    def __exit__(self, *_exc: object) -> None:
        self.stop()
