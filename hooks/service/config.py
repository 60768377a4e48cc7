"""Service configuration from HOOKS_* environment variables and a .env file."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from hooks.notify.targets import Target, parse_targets, secrets_of
from hooks.storage.engine import async_url


class Settings(BaseSettings):
    """Everything an operator can set; secrets are SecretStr so they never print."""

    model_config = SettingsConfigDict(
        env_prefix="HOOKS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Intake
    webhook_secret: SecretStr | None = Field(
        default=None, description="X-Gitlab-Token value(s), comma-separated for rotation."
    )
    webhook_signing_token: SecretStr | None = Field(
        default=None, description="Standard Webhooks signing token, 'whsec_<base64>'."
    )
    signature_tolerance_s: int = Field(default=300, gt=0)
    max_body_bytes: int = Field(default=5 * 1024 * 1024, gt=0)

    # GitLab
    gitlab_url: str = "https://gitlab.com"
    gitlab_token: SecretStr | None = None
    dry_run: bool = False
    gitlab_timeout_s: float = Field(default=10.0, gt=0)
    gitlab_rate_per_minute: int = Field(
        default=1500,
        gt=0,
        description="Request budget of the bot's account, below GitLab.com's 2,000/min; every "
        "replica on PostgreSQL shares it.",
    )
    gitlab_rate_window_s: int = Field(
        default=60,
        gt=0,
        le=3600,
        description="The window the shared budget counts in (aligned to Unix time, as GitLab's).",
    )
    gitlab_threads: int = Field(default=8, gt=0)
    gitlab_max_retries: int = Field(
        default=5, ge=0, description="Retries of one API call after 429, 5xx or a timeout."
    )
    health_status_mode: Literal["label", "native", "both"] = "label"
    # How long a top-level namespace's allowed work item statuses are kept (set_status, status).
    status_cache_s: float = Field(default=300.0, ge=0)
    ignore_own_events: bool = Field(
        default=True, description="Loop guard: events caused by the bot's user trigger no rules."
    )
    bot_username: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$",
        description="Whom commands in comments address (@name); default: the token's user.",
    )
    member_cache_s: float = Field(
        default=300.0, ge=0, description="How long a member's access level is reused."
    )
    subject_hourly_cap: int = Field(
        default=30, description="Most writes to one issue per hour; stops a runaway rule."
    )

    # Approvals (rules with `approve_above`)
    approval_project: str | None = Field(
        default=None,
        description="Project (path or id) where approval requests are opened; else the rules'"
        " `vars: approval_project`.",
    )
    approval_ttl_s: float = Field(
        default=86400.0, gt=0, description="An approval request not approved by then expires."
    )
    approvals_interval_s: float = Field(
        default=60.0, description="How often expired requests are closed; 0 turns it off."
    )

    # Storage and work
    database_url: str = "sqlite:///./var/hooks.db"
    rules_dir: Path = Path("./rules")
    # 0 is an intake-only process: it stores deliveries and leaves them to other replicas.
    worker_concurrency: int = Field(default=4, ge=0)
    lease_seconds: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=8, gt=0)
    retry_base_s: float = Field(default=2.0, gt=0)
    retry_cap_s: float = Field(default=600.0, gt=0)
    poll_interval_s: float = Field(default=1.0, gt=0)
    shutdown_grace_s: float = Field(default=10.0, ge=0)
    ready_max_pending_age_s: float = Field(default=900.0, gt=0)

    # Rules from a GitLab project (unset: the local HOOKS_RULES_DIR)
    rules_project: str = Field(
        default="", description="Path or id of the project whose repository holds the rules."
    )
    rules_ref: str = Field(default="", description="Branch to follow; default: the default one.")
    rules_path: str = Field(default="rules", description="Folder of the rules in that project.")
    rules_check_interval_s: float = Field(
        default=30.0,
        gt=0,
        description="How often each replica compares its rules with the live commit.",
    )

    # Watchdog and reconciliation (GitLab drops events while it has disabled a hook)
    watched_hooks: str = Field(
        default="", description="Hooks to watch besides those install-webhook recorded: PATH:ID,..."
    )
    watchdog_interval_s: float = Field(default=300.0, description="0 turns the watchdog off.")
    watchdog_reenable: bool = Field(
        default=False, description="Re-enable a disabled hook with GitLab's test delivery."
    )
    watchdog_test_trigger: str = "push_events"
    silence_after_s: float = Field(
        default=7200.0, description="No delivery this long in working hours while issues change."
    )
    working_hours: str = Field(default="mon-fri 09:00-17:00", description="In HOOKS_TIMEZONE.")
    reconcile_interval_s: float = Field(default=900.0, description="0 turns the sweep off.")
    reconcile_max_items: int = Field(default=500, description="Changes applied per sweep.")
    reconcile_lookback_s: float = Field(
        default=86400.0, description="First sweep of a scope with no delivery seen: how far back."
    )
    resend_per_minute: int = Field(
        default=5,
        ge=0,
        description="Failed deliveries asked to be resent per watched hook's project or group per"
        " minute (GitLab's own limit on the resend endpoint is 5); 0 turns resending off.",
    )
    resend_max_attempts: int = Field(
        default=3, gt=0, description="Resends of one delivery (one Idempotency-Key) at most."
    )

    # Guard rails
    alert_project: str | None = Field(
        default=None,
        description="Project the issue telling a paused rule's owner is opened in; unset: the"
        " project of the failing action's subject.",
    )

    # The team's chat and mail (`notify` steps name a target; its URL stays here)
    notify_targets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description=(
            'JSON {"name": "URL"}: slack+https://, mattermost+https://, teams+https://, '
            "smtp://, smtp+starttls:// or smtps://user:pass@host:port?from=ADDR&to=ADDR,..."
        ),
    )
    notify_timeout_s: float = Field(default=10.0, gt=0, description="Per message.")

    # Previewing a rule change (hooks preview, POST /admin/preview)
    preview_days: int = Field(
        default=14, gt=0, description="Days of recorded history a rule change is previewed on."
    )

    # Operations
    admin_token: SecretStr | None = None
    ui_token: SecretStr | None = Field(
        default=None, description="Read-only dashboard token: /ui without Replay."
    )
    ui_login_attempts: int = Field(
        default=10, gt=0, description="Failed dashboard sign-ins from one address per window."
    )
    ui_login_window_s: float = Field(
        default=600.0, gt=0, description="The window of HOOKS_UI_LOGIN_ATTEMPTS, in seconds."
    )
    timezone: str = "UTC"
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"

    @field_validator(
        "webhook_secret", "webhook_signing_token", "gitlab_token", "admin_token", "ui_token"
    )
    @classmethod
    def _blank_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value().strip() else None

    @field_validator("notify_targets")
    @classmethod
    def _usable_targets(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        parse_targets({name: url.get_secret_value() for name, url in value.items()})
        return value

    def targets(self) -> dict[str, Target]:
        """The `notify` targets by name (their URLs checked when the settings were read)."""
        return parse_targets({n: url.get_secret_value() for n, url in self.notify_targets.items()})

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        try:
            async_url(value)
        except (ArgumentError, ValueError) as exc:
            # The URL itself is not repeated: it may hold a password.
            reason = str(exc) if isinstance(exc, ValueError) else "not a database URL"
            raise ValueError(f"{reason}; use sqlite:///path or postgresql://user@host/db") from exc
        return value

    @field_validator("gitlab_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://gitlab.example.com")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as UTC or Europe/Berlin"
            ) from exc
        return value

    @field_validator("rules_path")
    @classmethod
    def _relative_folder(cls, value: str) -> str:
        folder = value.strip().strip("/")
        if not folder or ".." in folder.split("/"):
            raise ValueError("a folder inside the repository, such as rules or config/rules")
        return folder

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("use DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return value.upper()

    @property
    def webhook_secrets(self) -> list[bytes]:
        """The accepted X-Gitlab-Token values, in rotation order."""
        if self.webhook_secret is None:
            return []
        raw = self.webhook_secret.get_secret_value().split(",")
        return [part.strip().encode() for part in raw if part.strip()]

    @property
    def effective_dry_run(self) -> bool:
        """Dry-run when asked to, or when there is no token to write with."""
        return self.dry_run or self.gitlab_token is None

    def secret_values(self) -> list[str]:
        """Every configured secret, for scrubbing logs and error texts."""
        values = [s.decode() for s in self.webhook_secrets]
        for field in (
            self.webhook_signing_token,
            self.gitlab_token,
            self.admin_token,
            self.ui_token,
        ):
            if field is not None:
                values.append(field.get_secret_value())
        for target in self.targets().values():
            values.extend(secrets_of(target))
        # A driver error could quote the URL; its password is a secret too.
        with contextlib.suppress(ArgumentError):
            values.append(make_url(self.database_url).password or "")
        return [v for v in values if v]


def unknown_settings(environ: Mapping[str, str]) -> list[str]:
    """HOOKS_* variables no setting reads: a misspelt one leaves its setting at the default."""
    known = {f"HOOKS_{name.upper()}" for name in Settings.model_fields}
    return sorted(n for n in environ if n.upper().startswith("HOOKS_") and n.upper() not in known)


def settings_problems(exc: ValidationError) -> list[str]:
    """One line per HOOKS_* variable that does not validate: its name and what is allowed."""
    lines = []
    for error in exc.errors():
        name = "HOOKS_" + "_".join(str(part) for part in error["loc"]).upper()
        lines.append(f"{name}: {error['msg'].removeprefix('Value error, ')}")
    return lines
