"""`Idempotency-Key` on POST: a replay returns the first response; kept 24 hours.

A key is claimed in its own short transaction (so a concurrent duplicate sees it and gets 409),
with a lease: a request that crashed leaves a key that becomes usable again when the lease
ends. The response is stored in the request's own transaction, so the key is completed exactly
when the work is committed. Stored bodies are encrypted (they may hold one-time secrets).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import LargeBinary, String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from nexus.core.db import Base, Database
from nexus.core.errors import IdempotencyInFlight, IdempotencyKeyReused, invalid
from nexus.core.security import Keyring
from nexus.core.types import UTCDateTime, utcnow

LEASE = dt.timedelta(seconds=60)
IN_FLIGHT, COMPLETED = "in_flight", "completed"


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=IN_FLIGHT)
    lease_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    response_status: Mapped[int | None]
    response_headers: Mapped[str | None] = mapped_column(String(2000))
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


@dataclass(frozen=True)
class StoredResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\0".join([method.encode(), path.encode(), body])).hexdigest()


def validate_key(key: str) -> str:
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise invalid(
            "header.Idempotency-Key", "Idempotency-Key must be 1-255 printable characters"
        )
    return key


async def claim(
    database: Database, *, scope: str, key: str, fingerprint: str, retention: dt.timedelta
) -> StoredResponse | None:
    """Claim `key` for this request; return the stored response if it already completed.

    Raises 422 when the key was used for a different request, 409 while it is in flight.
    """
    now = utcnow()
    async with database.transaction() as session:
        row = await session.get(IdempotencyKey, (scope, key), with_for_update=True)
        if row is not None and row.expires_at <= now:
            await session.delete(row)
            await session.flush()
            row = None
        if row is None:
            session.add(
                IdempotencyKey(
                    scope=scope,
                    key=key,
                    request_hash=fingerprint,
                    lease_until=now + LEASE,
                    expires_at=now + retention,
                )
            )
            try:
                await session.flush()
            except IntegrityError:
                raise IdempotencyInFlight() from None
            return None
        if row.request_hash != fingerprint:
            raise IdempotencyKeyReused()
        if row.status == COMPLETED:
            return _stored(row, database)
        if row.lease_until > now:
            raise IdempotencyInFlight(headers={"Retry-After": "1"})
        row.lease_until = now + LEASE
        return None


def _stored(row: IdempotencyKey, database: Database) -> StoredResponse:
    keyring: Keyring = database.keyring
    body = keyring.decrypt(row.response_body) if row.response_body else b""
    headers = json.loads(row.response_headers or "{}")
    return StoredResponse(status=row.response_status or 200, headers=headers, body=body)


async def complete(
    session: AsyncSession,
    *,
    scope: str,
    key: str,
    status: int,
    headers: dict[str, str],
    body: bytes,
) -> None:
    """Store the response in the request's own transaction."""
    row = await session.get(IdempotencyKey, (scope, key))
    if row is None:  # the lease ran out and another request took the key over; nothing to keep
        return
    keyring: Keyring = session.info["database"].keyring
    row.status = COMPLETED
    row.response_status = status
    row.response_headers = json.dumps(headers)
    row.response_body = keyring.encrypt(body)


async def release(database: Database, *, scope: str, key: str) -> None:
    """Forget an in-flight key whose request failed, so the client may retry with it."""
    async with database.transaction() as session:
        await session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.scope == scope,
                IdempotencyKey.key == key,
                IdempotencyKey.status == IN_FLIGHT,
            )
        )


async def prune(session: AsyncSession) -> int:
    result = await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.expires_at <= utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def exists(session: AsyncSession, scope: str, key: str) -> bool:
    return (
        await session.scalar(
            select(IdempotencyKey.key).where(
                IdempotencyKey.scope == scope, IdempotencyKey.key == key
            )
        )
    ) is not None
