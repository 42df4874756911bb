"""Who recorded a job's actual time: the machine's host or the staff (2026-12-04)."""

import sqlalchemy as sa
from alembic import op

revision = "0005_actual_source"
down_revision = "0004_lab"


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("actual_source", sa.String(length=16), nullable=True))
    # Figures recorded before this column were typed by the staff at "done".
    op.execute("UPDATE jobs SET actual_source = 'staff' WHERE actual_time_s IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("actual_source")
