"""The rules version on each audit line; the live commit of rules read from GitLab.

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op

from hooks.storage.tables import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit") as batch:
        batch.add_column(sa.Column("rules_version", sa.String(80), nullable=True))
    op.create_table(
        "rules_live",
        sa.Column("source", sa.String(400), primary_key=True),
        sa.Column("sha", sa.String(80)),
        sa.Column("loaded_at", UTCDateTime),
        sa.Column("refused_sha", sa.String(80)),
        sa.Column("refused_errors", sa.Text),
        sa.Column("refused_at", UTCDateTime),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rules_live")
    with op.batch_alter_table("audit") as batch:
        batch.drop_column("rules_version")
