"""`hooks install-webhook`: register this service's webhook on a GitLab project or group, once."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import gitlab
import structlog
from gitlab.v4.objects import Group, Project

from hooks.service.config import Settings
from hooks.service.logs import configure_logging
from hooks.storage.store import open_store
from hooks.storage.watch import WatchStore

log = structlog.get_logger()

DEFAULT_SECRET_ENV = "HOOKS_WEBHOOK_SECRET"

# The events the rules act on are on; everything else is off so GitLab sends us nothing to drop.
WANTED_EVENTS: dict[str, bool] = {
    "issues_events": True,
    "confidential_issues_events": True,
    "releases_events": True,
    "milestone_events": True,
    "push_events": False,
    "tag_push_events": False,
    "merge_requests_events": False,
    "note_events": True,  # comments: commands to the bot, `note` triggers
    "confidential_note_events": True,  # internal comments, comments on confidential issues
    "emoji_events": True,
    "job_events": False,
    "pipeline_events": False,
    "wiki_page_events": False,
    "deployment_events": False,
    "enable_ssl_verification": True,
}

# The rules project (HOOKS_RULES_PROJECT) also sends its pushes (the rules go live) and merge
# requests (each gets the rules check and preview).
RULES_PROJECT_EVENTS = ("push_events", "merge_requests_events")

Action = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class InstallResult:
    """What `ensure_webhook` did to which hook; `changed` names the settings it corrected."""

    action: Action
    hook_id: int
    target: str
    changed: tuple[str, ...] = ()
    alert_status: str = "executable"
    kind: str = "project"

    @property
    def message(self) -> str:
        """One line for the operator."""
        if self.action == "created":
            return f"created hook {self.hook_id} on {self.target}"
        if self.action == "updated":
            return f"updated hook {self.hook_id} on {self.target}: {', '.join(self.changed)}"
        return f"hook {self.hook_id} on {self.target} already up to date"

    @property
    def warning(self) -> str | None:
        """Set when GitLab has disabled the hook after failed deliveries: nothing arrives."""
        if self.alert_status in ("executable", ""):
            return None
        return (
            f"hook {self.hook_id} on {self.target} is {self.alert_status.replace('_', ' ')} by"
            " GitLab after failed deliveries; re-enable it with 'Test' in the hook settings"
        )


class TargetNotFound(LookupError):
    """Neither a project nor a group has the given path (or the token cannot see it)."""


def find_target(gl: gitlab.Gitlab, path: str) -> Project | Group:
    """The project at `path`, else the group at `path`."""
    try:
        return gl.projects.get(path)
    except gitlab.exceptions.GitlabGetError as exc:
        if exc.response_code != 404:
            raise
    try:
        return gl.groups.get(path)
    except gitlab.exceptions.GitlabGetError as exc:
        if exc.response_code != 404:
            raise
    raise TargetNotFound(f"no project or group {path!r} visible to this token")


def wanted_events(owner: Project | Group, rules_project: str) -> dict[str, bool]:
    """The hook's settings: WANTED_EVENTS, plus pushes and merge requests on the rules project."""
    wanted = dict(WANTED_EVENTS)
    attrs = owner.attributes
    is_rules = isinstance(owner, Project) and rules_project.strip("/").lower() in (
        str(attrs.get("id")),
        str(attrs.get("path_with_namespace", "")).lower(),
    )
    if is_rules:
        wanted.update(dict.fromkeys(RULES_PROJECT_EVENTS, True))
    return wanted


def _differences(hook: Any, wanted: dict[str, bool]) -> dict[str, bool]:
    """The wanted settings this hook has otherwise.

    Only settings the server reports are compared: an older GitLab (or a group hook) that lacks a
    flag would otherwise look different on every run and be rewritten forever.
    """
    current = hook.attributes
    return {k: v for k, v in wanted.items() if k in current and current[k] is not v}


