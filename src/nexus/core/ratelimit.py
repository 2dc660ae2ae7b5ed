"""Fixed-window counters in the database, shared by every process (login throttling).

Counting is a security write: it commits on its own, so a refused request still counts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math

from sqlalchemy import String, case
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from nexus.core.db import Base, Database, dialect_insert
from nexus.core.types import UTCDateTime, utcnow

KEY_LENGTH = 200


class RateLimitCounter(Base):
    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(default=0)


def _stored_key(key: str) -> str:
    """The key as stored: one longer than the column (a long e-mail) becomes its SHA-256."""
    if len(key) <= KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _window_start(now: dt.datetime, window: dt.timedelta) -> dt.datetime:
    seconds = window.total_seconds()
    return dt.datetime.fromtimestamp(math.floor(now.timestamp() / seconds) * seconds, dt.UTC)


async def retry_after(
    session: AsyncSession, key: str, *, limit: int, window: dt.timedelta
) -> int | None:
    """Seconds until `key` may try again, or None if it is under its limit."""
    now = utcnow()
    row = await session.get(RateLimitCounter, _stored_key(key))
    if row is None or row.window_start != _window_start(now, window) or row.count < limit:
        return None
    return max(1, math.ceil((row.window_start + window - now).total_seconds()))


async def count_hit(database: Database, key: str, *, window: dt.timedelta) -> None:
    """Count one event against `key` in its own committed transaction."""
    start = _window_start(utcnow(), window)
    table = RateLimitCounter.__table__
    async with database.transaction() as session:
        insert = dialect_insert(session, table).values(
            key=_stored_key(key), window_start=start, count=1
        )
        same_window = table.c.window_start == insert.excluded.window_start
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    "count": case((same_window, table.c.count + 1), else_=1),
                    "window_start": insert.excluded.window_start,
                },
            )
        )


async def reset(database: Database, key: str) -> None:
    async with database.transaction() as session:
        row = await session.get(RateLimitCounter, _stored_key(key))
        if row is not None:
            await session.delete(row)
