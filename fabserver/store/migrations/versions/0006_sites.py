"""Sites: a job's site, staff accounts' sites, stock per site (2026-12-04)."""

import sqlalchemy as sa
from alembic import op

revision = "0006_sites"
down_revision = "0005_actual_source"


def upgrade() -> None:
    # Rows made before sites get theirs from the profiles when the server starts
    # (fabserver.jobs.sites.place_unplaced): the profiles are not known here.
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("site", sa.String(length=64), nullable=False, server_default=""))
        batch.create_index("ix_jobs_site", ["site"])
    with op.batch_alter_table("stock_pieces") as batch:
        batch.add_column(sa.Column("site", sa.String(length=64), nullable=False, server_default=""))
        batch.create_index("ix_stock_pieces_site", ["site"])
    # Accounts made before sites worked on the whole lab: they keep doing so.
    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(
            sa.Column("all_sites", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(sa.Column("sites", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("sites")
        batch.drop_column("all_sites")
    with op.batch_alter_table("stock_pieces") as batch:
        batch.drop_index("ix_stock_pieces_site")
        batch.drop_column("site")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_site")
        batch.drop_column("site")
