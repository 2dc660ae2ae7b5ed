"""index audit events by their target: a record's history reads only its own events

Revision ID: 5d2c8e4a7f10
Revises: 3f9a0c7d2e11
Create Date: 2026-11-26 04:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5d2c8e4a7f10"
down_revision: str | None = "3f9a0c7d2e11"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_audit_events_target",
        "audit_events",
        ["tenant_id", "target_type", "target_id", "occurred_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_audit_events_target", table_name="audit_events")
