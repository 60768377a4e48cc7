"""Watched webhooks, reconciliation cursors and reconciled changes.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

from hooks.storage.tables import Id, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watched_hooks",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("scope", sa.String(400), nullable=False),
        sa.Column("scope_kind", sa.String(20)),
        sa.Column("hook_id", sa.BigInteger, nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("registered_at", UTCDateTime, nullable=False),
        sa.Column("checked_at", UTCDateTime),
        sa.Column("alert_status", sa.String(40)),
        sa.Column("disabled_until", UTCDateTime),
        sa.Column("recent_failures", sa.Integer),
        sa.Column("silent_since", UTCDateTime),
        sa.Column("reenabled_at", UTCDateTime),
        sa.Column("detail", sa.Text),
        sa.UniqueConstraint("scope", "hook_id", name="uq_watched_hooks_scope_hook"),
    )
    op.create_table(
        "reconcile_cursors",
        sa.Column("scope", sa.String(400), primary_key=True),
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("updated_after", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "reconciled_changes",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("subject", sa.String(400), nullable=False),
        sa.Column("changed_at", UTCDateTime, nullable=False),
        sa.Column("outcome", sa.String(30), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("subject", "changed_at", name="uq_reconciled_subject_time"),
    )


def downgrade() -> None:
    op.drop_table("reconciled_changes")
    op.drop_table("reconcile_cursors")
    op.drop_table("watched_hooks")
