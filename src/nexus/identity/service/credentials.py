"""Credentials: access tokens (JWT), refresh-token families, API keys, and the caller resolver
that turns any of them into a `RequestContext` (one query per request)."""

from __future__ import annotations

import datetime as dt
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import jwt
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core import direct
from nexus.core.context import RequestContext
from nexus.core.db import (
    bind_tenant,
    database_of,
    keep_loaded,
    lookup_parameters,
    note_for_request,
    set_transaction_tenant,
    tenant_set_by_lookup,
)
from nexus.core.errors import TenantSuspended, Unauthenticated
from nexus.core.guard import across_tenants
from nexus.core.registry import registry
from nexus.core.security import Keyring, random_token
from nexus.core.tenant_config import note_version
from nexus.core.types import utcnow
from nexus.identity.errors import InvalidToken, RefreshTokenReused
from nexus.identity.models import (
    ACTIVE,
    SUSPENDED,
    ApiKey,
    AuthSession,
    Membership,
    RefreshToken,
    Role,
    Tenant,
    User,
)

ACCESS, MFA_CHALLENGE = "access", "mfa"
API_KEY_PREFIX, REFRESH_PREFIX, CONSOLE_PREFIX = "nxk_", "nxr_", "nxs_"
CONSOLE = "console"
CONSOLE_SEEN_EVERY = dt.timedelta(minutes=5)
LAST_USED_EVERY = dt.timedelta(minutes=1)
OPERATOR = "operator"
#: What a platform role may do outside any tenant.
PLATFORM_PERMISSIONS = {OPERATOR: frozenset({"platform.*"})}


@dataclass(frozen=True)
class CallerFacts:
    """What `GET /me` shows of the caller's user and business (for an API key, read with the
    key, so `/me` needs no query of its own)."""

    email: str | None
    name: str | None
    mfa_enabled: bool
    email_verified_at: dt.datetime | None
    tenant_slug: str | None


#: Under this name the API-key lookup notes its `CallerFacts` for the request.
KEY_CALLER_FACTS = "identity.key_caller_facts"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: uuid.UUID
    token_type: str = "Bearer"


def keyring_of(session: AsyncSession) -> Keyring:
    return database_of(session).keyring


def encode_jwt(keyring: Keyring, claims: dict[str, Any], lifetime: dt.timedelta) -> str:
    now = utcnow()
    payload = {**claims, "iat": int(now.timestamp()), "exp": int((now + lifetime).timestamp())}
    return jwt.encode(payload, keyring.signing_key("jwt"), algorithm="HS256")


def decode_jwt(keyring: Keyring, token: str, *, purpose: str) -> dict[str, Any]:
    """Verify with every configured key (rotation) and check the token's purpose."""
    for key in keyring.verification_keys("jwt"):
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=["HS256"], options={"require": ["exp", "sub", "typ"]}
            )
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError:
            raise InvalidToken() from None
        if claims.get("typ") != purpose:
            raise InvalidToken()
        return claims
    raise InvalidToken()


async def issue_tokens(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    tenant_id: uuid.UUID | None,
    access_minutes: int,
    refresh_days: int,
    user_agent: str | None = None,
    client_address: str | None = None,
) -> TokenPair:
    """Start a new refresh-token family (an API session) and its first access token."""
    auth_session = AuthSession(
        user_id=user_id,
        tenant_id=tenant_id,
        kind="api",
        expires_at=utcnow() + dt.timedelta(days=refresh_days),
        user_agent=(user_agent or "")[:300] or None,
        client_address=client_address,
    )
    session.add(auth_session)
    await session.flush()
    return await _pair(session, auth_session, access_minutes)


async def _pair(session: AsyncSession, auth_session: AuthSession, minutes: int) -> TokenPair:
    keyring = keyring_of(session)
    refresh = random_token(REFRESH_PREFIX)
    session.add(
        RefreshToken(
            session_id=auth_session.id,
            token_hash=keyring.lookup_hash(refresh),
            expires_at=auth_session.expires_at,
        )
    )
    claims = {
        "sub": str(auth_session.user_id),
        "tid": str(auth_session.tenant_id) if auth_session.tenant_id else None,
        "sid": str(auth_session.id),
        "typ": ACCESS,
    }
    access = encode_jwt(keyring, claims, dt.timedelta(minutes=minutes))
    await session.flush()
    return TokenPair(access, refresh, minutes * 60, auth_session.id)


