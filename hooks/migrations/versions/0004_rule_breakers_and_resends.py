"""Rule circuit breakers and resent webhook deliveries.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

from hooks.storage.tables import Id, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rule_breakers",
        sa.Column("rule", sa.String(200), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("paused_at", UTCDateTime),
        sa.Column("reason", sa.Text),
        sa.Column("digest", sa.String(40)),
        sa.Column("owner_issue", sa.String(500)),
        sa.Column("owner_issue_url", sa.String(1000)),
        sa.Column("issue_error", sa.Text),
        sa.Column("resumed_at", UTCDateTime),
        sa.Column("resumed_by", sa.String(200)),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "resent_events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("scope", sa.String(400), nullable=False),
        sa.Column("hook_id", sa.BigInteger, nullable=False),
        sa.Column("log_id", sa.BigInteger, nullable=False),
        sa.Column("idempotency_key", sa.String(200)),
        sa.Column("event", sa.String(100)),
        sa.Column("failed_status", sa.String(40)),
        sa.Column("outcome", sa.String(30), nullable=False),
        sa.Column("response_status", sa.String(40)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("scope", "hook_id", "log_id", name="uq_resent_events_entry"),
    )
    op.create_index("ix_resent_events_idempotency_key", "resent_events", ["idempotency_key"])


def downgrade() -> None:
    op.drop_index("ix_resent_events_idempotency_key", "resent_events")
    op.drop_table("resent_events")
    op.drop_table("rule_breakers")
