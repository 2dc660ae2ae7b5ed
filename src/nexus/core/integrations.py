"""Per-tenant integration settings (payment gateways, messaging channels).

Options are plain JSON; secrets are encrypted with the keyring and never leave through an API:
readers outside the owning module get `IntegrationView` (secret names only). The module that
owns an integration reads the secrets with `integration_secrets`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import LargeBinary, String, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from nexus.core.audit import record
from nexus.core.context import RequestContext
from nexus.core.db import Base, TenantScoped
from nexus.core.security import Keyring
from nexus.core.types import JSONType, UTCDateTime, utcnow


class IntegrationSetting(TenantScoped, Base):
    __tablename__ = "integration_settings"
    __table_args__ = (UniqueConstraint("tenant_id", "provider"),)

    provider: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32))
    options: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    secret_names: Mapped[list[str]] = mapped_column(JSONType, default=list)
    secrets_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    is_enabled: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


@dataclass(frozen=True)
class IntegrationView:
    provider: str
    category: str
    options: dict[str, Any]
    secret_names: list[str]
    is_enabled: bool


def _view(row: IntegrationSetting) -> IntegrationView:
    return IntegrationView(
        row.provider, row.category, dict(row.options), list(row.secret_names), row.is_enabled
    )


async def _get(session: AsyncSession, provider: str) -> IntegrationSetting | None:
    return await session.scalar(
        select(IntegrationSetting).where(IntegrationSetting.provider == provider)
    )


async def put_integration(
    session: AsyncSession,
    ctx: RequestContext,
    keyring: Keyring,
    *,
    provider: str,
    category: str,
    options: dict[str, Any],
    secrets: dict[str, str],
    is_enabled: bool = True,
) -> IntegrationView:
    """Create or replace the tenant's settings for `provider`; secrets are stored encrypted."""
    row = await _get(session, provider)
    if row is None:
        row = IntegrationSetting(provider=provider, category=category)
        session.add(row)
    row.category = category
    row.options = dict(options)
    row.secret_names = sorted(secrets)
    row.secrets_encrypted = keyring.encrypt(json.dumps(secrets).encode()) if secrets else None
    row.is_enabled = is_enabled
    await session.flush()
    record(
        session, ctx, "core.integration.configured", target_type="integration", target_id=provider
    )
    return _view(row)


async def list_integrations(session: AsyncSession) -> list[IntegrationView]:
    rows = await session.scalars(select(IntegrationSetting).order_by(IntegrationSetting.provider))
    return [_view(row) for row in rows]


async def get_integration(session: AsyncSession, provider: str) -> IntegrationView | None:
    row = await _get(session, provider)
    return _view(row) if row else None


async def integration_secrets(
    session: AsyncSession, keyring: Keyring, provider: str
) -> dict[str, str]:
    """The decrypted secrets, for the module that talks to the provider. Never return them."""
    row = await _get(session, provider)
    if row is None or row.secrets_encrypted is None:
        return {}
    secrets: dict[str, str] = json.loads(keyring.decrypt(row.secrets_encrypted))
    return secrets