async def rotate_refresh_token(
    session: AsyncSession, refresh_token: str, *, access_minutes: int
) -> TokenPair:
    """Swap a refresh token for a new pair. Reuse of a rotated token revokes the whole family
    in its own transaction (it must survive the refused request) and raises."""
    keyring = keyring_of(session)
    row = (
        await session.execute(
            select(RefreshToken, AuthSession)
            .join(AuthSession, AuthSession.id == RefreshToken.session_id)
            .where(RefreshToken.token_hash == keyring.lookup_hash(refresh_token))
            .with_for_update(of=RefreshToken)
        )
    ).one_or_none()
    now = utcnow()
    if row is None:
        raise InvalidToken()
    token, auth_session = row
    if token.rotated_at is not None:
        family = auth_session.id
        # The request is refused anyway: end its transaction first, so the revocation's own
        # transaction does not wait on it (SQLite has one writer).
        await session.rollback()
        await revoke_sessions_committed(session, [family], reason="refresh_token_reused")
        raise RefreshTokenReused()
    if auth_session.revoked_at is not None or token.expires_at <= now:
        raise InvalidToken()
    token.rotated_at = now
    auth_session.last_seen_at = now
    return await _pair(session, auth_session, access_minutes)


async def revoke_sessions_committed(
    session: AsyncSession, session_ids: list[uuid.UUID], *, reason: str
) -> None:
    async with database_of(session).transaction() as own:
        await own.execute(
            update(AuthSession)
            .where(AuthSession.id.in_(session_ids), AuthSession.revoked_at.is_(None))
            .values(revoked_at=utcnow(), revoked_reason=reason)
        )


async def revoke_user_sessions(
    session: AsyncSession, user_id: uuid.UUID, *, reason: str, keep: uuid.UUID | None = None
) -> None:
    """Revoke every session of a user (password change, reset, deactivation) in this
    transaction; `keep` spares the caller's own session."""
    statement = update(AuthSession).where(
        AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
    )
    if keep is not None:
        statement = statement.where(AuthSession.id != keep)
    await session.execute(statement.values(revoked_at=utcnow(), revoked_reason=reason))


# --- resolving the caller ------------------------------------------------------------------


def _modules(tenant: Tenant) -> frozenset[str]:
    return frozenset(tenant.enabled_modules) | registry.always_enabled()


def _check_tenant(tenant: Tenant | None) -> None:
    if tenant is not None and tenant.status == SUSPENDED:
        raise TenantSuspended()


# The two statements every authenticated request runs, built once (bound per request).
_SESSION_CALLER = (
    select(
        AuthSession, User, Membership, Role, Tenant, set_transaction_tenant(AuthSession.tenant_id)
    )
    .join(User, User.id == AuthSession.user_id)
    .outerjoin(
        Membership,
        (Membership.user_id == User.id) & (Membership.tenant_id == AuthSession.tenant_id),
    )
    .outerjoin(Role, (Role.tenant_id == Membership.tenant_id) & (Role.id == Membership.role_id))
    .outerjoin(Tenant, Tenant.id == AuthSession.tenant_id)
    .where(AuthSession.id == bindparam("session_id"))
)
_CONSOLE_CALLER = (
    select(
        AuthSession, User, Membership, Role, Tenant, set_transaction_tenant(AuthSession.tenant_id)
    )
    .join(User, User.id == AuthSession.user_id)
    .outerjoin(
        Membership,
        (Membership.user_id == User.id) & (Membership.tenant_id == AuthSession.tenant_id),
    )
    .outerjoin(Role, (Role.tenant_id == Membership.tenant_id) & (Role.id == Membership.role_id))
    .outerjoin(Tenant, Tenant.id == AuthSession.tenant_id)
    .where(AuthSession.token_hash == bindparam("token_hash"), AuthSession.kind == CONSOLE)
)
# An API key's caller is read as columns, not entities, on the session's connection: the
# request needs a dozen values, and building three mapped objects through the ORM (a fifth of
# a read's server time) would serve only the few requests that go on to read the user or the
# business, which load them themselves.
_API_KEY_CALLER = (
    select(
        ApiKey.id,
        ApiKey.tenant_id,
        ApiKey.user_id,
        ApiKey.scopes,
        ApiKey.platform_role,
        ApiKey.last_used_at,
        ApiKey.expires_at,
        ApiKey.revoked_at,
        Tenant.status.label("tenant_status"),
        Tenant.enabled_modules,
        Tenant.config_version,
        Tenant.slug.label("tenant_slug"),
        User.id.label("maker_id"),
        User.is_active.label("maker_active"),
        User.platform_role.label("maker_platform_role"),
        User.email.label("maker_email"),
        User.name.label("maker_name"),
        User.mfa_enabled_at.label("maker_mfa_enabled_at"),
        User.email_verified_at.label("maker_email_verified_at"),
        Membership.status.label("membership_status"),
        set_transaction_tenant(ApiKey.tenant_id),
    )
    .outerjoin(Tenant, Tenant.id == ApiKey.tenant_id)
    .outerjoin(User, User.id == ApiKey.user_id)
    .outerjoin(
        Membership,
        (Membership.tenant_id == ApiKey.tenant_id) & (Membership.user_id == ApiKey.user_id),
    )
    .where(ApiKey.key_hash == bindparam("key_hash"))
)


