"""Actions ledger (idempotency keys) and schedule run ledger.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

from hooks.storage.tables import Id, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "actions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("delivery_id", Id, sa.ForeignKey("deliveries.id")),
        sa.Column("run_key", sa.String(200)),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(400)),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("result", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("owner", sa.String(100)),
        sa.Column("lease_expires_at", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_actions_delivery_id", "actions", ["delivery_id"])
    op.create_index("ix_actions_run_key", "actions", ["run_key"])
    op.create_index("ix_actions_subject", "actions", ["subject"])
    op.create_table(
        "schedule_runs",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("scheduled_at", UTCDateTime, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("late", sa.Integer, nullable=False, server_default="0"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("owner", sa.String(100)),
        sa.Column("lease_expires_at", UTCDateTime),
        sa.Column("next_attempt_at", UTCDateTime),
        sa.Column("started_at", UTCDateTime),
        sa.Column("finished_at", UTCDateTime),
        sa.Column("error", sa.Text),
        sa.UniqueConstraint("rule", "scheduled_at", name="uq_schedule_runs_rule_time"),
    )


def downgrade() -> None:
    op.drop_table("schedule_runs")
    op.drop_table("actions")
