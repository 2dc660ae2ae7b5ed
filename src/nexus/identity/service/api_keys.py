"""API keys: `nxk_` + 43 random characters, shown once, stored as HMAC-SHA256."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.audit import record
from nexus.core.context import RequestContext, permission_matches
from nexus.core.db import database_of
from nexus.core.errors import invalid
from nexus.core.pagination import Page, paginate
from nexus.core.registry import registry
from nexus.core.security import random_token
from nexus.core.types import utcnow
from nexus.identity.errors import ApiKeyNotFound
from nexus.identity.models import ApiKey
from nexus.identity.service.credentials import API_KEY_PREFIX


@dataclass(frozen=True)
class NewApiKey:
    key: ApiKey
    secret: str


def _check_scopes(ctx: RequestContext, scopes: list[str]) -> list[str]:
    """Scopes must be known permissions (or `module.*` / `*`) that the creator holds."""
    known = registry.permission_names()
    for index, scope in enumerate(scopes):
        is_pattern = scope == "*" or scope.endswith(".*")
        if not is_pattern and scope not in known:
            raise invalid(f"body.scopes.{index}", f"Unknown permission {scope!r}")
        if is_pattern and not any(permission_matches(scope, name) for name in known):
            raise invalid(f"body.scopes.{index}", f"{scope!r} matches no permission")
        if not ctx.can(scope) and not (is_pattern and ctx.can("*")):
            raise invalid(f"body.scopes.{index}", f"You do not hold {scope!r} yourself")
    return sorted(set(scopes))


async def create_api_key(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    name: str,
    scopes: list[str],
    expires_at: dt.datetime | None = None,
    platform_role: str | None = None,
    check_scopes: bool = True,
) -> NewApiKey:
    """A key for the caller's tenant (or, with `platform_role`, a platform key)."""
    if expires_at is not None and expires_at <= utcnow():
        raise invalid("body.expires_at", "The expiry must be in the future")
    cleaned = _check_scopes(ctx, scopes) if check_scopes else sorted(set(scopes))
    secret = random_token(API_KEY_PREFIX)
    key = ApiKey(
        tenant_id=ctx.tenant_id,
        user_id=ctx.user_id,
        name=name,
        prefix=secret[:12],
        key_hash=database_of(session).keyring.lookup_hash(secret),
        scopes=cleaned,
        platform_role=platform_role,
        expires_at=expires_at,
    )
    session.add(key)
    await session.flush()
    record(
        session,
        ctx,
        "identity.api_key.created",
        target_type="api_key",
        target_id=key.id,
        changes=["name", "scopes", "expires_at"],
    )
    return NewApiKey(key=key, secret=secret)


async def list_api_keys(
    session: AsyncSession, ctx: RequestContext, *, limit: int = 50, cursor: str | None = None
) -> Page[ApiKey]:
    """The tenant's keys, revoked ones included, newest first."""
    return await paginate(
        session,
        select(ApiKey).where(ApiKey.tenant_id == ctx.tenant_id),
        sort=ApiKey.created_at,
        id_column=ApiKey.id,
        limit=limit,
        cursor=cursor,
        descending=True,
    )


async def get_api_key(session: AsyncSession, ctx: RequestContext, key_id: uuid.UUID) -> ApiKey:
    key = await session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.tenant_id == ctx.tenant_id)
    )
    if key is None:
        raise ApiKeyNotFound()
    return key


async def revoke_api_key(session: AsyncSession, ctx: RequestContext, key_id: uuid.UUID) -> ApiKey:
    key = await get_api_key(session, ctx, key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        record(
            session,
            ctx,
            "identity.api_key.revoked",
            target_type="api_key",
            target_id=key.id,
            changes=["revoked_at"],
        )
    await session.flush()
    return key
