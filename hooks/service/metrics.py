"""Prometheus metrics of one service instance (its own registry, so tests stay isolated)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class Metrics:
    """Every metric the service exports, registered on a private registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.deliveries = Counter(
            "hooks_deliveries_total",
            "Webhook deliveries received, by event kind and intake outcome.",
            ["kind", "outcome"],
            registry=r,
        )
        self.ack_seconds = Histogram(
            "hooks_ack_seconds",
            "Time from request start to the webhook's answer.",
            buckets=ACK_BUCKETS,
            registry=r,
        )
        self.processed = Counter(
            "hooks_processed_total",
            "Deliveries processed by the worker, by kind and final outcome.",
            ["kind", "outcome"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "hooks_queue_depth", "Deliveries by queue status.", ["status"], registry=r
        )
        self.oldest_pending = Gauge(
            "hooks_oldest_pending_seconds", "Age of the oldest pending delivery.", registry=r
        )
        self.actions = Counter(
            "hooks_actions_total",
            "Planned actions by type and outcome.",
            ["action", "outcome"],
            registry=r,
        )
        self.api_calls = Histogram(
            "hooks_gitlab_api_seconds",
            "GitLab API calls by method and status, with latency.",
            ["method", "status"],
            registry=r,
        )
        self.rate_limit_waits = Counter(
            "hooks_gitlab_rate_limit_wait_seconds_total",
            "Time spent waiting for the shared GitLab rate budget or Retry-After.",
            registry=r,
        )
        self.gitlab_threads_busy = Gauge(
            "hooks_gitlab_threads_busy",
            "Gateway threads running a python-gitlab call (at most HOOKS_GITLAB_THREADS).",
            registry=r,
        )
        self.gitlab_calls_waiting = Gauge(
            "hooks_gitlab_calls_waiting",
            "python-gitlab calls waiting for a free gateway thread.",
            registry=r,
        )
        self.rule_eval = Histogram(
            "hooks_rule_evaluation_seconds",
            "Time to plan one event against the loaded rules.",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0),
            registry=r,
        )
        self.schedule_runs = Counter(
            "hooks_schedule_runs_total",
            "Scheduled rule runs by outcome (done, late, missed, failed).",
            ["rule", "outcome"],
            registry=r,
        )

        self.reconcile_items = Counter(
            "hooks_reconcile_items_total",
            "Changes swept by reconciliation: applied (rules run on a change no delivery"
            " covered), skipped (covered), not_reconcilable (a rule needs an unknown change),"
            " failed.",
            ["outcome"],
            registry=r,
        )
        self.webhook_disabled = Gauge(
            "hooks_webhook_disabled",
            "1 while GitLab has disabled a watched webhook (its events are dropped).",
            ["hook"],
            registry=r,
        )
        self.webhook_silent = Gauge(
            "hooks_webhook_silent",
            "1 while a watched webhook delivers nothing in working hours though GitLab changes.",
            ["hook"],
            registry=r,
        )
        self.webhook_reenabled = Counter(
            "hooks_webhook_reenabled_total",
            "Disabled webhooks re-enabled by the watchdog's test delivery.",
            ["hook"],
            registry=r,
        )
        self.token_expiry = Gauge(
            "hooks_gitlab_token_expiry_timestamp_seconds",
            "When the bot's GitLab token expires (00:00 UTC of its expires_at date), by token"
            " name; absent when unknown or never.",
            ["name"],
            registry=r,
        )

        self.rule_paused = Gauge(
            "hooks_rule_paused",
            "1 while a rule is paused by its circuit breaker (its actions kept failing).",
            ["rule"],
            registry=r,
        )
        self.webhook_resent = Counter(
            "hooks_webhook_resent_total",
            "Failed deliveries in a watched hook's log, by what the watchdog did: resent"
            " (GitLab sent it again), already_received, gave_up, missing, rate_limited.",
            ["hook", "outcome"],
            registry=r,
        )

        self.rules_version = Gauge(
            "hooks_rules_version_info",
            "1 for the rules version in force: a commit SHA (source gitlab) or the folder's"
            " content hash (source folder).",
            ["version", "source"],
            registry=r,
        )
        self.rules_refused = Gauge(
            "hooks_rules_refused_errors",
            "Errors of the newest rules version refused (0 when the newest one is live); the"
            " rules before it stay in force.",
            registry=r,
        )
        self.rules_fetch_failures = Counter(
            "hooks_rules_fetch_failures_total",
            "Reads of the rules from the GitLab project that failed (unreachable, no access).",
            registry=r,
        )

    def show_rules_version(self, version: str, source: str) -> None:
        """Make `version` the one rules version the info gauge names."""
        self.rules_version.clear()
        self.rules_version.labels(version, source).set(1)

    def render(self) -> bytes:
        """The text exposition format."""
        return bytes(generate_latest(self.registry))
