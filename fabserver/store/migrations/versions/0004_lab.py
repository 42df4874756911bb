"""Lab: stock pieces, a job's offcut, the maker's normalised contact (2026-12-04)."""

import sqlalchemy as sa
from alembic import op

from fabserver.store.migration_helpers import create_table, drop_table

revision = "0004_lab"
down_revision = "0003_safety"


def upgrade() -> None:
    create_table(
        "stock_pieces",
        sa.Column("material_id", sa.String(length=64), nullable=False),
        sa.Column("width_mm", sa.Double(), nullable=True),
        sa.Column("height_mm", sa.Double(), nullable=True),
        sa.Column("outline_mm", sa.JSON(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("source_job_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        references={"source_job_id": "jobs.id"},
        indexed=["material_id"],
    )
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(
            sa.Column("contact_email", sa.String(length=200), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("contact_phone", sa.String(length=50), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("stock", sa.JSON(), nullable=True))
        batch.create_index("ix_jobs_contact_email", ["contact_email"])
        batch.create_index("ix_jobs_contact_phone", ["contact_phone"])
    _fill_contacts()


def _fill_contacts() -> None:
    """Jobs made before this revision get their normalised contact too."""
    from fabserver.lab.history import contact_keys

    jobs = sa.table(
        "jobs",
        sa.column("id", sa.Integer),
        sa.column("maker_email", sa.String),
        sa.column("maker_phone", sa.String),
        sa.column("contact_email", sa.String),
        sa.column("contact_phone", sa.String),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(jobs.c.id, jobs.c.maker_email, jobs.c.maker_phone)).all()
    for job_id, email, phone in rows:
        bind.execute(
            jobs.update()
            .where(jobs.c.id == job_id)
            .values(**contact_keys(email or "", phone or ""))
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_contact_phone")
        batch.drop_index("ix_jobs_contact_email")
        batch.drop_column("stock")
        batch.drop_column("contact_phone")
        batch.drop_column("contact_email")
    drop_table("stock_pieces", indexed=["material_id"])