def ensure_webhook(
    gl: gitlab.Gitlab,
    target: str,
    url: str,
    secret: str,
    *,
    update_token: bool = False,
    rules_project: str = "",
) -> InstallResult:
    """Create the webhook on `target`, or correct the one with the same URL; no write if right.

    GitLab never returns a hook's token, so an existing hook's token is only rewritten when its
    settings differ anyway or when `update_token` asks for it (after a secret rotation).
    """
    owner = find_target(gl, target)
    name = str(owner.attributes.get("path_with_namespace") or owner.attributes["full_path"])
    kind = "group" if isinstance(owner, Group) else "project"
    wanted = wanted_events(owner, rules_project) if rules_project else WANTED_EVENTS
    existing = next((h for h in owner.hooks.list(get_all=True) if h.url == url), None)
    if existing is None:
        hook = owner.hooks.create({"url": url, "token": secret, **wanted})
        log.info("webhook.created", target=name, hook_id=hook.id, url=url)
        return InstallResult("created", int(hook.id), name, kind=kind)
    changes: dict[str, Any] = dict(_differences(existing, wanted))
    status = str(existing.attributes.get("alert_status") or "executable")
    if not changes and not update_token:
        return InstallResult("unchanged", int(existing.id), name, alert_status=status, kind=kind)
    changed = tuple(sorted(changes)) + (("token",) if update_token else ())
    # GitLab requires the URL on every edit of a hook.
    owner.hooks.update(existing.id, {"url": url, **changes, "token": secret})
    log.info("webhook.updated", target=name, hook_id=existing.id, url=url, changed=changed)
    return InstallResult("updated", int(existing.id), name, changed, status, kind)


def _secret(settings: Settings, env_name: str) -> str | None:
    """The first secret of a comma-separated rotation list: the one GitLab should send."""
    if env_name == DEFAULT_SECRET_ENV:
        secrets = [s.decode() for s in settings.webhook_secrets]
    else:
        secrets = [s.strip() for s in os.environ.get(env_name, "").split(",") if s.strip()]
    return secrets[0] if secrets else None


def _scrub(text: str, secrets: list[str]) -> str:
    for value in secrets:
        text = text.replace(value, "***")
    return text


async def record_hook(database_url: str, result: InstallResult, url: str) -> None:
    """Remember the hook in the service database, so the watchdog and the sweep watch it."""
    store = open_store(database_url)
    try:
        await store.migrate()
        await WatchStore(store).record_hook(
            result.target, result.hook_id, datetime.now(UTC), kind=result.kind, url=url
        )
    finally:
        await store.close()


def cmd_install_webhook(args: argparse.Namespace) -> int:
    """Register or update the webhook and print what was done."""
    settings = Settings()
    if settings.gitlab_token is None:
        print(
            "hooks: HOOKS_GITLAB_TOKEN is not set; it is needed to register a webhook",
            file=sys.stderr,
        )
        return 1
    secret = _secret(settings, args.secret_env)
    if secret is None:
        print(
            f"hooks: {args.secret_env} is not set; the webhook needs a secret token",
            file=sys.stderr,
        )
        return 1
    hidden = [*settings.secret_values(), secret]
    # Logs go to stderr, scrubbed of secrets: stdout carries only the one-line result.
    configure_logging(level=settings.log_level, fmt=settings.log_format, secrets=hidden)
    try:
        with gitlab.Gitlab(
            settings.gitlab_url,
            private_token=settings.gitlab_token.get_secret_value(),
            timeout=settings.gitlab_timeout_s,
        ) as gl:
            result = ensure_webhook(
                gl,
                args.target,
                args.url,
                secret,
                update_token=args.update_token,
                rules_project=settings.rules_project,
            )
    except TargetNotFound as exc:
        print(f"hooks: {exc}", file=sys.stderr)
        return 1
    except gitlab.exceptions.GitlabError as exc:
        status = f" ({exc.response_code})" if exc.response_code else ""
        print(f"hooks: GitLab refused{status}: {_scrub(str(exc), hidden)}", file=sys.stderr)
        return 1
    print(result.message)
    try:
        asyncio.run(record_hook(settings.database_url, result, args.url))
    except Exception as exc:  # registered on GitLab, but the watchdog will not know it
        print(
            f"hooks: registered, but not recorded for the watchdog ({type(exc).__name__}: "
            f"{_scrub(str(exc), hidden)}); set HOOKS_WATCHED_HOOKS={result.target}:"
            f"{result.hook_id}",
            file=sys.stderr,
        )
        return 1
    if result.warning:
        print(f"hooks: warning: {result.warning}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add `hooks install-webhook` to the command line."""
    parser = sub.add_parser(
        "install-webhook",
        help="register or update this service's webhook on a project or group",
        description="Creates the webhook, or corrects the one with the same URL; idempotent.",
    )
    parser.add_argument("target", metavar="GROUP_OR_PROJECT", help="path, e.g. demo/product")
    parser.add_argument("--url", required=True, help="where GitLab sends events (…/webhook)")
    parser.add_argument(
        "--secret-env",
        default=DEFAULT_SECRET_ENV,
        metavar="NAME",
        help="environment variable holding the secret; its first value is used",
    )
    parser.add_argument(
        "--update-token",
        action="store_true",
        help="rewrite the token of an existing hook (GitLab never shows it, so after rotation)",
    )
    parser.set_defaults(handler=cmd_install_webhook)
