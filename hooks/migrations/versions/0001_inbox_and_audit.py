"""Inbox of deliveries and the audit trail.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from hooks.storage.tables import Id, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("dedup_key", sa.String(200), nullable=False, unique=True),
        sa.Column("event_header", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(40)),
        sa.Column("project", sa.String(400)),
        sa.Column("event_uuid", sa.String(100)),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("lease_owner", sa.String(100)),
        sa.Column("lease_expires_at", UTCDateTime),
        sa.Column("finished_at", UTCDateTime),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "audit",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", Id, sa.ForeignKey("deliveries.id")),
        sa.Column("run_key", sa.String(200)),
        sa.Column("subject", sa.String(400)),
        sa.Column("rule", sa.String(200)),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_audit_delivery_id", "audit", ["delivery_id"])
    op.create_index("ix_audit_run_key", "audit", ["run_key"])
    op.create_index("ix_audit_subject", "audit", ["subject"])


def downgrade() -> None:
    op.drop_table("audit")
    op.drop_table("deliveries")
