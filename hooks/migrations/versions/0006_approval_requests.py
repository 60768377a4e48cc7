"""Approval requests of rules with `approve_above`.

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op

from hooks.storage.tables import Id, UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approvals",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("source", sa.String(400), nullable=False),
        sa.Column("project", sa.String(400), nullable=False),
        sa.Column("issue_iid", sa.Integer),
        sa.Column("issue_url", sa.Text),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("items", sa.Integer, nullable=False),
        sa.Column("plan", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("decided_by", sa.String(200)),
        sa.Column("decided_at", UTCDateTime),
        sa.Column("finished_at", UTCDateTime),
        sa.Column("note", sa.Text),
        sa.Column("owner", sa.String(100)),
        sa.Column("lease_expires_at", UTCDateTime),
    )
    op.create_index("ix_approvals_status", "approvals", ["status", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_approvals_status", "approvals")
    op.drop_table("approvals")
