"""Learnt time corrections can be reset per machine and material (2026-12-04)."""

import sqlalchemy as sa
from alembic import op

from fabserver.store.migration_helpers import create_table

revision = "0002_estimate_learning"
down_revision = "0001"


def upgrade() -> None:
    create_table(
        "correction_resets",
        sa.Column("machine_id", sa.String(length=64), nullable=False),
        sa.Column("material_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("correction_resets")
