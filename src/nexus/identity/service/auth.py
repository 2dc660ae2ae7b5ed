"""Signing in over the API: password sign-in (throttled, audited, with TOTP when on), the
TOTP step, refresh-token rotation, sign-out, switching business, and permission checks.

Every refusal of a sign-in looks the same to the caller (`invalid_credentials`), whatever was
wrong. Failures are counted and audited in their own transactions, so they survive the refused
request.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.audit import record
from nexus.core.context import RequestContext
from nexus.core.errors import TenantSuspended, invalid
from nexus.core.registry import registry
from nexus.core.security import hash_password, verify_password
from nexus.core.types import utcnow
from nexus.identity.errors import (
    InvalidCredentials,
    InvalidMfaCode,
    InvalidToken,
    MfaRequired,
    TenantNotFound,
    TenantRequired,
)
from nexus.identity.models import (
    ACTIVE,
    INVITED,
    SUSPENDED,
    AuthSession,
    Membership,
    Tenant,
    User,
)
from nexus.identity.service import credentials, mfa, tokens
from nexus.identity.service.attempts import (
    Origin,
    Throttle,
    refuse_sign_in,
    require_user_session,
)
from nexus.identity.service.credentials import MFA_CHALLENGE, OPERATOR, TokenPair
from nexus.identity.service.passwords import check_password
from nexus.identity.service.users import normalise_email

CHALLENGE_LIFETIME = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class SignedIn:
    """A new session: an API token pair, or (for the console) a session cookie secret."""

    tokens: TokenPair | None
    tenant_id: uuid.UUID | None
    tenant_slug: str | None
    console_secret: str | None = None

    @property
    def pair(self) -> TokenPair:
        assert self.tokens is not None, "a console sign-in has no token pair"
        return self.tokens


# --- memberships ---------------------------------------------------------------------------


async def active_tenants(session: AsyncSession, user_id: uuid.UUID) -> list[Tenant]:
    """The tenants where the user is an active member, by slug."""
    statement = (
        select(Tenant)
        .join(Membership, Membership.tenant_id == Tenant.id)
        .where(Membership.user_id == user_id, Membership.status == ACTIVE)
        .order_by(Tenant.slug)
    )
    return list(await session.scalars(statement))


def check_not_suspended(tenant: Tenant | None) -> None:
    if tenant is not None and tenant.status == SUSPENDED:
        raise TenantSuspended(detail=f"The business {tenant.slug!r} is suspended")


def _choose_tenant(user: User, tenants: Sequence[Tenant], slug: str | None) -> Tenant | None:
    """The tenant to sign in to; None for an operator's platform sign-in.

    Raises `InvalidCredentials` (not a member) or `TenantRequired` (several, none named).
    """
    if slug is not None:
        chosen = next((t for t in tenants if t.slug == slug), None)
        if chosen is None:
            raise InvalidCredentials()
        return chosen
    if len(tenants) == 1:
        return tenants[0]
    if len(tenants) > 1:
        raise TenantRequired(
            detail="You belong to several businesses; say which one in `tenant`",
            extra={"tenants": [t.slug for t in tenants]},
        )
    if user.platform_role == OPERATOR:
        return None
    raise InvalidCredentials()


# --- signing in ------------------------------------------------------------------------------


async def start_session(
    session: AsyncSession, origin: Origin, user: User, tenant: Tenant | None, *, action: str
) -> SignedIn:
    """Issue a new token pair (a new refresh-token family), or a console session when the
    origin is the console, and audit the sign-in."""
    tenant_id = tenant.id if tenant else None
    pair, secret = None, None
    if origin.console_hours is not None:
        secret, _ = await credentials.start_console_session(
            session,
            user_id=user.id,
            tenant_id=tenant_id,
            hours=origin.console_hours,
            user_agent=origin.user_agent,
            client_address=origin.client_address,
        )
    else:
        pair = await credentials.issue_tokens(
            session,
            user_id=user.id,
            tenant_id=tenant_id,
            access_minutes=origin.access_minutes,
            refresh_days=origin.refresh_days,
            user_agent=origin.user_agent,
            client_address=origin.client_address,
        )
    record(
        session,
        origin.context(user_id=user.id, tenant_id=tenant_id),
        action,
        target_type="user",
        target_id=user.id,
    )
    return SignedIn(pair, tenant_id, tenant.slug if tenant else None, secret)


def challenge_token(session: AsyncSession, user: User, tenant: Tenant | None) -> str:
    """A five-minute token that proves the password step, for `mfa/verify`."""
    claims = {"sub": str(user.id), "tid": str(tenant.id) if tenant else None, "typ": MFA_CHALLENGE}
    return credentials.encode_jwt(credentials.keyring_of(session), claims, CHALLENGE_LIFETIME)


async def login(
    session: AsyncSession, origin: Origin, *, email: str, password: str, tenant_slug: str | None
) -> SignedIn:
    """Password sign-in.

    Raises 429 when throttled (checked before the password), `invalid_credentials` for an
    unknown e-mail, a wrong password, a deactivated user or no active membership in the named
    tenant, `tenant_required` (after the password) when several tenants fit, `tenant_suspended`,
    and `mfa_required` with a `challenge_token` when TOTP is on.
    """
    email = normalise_email(email)
    throttle = Throttle.for_sign_in(email, origin.client_address)
    await throttle.check(session)
    user = await session.scalar(select(User).where(User.email == email))
    user_id = user.id if user else None
    password_ok = await verify_password(user.password_hash if user else None, password)
    if user is None or not password_ok or not user.is_active:
        await refuse_sign_in(session, origin, throttle, InvalidCredentials(), user_id=user_id)
    try:
        tenant = _choose_tenant(user, await active_tenants(session, user.id), tenant_slug)
    except InvalidCredentials as error:
        await refuse_sign_in(session, origin, throttle, error, user_id=user_id)
    check_not_suspended(tenant)
    if user.mfa_enabled_at is not None:
        raise MfaRequired(extra={"challenge_token": challenge_token(session, user, tenant)})
    return await start_session(session, origin, user, tenant, action="identity.auth.login")


async def verify_mfa(
    session: AsyncSession, origin: Origin, *, challenge_token: str, code: str
) -> SignedIn:
    """The TOTP step of a sign-in. A wrong code is a failed sign-in (counted, audited)."""
    claims = credentials.decode_jwt(
        credentials.keyring_of(session), challenge_token, purpose=MFA_CHALLENGE
    )
    try:
        user_id = uuid.UUID(claims["sub"])
        tenant_id = uuid.UUID(claims["tid"]) if claims.get("tid") else None
    except (KeyError, ValueError, TypeError):
        raise InvalidToken() from None
    user = await session.get(User, user_id)
    if user is None or not user.is_active or user.mfa_enabled_at is None:
        raise InvalidToken()
    throttle = Throttle.for_sign_in(user.email, origin.client_address)
    await throttle.check(session)
    if not mfa.code_matches(session, user, code):
        await refuse_sign_in(session, origin, throttle, InvalidMfaCode(), user_id=user_id)
    tenant = None
    if tenant_id is not None:
        tenant = next(
            (t for t in await active_tenants(session, user.id) if t.id == tenant_id), None
        )
        if tenant is None:
            raise InvalidToken()
    check_not_suspended(tenant)
    return await start_session(session, origin, user, tenant, action="identity.auth.login")


# --- tokens and sessions -------------------------------------------------------------------


async def refresh(session: AsyncSession, origin: Origin, *, refresh_token: str) -> SignedIn:
    """Rotate a refresh token. Reusing a rotated one revokes its whole family."""
    pair = await credentials.rotate_refresh_token(
        session, refresh_token, access_minutes=origin.access_minutes
    )
    auth_session = await session.get(AuthSession, pair.session_id)
    assert auth_session is not None
    tenant = await session.get(Tenant, auth_session.tenant_id) if auth_session.tenant_id else None
    check_not_suspended(tenant)
    return SignedIn(pair, tenant.id if tenant else None, tenant.slug if tenant else None)


async def logout(session: AsyncSession, ctx: RequestContext) -> None:
    """Revoke the caller's session: its refresh token and access tokens stop working."""
    user_id, session_id = require_user_session(ctx)
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason="logout")
    )
    record(session, ctx, "identity.auth.logout", target_type="user", target_id=user_id)


