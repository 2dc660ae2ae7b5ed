"""Two-step sign-in with an authenticator app (TOTP, RFC 6238).

The secret is stored encrypted with the process's keys. Enrolment stores a new secret without
turning the second step on; a first correct code confirms it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyotp
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.audit import record
from nexus.core.context import RequestContext
from nexus.core.db import database_of
from nexus.core.errors import invalid
from nexus.core.types import utcnow
from nexus.identity.errors import MfaAlreadyEnabled, MfaNotEnabled, MfaNotEnrolled
from nexus.identity.models import User
from nexus.identity.service.attempts import signed_in_user

ISSUER = "NEXUS"
#: Codes of the step before and after the current one are accepted (clock drift).
VALID_WINDOW = 1


@dataclass(frozen=True)
class Enrolment:
    secret: str
    otpauth_uri: str


def _secret_of(session: AsyncSession, user: User) -> str | None:
    if user.mfa_secret_encrypted is None:
        return None
    return database_of(session).keyring.decrypt(user.mfa_secret_encrypted).decode()


def code_matches(session: AsyncSession, user: User, code: str) -> bool:
    """Whether `code` is the user's current TOTP code (False when no secret is stored)."""
    secret = _secret_of(session, user)
    return secret is not None and pyotp.TOTP(secret).verify(code, valid_window=VALID_WINDOW)


async def enrol(session: AsyncSession, ctx: RequestContext) -> Enrolment:
    """Store a new secret (replacing an unconfirmed one). Raises `mfa_already_enabled`."""
    user = await signed_in_user(session, ctx)
    if user.mfa_enabled_at is not None:
        raise MfaAlreadyEnabled()
    secret = pyotp.random_base32()
    user.mfa_secret_encrypted = database_of(session).keyring.encrypt(secret.encode())
    await session.flush()
    record(session, ctx, "identity.auth.mfa_enrolled", target_type="user", target_id=user.id)
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return Enrolment(secret, uri)


async def confirm(session: AsyncSession, ctx: RequestContext, *, code: str) -> User:
    """Turn the second step on with a first correct code from the enrolled secret."""
    user = await signed_in_user(session, ctx)
    if user.mfa_enabled_at is not None:
        raise MfaAlreadyEnabled()
    if user.mfa_secret_encrypted is None:
        raise MfaNotEnrolled()
    if not code_matches(session, user, code):
        raise invalid("body.code", "The authenticator code is wrong", "invalid_mfa_code")
    user.mfa_enabled_at = utcnow()
    await session.flush()
    record(session, ctx, "identity.auth.mfa_enabled", target_type="user", target_id=user.id)
    return user


async def disable(session: AsyncSession, ctx: RequestContext, *, code: str) -> User:
    """Turn the second step off (and forget the secret) with a current code."""
    user = await signed_in_user(session, ctx)
    if user.mfa_enabled_at is None:
        raise MfaNotEnabled()
    if not code_matches(session, user, code):
        raise invalid("body.code", "The authenticator code is wrong", "invalid_mfa_code")
    user.mfa_enabled_at = None
    user.mfa_secret_encrypted = None
    await session.flush()
    record(session, ctx, "identity.auth.mfa_disabled", target_type="user", target_id=user.id)
    return user
