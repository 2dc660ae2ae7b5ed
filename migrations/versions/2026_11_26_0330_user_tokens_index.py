"""index user tokens by user and purpose (issuing one retires the earlier ones)

Revision ID: 0b7d4e91c2a5
Revises: 6c1e2f0a9b31
Create Date: 2026-11-26 03:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0b7d4e91c2a5"
down_revision: str | None = "6c1e2f0a9b31"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_user_tokens_user_purpose", "user_tokens", ["user_id", "purpose"])


def downgrade() -> None:
    op.drop_index("ix_user_tokens_user_purpose", table_name="user_tokens")
