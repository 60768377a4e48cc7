"""The GitLab rate budget replicas share on PostgreSQL.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_budget",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("window_start", sa.Double, nullable=False),
        sa.Column("used", sa.Integer, nullable=False),
        sa.Column("granted", sa.Integer, nullable=False),
        sa.Column("held_until", sa.Double, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rate_budget")
