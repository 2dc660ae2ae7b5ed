"""Tenants: creation with built-in roles and an owner, profile, suspension."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pycountry
from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.audit import record
from nexus.core.context import RequestContext
from nexus.core.db import bind_tenant
from nexus.core.errors import invalid
from nexus.core.money import is_currency
from nexus.core.registry import registry
from nexus.identity.errors import SlugTaken
from nexus.identity.models import ACTIVE, Membership, Role, Tenant, User
from nexus.identity.permissions import BUILTIN_ROLES, OWNER_ROLE

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
RESERVED_SLUGS = frozenset({"api", "admin", "console", "docs", "platform", "static", "www"})


@dataclass(frozen=True)
class NewTenant:
    tenant: Tenant
    owner: User
    owner_is_new: bool
    roles: dict[str, Role]


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")
    return slug[:63].strip("-") or "business"


def validate_tenant_fields(
    *, slug: str, country: str, currency: str, timezone: str, modules: list[str]
) -> None:
    """Raise a 422 naming the first bad field."""
    if not SLUG.match(slug) or slug in RESERVED_SLUGS:
        raise invalid("body.slug", "Use lowercase letters, digits and hyphens (not reserved)")
    if pycountry.countries.get(alpha_2=country) is None:
        raise invalid("body.country", f"{country!r} is not an ISO 3166-1 alpha-2 country")
    if not is_currency(currency):
        raise invalid("body.currency", f"{currency!r} is not an ISO 4217 currency")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid("body.timezone", f"{timezone!r} is not an IANA time zone") from None
    unknown = sorted(set(modules) - set(registry.modules))
    if unknown:
        raise invalid("body.modules", f"Unknown modules: {', '.join(unknown)}")


async def slug_exists(session: AsyncSession, slug: str) -> uuid.UUID | None:
    return await session.scalar(select(Tenant.id).where(Tenant.slug == slug))


async def create_builtin_roles(session: AsyncSession) -> dict[str, Role]:
    roles = {
        key: Role(key=key, name=name, description=text, permissions=list(perms), is_builtin=True)
        for key, (name, text, perms) in BUILTIN_ROLES.items()
    }
    session.add_all(roles.values())
    await session.flush()
    return roles


async def create_tenant(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    name: str,
    slug: str,
    country: str,
    currency: str,
    timezone: str,
    owner: User,
    modules: list[str] | None = None,
    profile: dict[str, Any] | None = None,
    owner_status: str = ACTIVE,
) -> NewTenant:
    """Create a tenant, its built-in roles and the owner's membership; bind the session to it.

    The caller creates (or finds) the owner user first; this only links it (`invited` when
    the owner must still accept by e-mail).
    """
    modules = sorted(set(modules or []) - registry.always_enabled())
    validate_tenant_fields(
        slug=slug, country=country, currency=currency, timezone=timezone, modules=modules
    )
    if await slug_exists(session, slug):
        raise SlugTaken(detail=f"The slug {slug!r} is taken")
    tenant = Tenant(
        name=name,
        slug=slug,
        country=country,
        currency=currency,
        timezone=timezone,
        enabled_modules=modules,
        **(profile or {}),
    )
    session.add(tenant)
    await session.flush()
    await bind_tenant(session, tenant.id)
    roles = await create_builtin_roles(session)
    session.add(
        Membership(
            tenant_id=tenant.id,
            user_id=owner.id,
            role_id=roles[OWNER_ROLE].id,
            status=owner_status,
        )
    )
    await session.flush()
    record(
        session,
        ctx,
        "identity.tenant.created",
        target_type="tenant",
        target_id=tenant.id,
        tenant_id=tenant.id,
    )
    return NewTenant(tenant=tenant, owner=owner, owner_is_new=False, roles=roles)


async def get_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant | None:
    return await session.get(Tenant, tenant_id)


async def find_tenant_by_slug(session: AsyncSession, slug: str) -> Tenant | None:
    return await session.scalar(select(Tenant).where(Tenant.slug == slug))


def raise_config_version(connection: Connection, tenant_ids: list[uuid.UUID]) -> None:
    """The `configuration_changed` hook: configuration of these tenants that processes keep in
    memory changed in this transaction (see `nexus.core.tenant_config`). The row's `version`
    and `updated_at` stay: the tenant's own profile did not change."""
    connection.execute(
        update(Tenant.__table__)  # type: ignore[arg-type]
        .where(Tenant.__table__.c.id.in_(tenant_ids))
        .values(
            config_version=Tenant.__table__.c.config_version + 1,
            updated_at=Tenant.__table__.c.updated_at,
        )
    )
