"""who recorded a job's actual time: the machine's host or the staff

Revision ID: 0005_actual_source
Revises: 0004_lab
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_actual_source"
down_revision: str | None = "0004_lab"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("actual_source", sa.String(length=16), nullable=True))
    # Figures recorded before this column were typed by the staff at "done".
    op.execute("UPDATE jobs SET actual_source = 'staff' WHERE actual_time_s IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("actual_source")
