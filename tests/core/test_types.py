from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pytest
from sqlalchemy import Column, MetaData, Table, insert, select
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.ids import new_id
from nexus.core.types import ExactDecimal
from nexus.identity.models import Tenant
from tests.core.conftest import add_tenant

LAGOS = dt.timezone(dt.timedelta(hours=1))


async def test_utc_datetime_refuses_a_naive_datetime(session: AsyncSession) -> None:
    tenant = await add_tenant(session)
    tenant_id = tenant.id

    with pytest.raises(StatementError, match="naive datetime"):
        async with session.begin_nested():
            tenant.suspended_at = dt.datetime(2026, 11, 25, 12, 0)
            await session.flush()

    stored = await session.scalar(select(Tenant.suspended_at).where(Tenant.id == tenant_id))
    assert stored is None


async def test_utc_datetime_comes_back_aware_in_utc(session: AsyncSession) -> None:
    tenant = await add_tenant(session)
    tenant.suspended_at = dt.datetime(2026, 11, 25, 13, 30, 15, 123456, tzinfo=LAGOS)
    await session.flush()

    stored = await session.scalar(select(Tenant.suspended_at).where(Tenant.id == tenant.id))

    assert stored == dt.datetime(2026, 11, 25, 12, 30, 15, 123456, tzinfo=dt.UTC)
    assert stored is not None and stored.tzinfo is dt.UTC


async def test_exact_decimal_round_trips_every_digit(session: AsyncSession) -> None:
    numbers = Table(
        "exact_numbers",
        MetaData(),
        Column("value", ExactDecimal(28, 10)),
        prefixes=["TEMPORARY"],
    )
    await session.run_sync(lambda s: numbers.create(s.connection()))

    await session.execute(insert(numbers).values(value=Decimal("12345.6789012345")))
    stored = await session.scalar(select(numbers.c.value))

    assert isinstance(stored, Decimal)
    assert stored == Decimal("12345.6789012345")
    assert str(stored.normalize()) == "12345.6789012345"


def test_ids_are_uuid7() -> None:
    identifier = new_id()

    assert identifier.version == 7
    assert abs(int.from_bytes(identifier.bytes[:6], "big") - time.time() * 1000) < 5_000


def test_ids_are_ordered_by_creation_time() -> None:
    made = []
    for _ in range(20):
        made.append(new_id())
        time.sleep(0.002)

    assert made == sorted(made)
    assert len(set(made)) == 20