async def switch_tenant(
    session: AsyncSession, ctx: RequestContext, origin: Origin, *, tenant_slug: str
) -> SignedIn:
    """A new token pair for the caller in another tenant where they are an active member.

    The current session stays valid. Raises `tenant_not_found` or `tenant_suspended`.
    """
    user_id, _ = require_user_session(ctx)
    tenants = await active_tenants(session, user_id)
    tenant = next((t for t in tenants if t.slug == tenant_slug), None)
    if tenant is None:
        raise TenantNotFound(detail=f"You are not a member of a business {tenant_slug!r}")
    check_not_suspended(tenant)
    user = await session.get(User, user_id)
    assert user is not None
    return await start_session(
        session, origin, user, tenant, action="identity.auth.tenant_switched"
    )


# --- accepting an invitation ---------------------------------------------------------------


@dataclass(frozen=True)
class InvitationAccepted:
    """The membership is active; `signed_in` holds the token pair, unless TOTP is on: then
    `challenge_token` leads to `mfa/verify`."""

    tenant_id: uuid.UUID
    tenant_slug: str
    signed_in: SignedIn | None
    challenge_token: str | None


async def accept_invitation(
    session: AsyncSession, origin: Origin, *, token: str, name: str, password: str | None
) -> InvitationAccepted:
    """Turn an invited membership active with its mailed token and sign the user in there.

    A user without a password must choose one here (and gives their name); one who has a
    password must not send another. The e-mail counts as confirmed.
    """
    invitation = await tokens.consume_user_token(session, token, purpose=tokens.INVITATION)
    user = await session.get(User, invitation.user_id)
    tenant = await session.get(Tenant, invitation.tenant_id) if invitation.tenant_id else None
    membership = await session.scalar(
        select(Membership)
        .where(
            Membership.user_id == invitation.user_id,
            Membership.tenant_id == invitation.tenant_id,
        )
        .with_for_update()
    )
    if user is None or not user.is_active or tenant is None:
        raise InvalidToken()
    if membership is None or membership.status != INVITED:
        raise InvalidToken(detail="This invitation is no longer open")
    check_not_suspended(tenant)
    changes = await _set_up_invited_user(user, name=name, password=password)
    membership.status = ACTIVE
    await session.flush()
    ctx = origin.context(user_id=user.id, tenant_id=tenant.id)
    record(
        session,
        ctx,
        "identity.user.invitation_accepted",
        target_type="user",
        target_id=user.id,
        changes=changes,
    )
    if user.mfa_enabled_at is not None:
        return InvitationAccepted(
            tenant.id, tenant.slug, None, challenge_token(session, user, tenant)
        )
    signed_in = await start_session(session, origin, user, tenant, action="identity.auth.login")
    return InvitationAccepted(tenant.id, tenant.slug, signed_in, None)


