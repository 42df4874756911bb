"""Quotes: a design before any machine is chosen, and each machine's draft plan (2026-12-04)."""

import sqlalchemy as sa

from fabserver.store.migration_helpers import create_table, drop_table

revision = "0007_quote"
down_revision = "0006_sites"


def upgrade() -> None:
    create_table(
        "quotes",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("design_id", sa.Integer(), nullable=False),
        sa.Column("colours", sa.JSON(), nullable=False),
        sa.Column("extras", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        references={"design_id": "designs.id"},
        unique=["token"],
        indexed=["design_id"],
    )
    create_table(
        "quote_plans",
        sa.Column("quote_id", sa.Integer(), nullable=False),
        sa.Column("machine_id", sa.String(length=64), nullable=False),
        sa.Column("plugin", sa.String(length=64), nullable=False),
        sa.Column("machine_snapshot", sa.JSON(), nullable=False),
        sa.Column("material_id", sa.String(length=64), nullable=False),
        sa.Column("material_snapshot", sa.JSON(), nullable=False),
        sa.Column("copies", sa.Integer(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("operations", sa.JSON(), nullable=False),
        sa.Column("notices", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("progress", sa.Double(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
        sa.Column("estimate", sa.JSON(), nullable=True),
        sa.Column("verdict", sa.JSON(), nullable=True),
        sa.Column("plan_facts", sa.JSON(), nullable=True),
        sa.Column("found", sa.JSON(), nullable=True),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("stock", sa.JSON(), nullable=True),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("error_message", sa.JSON(), nullable=True),
        sa.Column("error_detail", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        references={"quote_id": "quotes.id"},
        indexed=["quote_id"],
    )


def downgrade() -> None:
    drop_table("quote_plans", indexed=["quote_id"])
    drop_table("quotes", indexed=["design_id"])
