"""tenant business profile: industry and how the business described itself

Revision ID: 6c1e2f0a9b31
Revises: 999d5057a1a2
Create Date: 2026-11-26 02:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "6c1e2f0a9b31"
down_revision: str | None = "999d5057a1a2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("industry", sa.String(length=40), nullable=True))
        batch.add_column(
            sa.Column(
                "business_profile",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default=sa.text("'{}'"),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("business_profile")
        batch.drop_column("industry")