@dataclass(frozen=True)
class InvitationPreview:
    """What an open invitation is for, shown before it is accepted."""

    tenant_name: str
    email: str
    name: str
    has_password: bool


async def describe_invitation(session: AsyncSession, *, token: str) -> InvitationPreview:
    """The business and person of an open invitation, without using its token up. Raises
    `invalid_token` when the token or the invited membership is no longer open."""
    invitation = await tokens.open_user_token(session, token, purpose=tokens.INVITATION)
    user = await session.get(User, invitation.user_id)
    tenant = await session.get(Tenant, invitation.tenant_id) if invitation.tenant_id else None
    status = await session.scalar(
        select(Membership.status).where(
            Membership.user_id == invitation.user_id,
            Membership.tenant_id == invitation.tenant_id,
        )
    )
    if user is None or not user.is_active or tenant is None:
        raise InvalidToken()
    if status != INVITED:
        raise InvalidToken(detail="This invitation is no longer open")
    return InvitationPreview(tenant.name, user.email, user.name, user.password_hash is not None)


async def _set_up_invited_user(user: User, *, name: str, password: str | None) -> list[str]:
    """Name and password for a user who has no password yet; the changed fields."""
    changes = ["membership.status"]
    if user.password_hash is None:
        if password is None:
            raise invalid("body.password", "Choose a password", "password_required")
        check_password(password, email=user.email)
        user.password_hash = await hash_password(password)
        user.name = name
        changes += ["password_hash", "name"]
    elif password is not None:
        raise invalid(
            "body.password",
            "You already have a password; sign in with it instead of sending one",
            "password_already_set",
        )
    elif not user.name:
        user.name = name
        changes.append("name")
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        changes.append("email_verified_at")
    return changes


# --- what the caller may do ----------------------------------------------------------------


def check_permission(ctx: RequestContext, permission: str) -> tuple[bool, str]:
    """Whether the caller holds `permission` here, and why, in the order requests are checked:
    known permission, a business in the credential, module enabled, then the grant."""
    if permission not in registry.permission_names():
        return False, "unknown permission"
    module = permission.split(".")[0]
    if module != "platform":
        if ctx.tenant_id is None:
            return False, "this credential is not for a business"
        if module not in ctx.enabled_modules:
            return False, f"module {module} is not enabled"
    if not ctx.can(permission):
        return False, f"not granted by {_grantor(ctx)}"
    if module == "platform":
        return True, f"granted by platform role {ctx.platform_role}"
    return True, f"granted by {_grantor(ctx)}"


def _grantor(ctx: RequestContext) -> str:
    if ctx.actor_type == "api_key":
        return "the API key's scopes"
    if ctx.actor_type == "system":
        return "the system"
    return f"role {ctx.extra.get('role', 'none')}"