async def _jwt_caller(
    session: AsyncSession, token: str, request_id: str | None, client: str | None
) -> RequestContext:
    claims = decode_jwt(keyring_of(session), token, purpose=ACCESS)
    try:
        session_id = uuid.UUID(claims["sid"])
        tenant_id = uuid.UUID(claims["tid"]) if claims.get("tid") else None
    except (KeyError, ValueError, TypeError):
        raise InvalidToken() from None
    # The lookup puts the session's tenant on the transaction itself (one round trip).
    await bind_tenant(session, tenant_id, set_by_next_lookup=True)
    # A platform token (no tenant) joins no membership and so no role: nothing to scope.
    with across_tenants(session) if tenant_id is None else nullcontext():
        lookup = lookup_parameters(await session.connection(), {"session_id": session_id})
        row = (await session.execute(_SESSION_CALLER, lookup)).one_or_none()
    if row is None:
        raise InvalidToken()
    tenant_set_by_lookup(session, row[0].tenant_id)
    return _session_context(row[:5], tenant_id, request_id, client, session)


def _session_context(
    row: Any,
    tenant_id: uuid.UUID | None,
    request_id: str | None,
    client: str | None,
    session: AsyncSession,
) -> RequestContext:
    """The caller of a signed-in session (API or console), from its session row joined to
    the user, membership, role and tenant."""
    auth_session, user, membership, role, tenant = row
    keep_loaded(session, auth_session, user, membership, role, tenant)
    if auth_session.revoked_at is not None or not user.is_active:
        raise InvalidToken()
    if auth_session.tenant_id != tenant_id:
        raise InvalidToken()
    _check_tenant(tenant)
    if tenant is not None:
        note_version(session, tenant.id, tenant.config_version)
    permissions: frozenset[str] = PLATFORM_PERMISSIONS.get(user.platform_role or "", frozenset())
    modules: frozenset[str] = frozenset()
    extra: dict[str, str] = {}
    if tenant is not None:
        if membership is None or membership.status != ACTIVE or role is None:
            raise InvalidToken()
        permissions = permissions | frozenset(role.permissions)
        modules = _modules(tenant)
        extra["role"] = role.key
    return RequestContext(
        tenant_id=tenant_id,
        actor_type="user",
        actor_id=user.id,
        user_id=user.id,
        permissions=permissions,
        enabled_modules=modules,
        platform_role=user.platform_role,
        session_id=auth_session.id,
        request_id=request_id,
        client_address=client,
        extra=extra,
    )


async def start_console_session(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    tenant_id: uuid.UUID | None,
    hours: int,
    user_agent: str | None = None,
    client_address: str | None = None,
) -> tuple[str, AuthSession]:
    """A new console session; returns the cookie secret (stored only as its HMAC)."""
    secret = random_token(CONSOLE_PREFIX)
    auth_session = AuthSession(
        user_id=user_id,
        tenant_id=tenant_id,
        kind=CONSOLE,
        token_hash=keyring_of(session).lookup_hash(secret),
        expires_at=utcnow() + dt.timedelta(hours=hours),
        user_agent=(user_agent or "")[:300] or None,
        client_address=client_address,
    )
    session.add(auth_session)
    await session.flush()
    return secret, auth_session


