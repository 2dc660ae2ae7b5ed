from __future__ import annotations

import datetime as dt

import pytest

from nexus.core import ratelimit
from nexus.core.db import Database
from tests.identity.factories import unique

WINDOW = dt.timedelta(minutes=15)
#: 10 minutes into a 15-minute window (windows start at multiples of 15 minutes).
INSIDE = dt.datetime(2026, 11, 25, 12, 10, tzinfo=dt.UTC)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[dt.datetime]:
    """The rate limiter's clock; set `clock[0]` to move time."""
    now = [INSIDE]
    monkeypatch.setattr(ratelimit, "utcnow", lambda: now[0])
    return now


async def _hits(database: Database, key: str, count: int) -> None:
    for _ in range(count):
        await ratelimit.count_hit(database, key, window=WINDOW)


async def _retry_after(database: Database, key: str, limit: int) -> int | None:
    async with database.transaction() as session:
        return await ratelimit.retry_after(session, key, limit=limit, window=WINDOW)


async def test_a_key_under_its_limit_may_go_on(
    database: Database, clock: list[dt.datetime]
) -> None:
    key = unique("login")
    await _hits(database, key, 4)

    assert await _retry_after(database, key, limit=5) is None


async def test_a_key_at_its_limit_waits_for_the_end_of_the_window(
    database: Database, clock: list[dt.datetime]
) -> None:
    key = unique("login")
    await _hits(database, key, 5)

    assert await _retry_after(database, key, limit=5) == 300


async def test_a_key_never_counted_may_go_on(database: Database, clock: list[dt.datetime]) -> None:
    assert await _retry_after(database, unique("login"), limit=1) is None


async def test_the_count_starts_again_in_the_next_window(
    database: Database, clock: list[dt.datetime]
) -> None:
    key = unique("login")
    await _hits(database, key, 5)
    clock[0] = INSIDE + dt.timedelta(minutes=5)

    assert await _retry_after(database, key, limit=5) is None
    await _hits(database, key, 4)
    assert await _retry_after(database, key, limit=5) is None
    await _hits(database, key, 1)
    assert await _retry_after(database, key, limit=5) == 900


async def test_keys_are_counted_apart(database: Database, clock: list[dt.datetime]) -> None:
    busy, quiet = unique("login"), unique("login")
    await _hits(database, busy, 5)
    await _hits(database, quiet, 1)

    assert await _retry_after(database, busy, limit=5) == 300
    assert await _retry_after(database, quiet, limit=5) is None


async def test_reset_forgets_the_count(database: Database, clock: list[dt.datetime]) -> None:
    key = unique("login")
    await _hits(database, key, 5)

    await ratelimit.reset(database, key)

    assert await _retry_after(database, key, limit=5) is None


async def test_a_key_longer_than_the_column_is_counted(
    database: Database, clock: list[dt.datetime]
) -> None:
    key = f"login:account:{'a' * 300}@example.com"
    await _hits(database, key, 5)

    assert await _retry_after(database, key, limit=5) == 300
    assert await _retry_after(database, key[:-1], limit=5) is None
