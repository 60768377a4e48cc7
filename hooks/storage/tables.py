"""The database schema, shared by SQLite and PostgreSQL (Alembic migrates it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on both engines.

    SQLite has no time zones: values are stored as naive UTC so that they
    compare correctly as text; PostgreSQL gets `timestamptz`.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        parsed: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a bigint identity.
Id = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # Idempotency-Key when GitLab sends one, else a hash of event kind and body.
    Column("dedup_key", String(200), nullable=False, unique=True),
    Column("event_header", String(100), nullable=False),
    Column("kind", String(40), nullable=True),
    Column("project", String(400), nullable=True),
    Column("event_uuid", String(100), nullable=True),
    Column("headers", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    # pending -> processing -> done | partial | failed (pending again on retry or replay)
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_owner", String(100), nullable=True),
    Column("lease_expires_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_deliveries_due", "status", "next_attempt_at"),
)

audit = Table(
    "audit",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("delivery_id", Id, ForeignKey("deliveries.id"), nullable=True, index=True),
    Column("run_key", String(200), nullable=True, index=True),
    Column("subject", String(400), nullable=True, index=True),
    Column("rule", String(200), nullable=True),
    # event | rule | action | error
    Column("kind", String(40), nullable=False),
    Column("outcome", String(40), nullable=False),
    Column("detail", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # The rules version that planned it: a commit SHA (rules from GitLab) or a content hash.
    Column("rules_version", String(80), nullable=True),
)

# One row per planned action, keyed by its idempotency key: written before acting, updated after.
actions = Table(
    "actions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False, unique=True),
    Column("delivery_id", Id, ForeignKey("deliveries.id"), nullable=True, index=True),
    Column("run_key", String(200), nullable=True, index=True),
    Column("rule", String(200), nullable=False),
    Column("action", String(40), nullable=False),
    Column("subject", String(400), nullable=True, index=True),
    Column("params", Text, nullable=False),
    # started -> done | dry_run | satisfied | failed (started again when retried)
    Column("status", String(20), nullable=False),
    Column("result", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    # Who is performing a started action, and until when; a lapsed lease may be taken over.
    Column("owner", String(100), nullable=True),
    Column("lease_expires_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# The schedule ledger: a run is claimed through the unique (rule, scheduled_at) pair, so one
# replica runs it once; a claim whose lease ran out is taken over.
schedule_runs = Table(
    "schedule_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("rule", String(200), nullable=False),
    Column("scheduled_at", UTCDateTime, nullable=False),
    # running -> done | partial | failed | retry (due again at next_attempt_at) ; missed
    Column("status", String(20), nullable=False),
    Column("late", Integer, nullable=False, default=0),
    Column("attempts", Integer, nullable=False, default=0),
    Column("owner", String(100), nullable=True),
    Column("lease_expires_at", UTCDateTime, nullable=True),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("started_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("error", Text, nullable=True),
    UniqueConstraint("rule", "scheduled_at", name="uq_schedule_runs_rule_time"),
)

# The webhooks the service watches (recorded by `hooks install-webhook` or configured), with
# what the watchdog last read of them: GitLab drops events while a hook is disabled.
watched_hooks = Table(
    "watched_hooks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("scope", String(400), nullable=False),  # project or group path
    Column("scope_kind", String(20), nullable=True),  # project | group (None: not resolved yet)
    Column("hook_id", BigInteger, nullable=False),
    Column("url", Text, nullable=True),
    Column("registered_at", UTCDateTime, nullable=False),
    Column("checked_at", UTCDateTime, nullable=True),
    # executable | temporarily_disabled | permanently_disabled | missing | error
    Column("alert_status", String(40), nullable=True),
    Column("disabled_until", UTCDateTime, nullable=True),
    Column("recent_failures", Integer, nullable=True),
    Column("silent_since", UTCDateTime, nullable=True),
    Column("reenabled_at", UTCDateTime, nullable=True),
    Column("detail", Text, nullable=True),
    UniqueConstraint("scope", "hook_id", name="uq_watched_hooks_scope_hook"),
)

# Reconciliation: per watched scope and kind (issue, milestone), the GitLab `updated_at` up to
# which changes were swept (oldest first), so a long backlog resumes where it stopped.
reconcile_cursors = Table(
    "reconcile_cursors",
    metadata,
    Column("scope", String(400), primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("updated_after", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Changes the reconciler handled (or the bot itself made while reconciling): with the stored
# deliveries, what decides that a change is already covered.
reconciled_changes = Table(
    "reconciled_changes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("subject", String(400), nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    # applied | not_reconcilable | own_write
    Column("outcome", String(30), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("subject", "changed_at", name="uq_reconciled_subject_time"),
)

# Approval requests (rules with `approve_above`): the recorded plan is what runs when approved,
# never the text. pending -> approved -> done, or pending -> expired.
approvals = Table(
    "approvals",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # A digest of the rule and the planned keys: the same run planned again opens no second one.
    Column("key", String(200), nullable=False, unique=True),
    Column("rule", String(200), nullable=False),
    Column("source", String(400), nullable=False),  # delivery 12, schedule:..., reconcile:...
    Column("project", String(400), nullable=False),  # the approval project, as configured
    Column("issue_iid", Integer, nullable=True),
    Column("issue_url", Text, nullable=True),
    Column("status", String(20), nullable=False),
    Column("items", Integer, nullable=False),
    Column("plan", Text, nullable=False),  # JSON: actions and each subject's state when planned
    Column("outcome", Text, nullable=True),  # JSON: per action, done / skipped and why
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("decided_by", String(200), nullable=True),
    Column("decided_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("note", Text, nullable=True),
    # Who carries the approved plan out, and until when (a crashed run is taken over).
    Column("owner", String(100), nullable=True),
    Column("lease_expires_at", UTCDateTime, nullable=True),
    Index("ix_approvals_status", "status", "expires_at"),
)

# The circuit breaker of each rule: its actions' failures in a row, and whether (and why) it
# paused itself. Shared by every replica, kept across restarts.
rule_breakers = Table(
    "rule_breakers",
    metadata,
    Column("rule", String(200), primary_key=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("paused_at", UTCDateTime, nullable=True),
    Column("reason", Text, nullable=True),
    # hooks.rules.keys.digest of the rule's definition when it paused: a different one resumes it
    Column("digest", String(40), nullable=True),
    Column("owner_issue", String(500), nullable=True),  # project#iid
    Column("owner_issue_url", String(1000), nullable=True),
    Column("issue_error", Text, nullable=True),
    Column("resumed_at", UTCDateTime, nullable=True),
    Column("resumed_by", String(200), nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Failed webhook deliveries the watchdog asked GitLab to resend (or found already received),
# one row per entry of a hook's event log.
resent_events = Table(
    "resent_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("scope", String(400), nullable=False),
    Column("hook_id", BigInteger, nullable=False),
    Column("log_id", BigInteger, nullable=False),  # GitLab's hook_event_id
    Column("idempotency_key", String(200), nullable=True, index=True),
    Column("event", String(100), nullable=True),  # X-Gitlab-Event of the logged request
    Column("failed_status", String(40), nullable=True),  # what GitLab logged for the delivery
    # resent | already_received | duplicate | reconciled | gave_up | missing | not_resendable
    # | no_key
    Column("outcome", String(30), nullable=False),
    Column("response_status", String(40), nullable=True),  # GitLab's answer to the resend
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("scope", "hook_id", "log_id", name="uq_resent_events_entry"),
)

# The GitLab rate budget every replica on PostgreSQL shares (hooks.gitlab.shared_budget): one row
# per GitLab account (a digest of URL and token), the current window's start (Unix time, the
# database's clock) and the requests granted in it; `granted` is the last grant, for RETURNING.
rate_budget = Table(
    "rate_budget",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("window_start", Double, nullable=False),
    Column("used", Integer, nullable=False),
    Column("granted", Integer, nullable=False),
    # Until when every replica holds its requests (a 429's Retry-After, or few remaining).
    Column("held_until", Double, nullable=False),
)

# Rules read from a GitLab project: per source (project and ref), the commit whose rules are
# live, and the newest commit refused (with its errors), so every replica converges on them.
rules_live = Table(
    "rules_live",
    metadata,
    Column("source", String(400), primary_key=True),
    Column("sha", String(80), nullable=True),
    Column("loaded_at", UTCDateTime, nullable=True),
    Column("refused_sha", String(80), nullable=True),
    Column("refused_errors", Text, nullable=True),  # JSON list of "file:line: message"
    Column("refused_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)