async def console_caller(
    session: AsyncSession,
    secret: str,
    *,
    request_id: str | None = None,
    client_address: str | None = None,
) -> RequestContext:
    """The caller behind a console session cookie. Raises `InvalidToken` when the session is
    unknown, expired, revoked, or its user or membership no longer active."""
    if not secret.startswith(CONSOLE_PREFIX):
        raise InvalidToken()
    lookup = lookup_parameters(
        await session.connection(), {"token_hash": keyring_of(session).lookup_hash(secret)}
    )
    # The joins pin membership and role to the session's own tenant.
    with across_tenants(session):
        row = (await session.execute(_CONSOLE_CALLER, lookup)).one_or_none()
    if row is None:
        raise InvalidToken()
    auth_session = row[0]
    tenant_set_by_lookup(session, auth_session.tenant_id)
    now = utcnow()
    if auth_session.expires_at <= now:
        raise InvalidToken()
    ctx = _session_context(row[:5], auth_session.tenant_id, request_id, client_address, session)
    if now - auth_session.last_seen_at >= CONSOLE_SEEN_EVERY:
        async with database_of(session).transaction() as own:
            await own.execute(
                update(AuthSession)
                .where(AuthSession.id == auth_session.id)
                .values(last_seen_at=now)
            )
    await bind_tenant(session, ctx.tenant_id)
    return ctx


async def _api_key_caller(
    session: AsyncSession, token: str, request_id: str | None, client: str | None
) -> RequestContext:
    keyring = keyring_of(session)
    # Platform tables only: run on the connection, past the ORM's per-run work.
    connection = await session.connection()
    lookup = lookup_parameters(connection, {"key_hash": keyring.lookup_hash(token)})
    key = (await direct.execute(connection, _API_KEY_CALLER, lookup)).one_or_none()
    now = utcnow()
    if key is None:
        raise InvalidToken()
    tenant_set_by_lookup(session, key.tenant_id)
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        raise InvalidToken()
    if not _maker_still_entitled(key):
        raise InvalidToken()
    if key.tenant_status == SUSPENDED:
        raise TenantSuspended()
    if key.tenant_id is not None:
        note_version(session, key.tenant_id, key.config_version)
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_EVERY:
        await _touch_api_key(session, key.id, now)
    note_for_request(
        session,
        KEY_CALLER_FACTS,
        CallerFacts(
            key.maker_email,
            key.maker_name,
            key.maker_mfa_enabled_at is not None,
            key.maker_email_verified_at,
            key.tenant_slug,
        ),
    )
    permissions = frozenset(key.scopes) | PLATFORM_PERMISSIONS.get(
        key.platform_role or "", frozenset()
    )
    await bind_tenant(session, key.tenant_id)
    return RequestContext(
        tenant_id=key.tenant_id,
        actor_type="api_key",
        actor_id=key.id,
        user_id=key.user_id,
        permissions=permissions,
        enabled_modules=(
            frozenset(key.enabled_modules) | registry.always_enabled()
            if key.tenant_id is not None
            else frozenset()
        ),
        platform_role=key.platform_role,
        request_id=request_id,
        client_address=client,
    )


def _maker_still_entitled(key: Any) -> bool:
    """A key made by a person works only while that person may still act: active, still an
    active member of the key's tenant, still an operator for an operator key."""
    if key.user_id is None:
        return True
    if key.maker_id is None or not key.maker_active:
        return False
    if key.platform_role is not None:
        return bool(key.maker_platform_role == key.platform_role)
    return bool(key.membership_status == ACTIVE)


async def _touch_api_key(session: AsyncSession, key_id: uuid.UUID, now: dt.datetime) -> None:
    """Last-used time, at most once a minute, in its own short transaction."""
    async with database_of(session).transaction() as own:
        await own.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))


async def resolve_caller(
    session: AsyncSession,
    authorization: str | None,
    *,
    request_id: str | None = None,
    client_address: str | None = None,
) -> RequestContext | None:
    """`Authorization: Bearer <jwt | nxk_…>` → the caller; None when no credential is sent."""
    if not authorization:
        return None
    scheme, _, credential = authorization.partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise Unauthenticated(detail="Use 'Authorization: Bearer <token or API key>'")
    if credential.startswith(API_KEY_PREFIX):
        return await _api_key_caller(session, credential, request_id, client_address)
    return await _jwt_caller(session, credential, request_id, client_address)
