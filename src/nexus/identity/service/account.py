"""A user's own account: confirming the e-mail address, forgotten and changed passwords.

Links are mailed after commit (`send_mail` queues in the caller's transaction); their tokens are
single-use. Setting a password revokes the user's other sessions in the same transaction.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core import ratelimit
from nexus.core.audit import record
from nexus.core.context import RequestContext
from nexus.core.db import database_of
from nexus.core.errors import invalid
from nexus.core.mail import send_mail
from nexus.core.security import hash_password, verify_password
from nexus.core.types import utcnow
from nexus.identity.errors import InvalidToken
from nexus.identity.models import User
from nexus.identity.service import credentials, tokens
from nexus.identity.service.attempts import Origin, Throttle, refuse_sign_in, signed_in_user
from nexus.identity.service.passwords import check_password
from nexus.identity.service.users import find_user_by_email

FORGOT_WINDOW = dt.timedelta(minutes=15)
FORGOT_LIMIT = 10


def _mark_verified(user: User) -> list[str]:
    if user.email_verified_at is not None:
        return []
    user.email_verified_at = utcnow()
    return ["email_verified_at"]


async def _user_of_token(session: AsyncSession, raw: str, *, purpose: str) -> User:
    """Consume an e-mailed token and return its active user; `invalid_token` otherwise."""
    token = await tokens.consume_user_token(session, raw, purpose=purpose)
    user = await session.get(User, token.user_id)
    if user is None or not user.is_active:
        raise InvalidToken()
    return user


# --- e-mail address ------------------------------------------------------------------------


async def request_email_verification(
    session: AsyncSession, ctx: RequestContext, *, public_base_url: str
) -> bool:
    """Mail a confirmation link to the caller; False (and no mail) when already confirmed."""
    user = await signed_in_user(session, ctx)
    if user.email_verified_at is not None:
        return False
    token = await tokens.issue_user_token(session, user_id=user.id, purpose=tokens.VERIFY_EMAIL)
    send_mail(
        session,
        to=user.email,
        subject="Confirm your e-mail address",
        text=(
            "Open this link to confirm your e-mail address for NEXUS:\n\n"
            f"{public_base_url}/verify-email?token={token}\n\n"
            "The link works once and expires in 7 days."
        ),
    )
    record(
        session,
        ctx,
        "identity.auth.email_verification_requested",
        target_type="user",
        target_id=user.id,
    )
    return True


async def verify_email(session: AsyncSession, origin: Origin, *, token: str) -> User:
    """Mark the token's user's e-mail confirmed (once per token)."""
    user = await _user_of_token(session, token, purpose=tokens.VERIFY_EMAIL)
    changes = _mark_verified(user)
    await session.flush()
    record(
        session,
        origin.context(user_id=user.id),
        "identity.auth.email_verified",
        target_type="user",
        target_id=user.id,
        changes=changes,
    )
    return user


# --- passwords -----------------------------------------------------------------------------


async def forgot_password(
    session: AsyncSession, origin: Origin, *, email: str, public_base_url: str
) -> None:
    """Mail a reset link to an active user with this e-mail; nothing otherwise, and the caller
    cannot tell which. Throttled per client address (429)."""
    key = f"forgot:ip:{origin.client_address}"
    # Counted before this request's transaction starts, which the counter must not wait on;
    # so the first refused request is the one after the limit.
    await ratelimit.count_hit(database_of(session), key, window=FORGOT_WINDOW)
    await Throttle(((key, FORGOT_LIMIT + 1),), FORGOT_WINDOW).check(session)
    user = await find_user_by_email(session, email)
    if user is None or not user.is_active:
        return
    token = await tokens.issue_user_token(session, user_id=user.id, purpose=tokens.RESET_PASSWORD)
    send_mail(
        session,
        to=user.email,
        subject="Reset your password",
        text=(
            "Someone asked to reset the password of your NEXUS account. If it was you, open:\n\n"
            f"{public_base_url}/reset-password?token={token}\n\n"
            "The link works once and expires in 2 hours. If it was not you, ignore this mail."
        ),
    )
    record(
        session,
        origin.context(user_id=user.id),
        "identity.auth.password_reset_requested",
        target_type="user",
        target_id=user.id,
    )


async def _set_password(user: User, password: str, *, field: str) -> None:
    check_password(password, email=user.email, field=field)
    user.password_hash = await hash_password(password)


async def reset_password(
    session: AsyncSession, origin: Origin, *, token: str, password: str
) -> None:
    """Set a new password with a mailed token: the e-mail counts as confirmed, and every
    session of the user is revoked."""
    user = await _user_of_token(session, token, purpose=tokens.RESET_PASSWORD)
    await _set_password(user, password, field="body.password")
    changes = ["password_hash", *_mark_verified(user)]
    await session.flush()
    await credentials.revoke_user_sessions(session, user.id, reason="password_reset")
    record(
        session,
        origin.context(user_id=user.id),
        "identity.auth.password_reset",
        target_type="user",
        target_id=user.id,
        changes=changes,
    )


async def change_password(
    session: AsyncSession,
    ctx: RequestContext,
    origin: Origin,
    *,
    current_password: str,
    new_password: str,
) -> None:
    """Change the caller's password; every other session of theirs is revoked.

    A wrong current password is a 422 naming `body.current_password`, counted against the
    account's sign-in throttle.
    """
    user = await signed_in_user(session, ctx)
    throttle = Throttle.for_sign_in(user.email, origin.client_address)
    await throttle.check(session)
    if not await verify_password(user.password_hash, current_password):
        error = invalid("body.current_password", "The current password is wrong", "wrong_password")
        await refuse_sign_in(
            session,
            origin,
            throttle,
            error,
            user_id=user.id,
            action="identity.auth.password_change_failed",
        )
    await _set_password(user, new_password, field="body.new_password")
    await session.flush()
    await credentials.revoke_user_sessions(
        session, user.id, reason="password_changed", keep=ctx.session_id
    )
    record(
        session,
        ctx,
        "identity.auth.password_changed",
        target_type="user",
        target_id=user.id,
        changes=["password_hash"],
    )
