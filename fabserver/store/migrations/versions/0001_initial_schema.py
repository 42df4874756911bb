"""Initial schema (2026-11-25)."""

import sqlalchemy as sa
from alembic import op

from fabserver.store.migration_helpers import create_table, drop_table

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_table(
        "staff_users",
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        unique=["username"],
    )
    create_table(
        "uploads",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("original_name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        indexed=["sha256"],
    )
    create_table(
        "api_tokens",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        references={"user_id": "staff_users.id"},
        unique=["token_hash"],
        indexed=["user_id"],
    )
    create_table(
        "designs",
        sa.Column("upload_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        references={"upload_id": "uploads.id"},
        indexed=["upload_id"],
    )
    create_table(
        "jobs",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("design_id", sa.Integer(), nullable=False),
        sa.Column("plugin", sa.String(length=64), nullable=False),
        sa.Column("machine_id", sa.String(length=64), nullable=False),
        sa.Column("machine_snapshot", sa.JSON(), nullable=False),
        sa.Column("material_id", sa.String(length=64), nullable=False),
        sa.Column("material_snapshot", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("copies", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column("progress", sa.Double(), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
        sa.Column("estimate", sa.JSON(), nullable=True),
        sa.Column("verdict", sa.JSON(), nullable=True),
        sa.Column("verdict_override", sa.JSON(), nullable=True),
        sa.Column("plan_facts", sa.JSON(), nullable=True),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("error_message", sa.JSON(), nullable=True),
        sa.Column("error_detail", sa.Text(), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("maker_name", sa.String(length=200), nullable=False),
        sa.Column("maker_email", sa.String(length=200), nullable=False),
        sa.Column("maker_phone", sa.String(length=50), nullable=False),
        sa.Column("maker_locale", sa.String(length=5), nullable=False),
        sa.Column("consent_at", sa.DateTime(), nullable=False),
        sa.Column("dispatch_key", sa.String(length=64), nullable=False),
        sa.Column("dispatch_claimed_at", sa.DateTime(), nullable=True),
        sa.Column("dispatch_attempts", sa.Integer(), nullable=False),
        sa.Column("receipt", sa.JSON(), nullable=True),
        sa.Column("actual_time_s", sa.Double(), nullable=True),
        sa.Column("actual_material", sa.Double(), nullable=True),
        sa.Column("actual_material_unit", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        references={"design_id": "designs.id"},
        unique=["token"],
        indexed=["design_id"],
    )
    op.create_index("ix_jobs_machine_state", "jobs", ["machine_id", "state"])
    create_table(
        "artifacts",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        references={"job_id": "jobs.id"},
        indexed=["job_id"],
    )
    create_table(
        "audit_events",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        references={"job_id": "jobs.id"},
        indexed=["job_id"],
    )


def downgrade() -> None:
    drop_table("audit_events", indexed=["job_id"])
    drop_table("artifacts", indexed=["job_id"])
    op.drop_index("ix_jobs_machine_state", table_name="jobs")
    drop_table("jobs", indexed=["design_id"])
    drop_table("designs", indexed=["upload_id"])
    drop_table("api_tokens", indexed=["user_id"])
    drop_table("uploads", indexed=["sha256"])
    drop_table("staff_users")
