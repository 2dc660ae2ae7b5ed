"""Platform operators: tenants seen from above (list, inspect, suspend), and the CLI's
commands that create operators and tenants."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.audit import record
from nexus.core.context import RequestContext
from nexus.core.db import Database
from nexus.core.errors import Conflict, invalid
from nexus.core.pagination import Page, paginate
from nexus.core.registry import registry
from nexus.core.security import Keyring
from nexus.core.settings import Settings
from nexus.core.types import utcnow
from nexus.identity.errors import TenantNotFound
from nexus.identity.models import ACTIVE, SUSPENDED, Membership, Tenant
from nexus.identity.schemas import platform as platform_schemas
from nexus.identity.service import api_keys, onboarding, tenants, tokens, users
from nexus.identity.service.credentials import OPERATOR


@dataclass(frozen=True)
class TenantSummary:
    id: uuid.UUID
    slug: str
    name: str
    country: str
    currency: str
    status: str
    members: int
    created_at: dt.datetime


@dataclass(frozen=True)
class CreatedOperator:
    email: str
    setup_url: str
    api_key: str


@dataclass(frozen=True)
class CreatedTenant:
    tenant_id: uuid.UUID
    slug: str
    setup_url: str | None
    api_key: str


def setup_url(settings: Settings, token: str) -> str:
    return f"{settings.public_base_url}/reset-password?token={token}"


async def search_tenants(
    session: AsyncSession,
    *,
    search: str | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[Tenant]:
    statement = select(Tenant)
    if search:
        term = search.strip().lower()
        statement = statement.where(
            or_(
                func.lower(Tenant.name).contains(term, autoescape=True),
                func.lower(Tenant.slug).contains(term, autoescape=True),
            )
        )
    if status:
        statement = statement.where(Tenant.status == status)
    return await paginate(
        session,
        statement,
        sort=Tenant.created_at,
        id_column=Tenant.id,
        limit=limit,
        cursor=cursor,
        descending=True,
    )


async def member_counts(session: AsyncSession, tenant_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    rows = await session.execute(
        select(Membership.tenant_id, func.count())
        .where(Membership.tenant_id.in_(tenant_ids), Membership.status == ACTIVE)
        .group_by(Membership.tenant_id)
    )
    return {tenant_id: int(count) for tenant_id, count in rows}


async def get_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise TenantNotFound()
    return tenant


def _summary(tenant: Tenant, members: int) -> platform_schemas.PlatformTenant:
    return platform_schemas.PlatformTenant(
        id=tenant.id,
        slug=tenant.slug,
        name=tenant.name,
        country=tenant.country,
        currency=tenant.currency,
        status=tenant.status,
        member_count=members,
        created_at=tenant.created_at,
    )


async def list_tenant_summaries(
    session: AsyncSession,
    *,
    search: str | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[platform_schemas.PlatformTenant]:
    """Businesses newest first, each with its number of active members (two queries)."""
    page = await search_tenants(session, search=search, status=status, limit=limit, cursor=cursor)
    counts = await member_counts(session, [t.id for t in page.items])
    return Page([_summary(t, counts.get(t.id, 0)) for t in page.items], page.next_cursor)


async def describe_tenant(
    session: AsyncSession, tenant_id: uuid.UUID
) -> platform_schemas.PlatformTenantDetail:
    tenant = await get_tenant(session, tenant_id)
    members = (await member_counts(session, [tenant.id])).get(tenant.id, 0)
    return platform_schemas.PlatformTenantDetail(
        **_summary(tenant, members).model_dump(),
        timezone=tenant.timezone,
        legal_name=tenant.legal_name,
        enabled_modules=sorted(set(tenant.enabled_modules) | registry.always_enabled()),
        suspended_at=tenant.suspended_at,
        suspended_reason=tenant.suspended_reason,
        version=tenant.version,
    )


async def suspend_tenant(
    session: AsyncSession, ctx: RequestContext, tenant_id: uuid.UUID, *, reason: str
) -> Tenant:
    """Suspend: every credential of the tenant gets 403 `tenant_suspended` from now on."""
    tenant = await get_tenant(session, tenant_id)
    if tenant.status == SUSPENDED:
        raise Conflict(detail="The business is already suspended")
    tenant.status, tenant.suspended_at, tenant.suspended_reason = SUSPENDED, utcnow(), reason
    await session.flush()
    record(
        session,
        ctx,
        "platform.tenant.suspended",
        target_type="tenant",
        target_id=tenant.id,
        tenant_id=tenant.id,
        changes=["status"],
    )
    return tenant


async def reactivate_tenant(
    session: AsyncSession, ctx: RequestContext, tenant_id: uuid.UUID
) -> Tenant:
    tenant = await get_tenant(session, tenant_id)
    if tenant.status == ACTIVE:
        raise Conflict(detail="The business is already active")
    tenant.status, tenant.suspended_at, tenant.suspended_reason = ACTIVE, None, None
    await session.flush()
    record(
        session,
        ctx,
        "platform.tenant.reactivated",
        target_type="tenant",
        target_id=tenant.id,
        tenant_id=tenant.id,
        changes=["status"],
    )
    return tenant


# --- the CLI's commands: each one transaction ----------------------------------------------


def _database(settings: Settings) -> Database:
    return Database(settings.database_url, keyring=Keyring(settings.secret_keys), pool_size=1)


async def create_operator_command(settings: Settings, *, email: str, name: str) -> CreatedOperator:
    database = _database(settings)
    try:
        async with database.transaction() as session:
            ctx = RequestContext.system()
            user = await users.find_user_by_email(session, email)
            if user is None:
                user = await users.create_user(
                    session, email=email, name=name, platform_role=OPERATOR
                )
            elif user.platform_role == OPERATOR:
                raise invalid("email", f"{email} is already an operator")
            else:
                user.platform_role = OPERATOR
            token = await tokens.issue_user_token(
                session,
                user_id=user.id,
                purpose=tokens.RESET_PASSWORD,
                lifetime=tokens.SETUP_LIFETIME,
            )
            operator_ctx = RequestContext(
                tenant_id=None,
                actor_type="user",
                actor_id=user.id,
                user_id=user.id,
                platform_role=OPERATOR,
            )
            key = await api_keys.create_api_key(
                session,
                operator_ctx,
                name="operator key",
                scopes=[],
                platform_role=OPERATOR,
                check_scopes=False,
            )
            record(session, ctx, "platform.operator.created", target_type="user", target_id=user.id)
            return CreatedOperator(user.email, setup_url(settings, token), key.secret)
    finally:
        await database.dispose()


async def list_tenants_command(settings: Settings, *, search: str | None) -> list[TenantSummary]:
    database = _database(settings)
    try:
        async with database.transaction() as session:
            page = await search_tenants(session, search=search, limit=200)
            counts = await member_counts(session, [t.id for t in page.items])
            return [
                TenantSummary(
                    t.id,
                    t.slug,
                    t.name,
                    t.country,
                    t.currency,
                    t.status,
                    counts.get(t.id, 0),
                    t.created_at,
                )
                for t in page.items
            ]
    finally:
        await database.dispose()


async def create_tenant_command(
    settings: Settings,
    *,
    name: str,
    slug: str | None,
    country: str,
    currency: str,
    timezone: str,
    owner_email: str,
    owner_name: str,
) -> CreatedTenant:
    database = _database(settings)
    try:
        async with database.transaction() as session:
            established = await onboarding.establish_business(
                session,
                RequestContext.system(),
                name=name,
                slug=slug or tenants.slugify(name),
                country=country,
                currency=currency,
                timezone=timezone,
                owner_email=owner_email,
                owner_name=owner_name,
                public_base_url=settings.public_base_url,
                trusted=True,
            )
            assert established.api_key is not None
            return CreatedTenant(
                established.tenant.id,
                established.tenant.slug,
                established.setup_url,
                established.api_key,
            )
    finally:
        await database.dispose()
