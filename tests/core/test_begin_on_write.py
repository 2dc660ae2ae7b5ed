"""A request on PostgreSQL: statements without BEGIN until the first that writes, then one
transaction for the writes, or none when the commit's only write is one statement; the tenant
setting lasts for the request's later statements."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import asyncpg
import httpx
import pytest
from fastapi import APIRouter
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core import audit
from nexus.core.audit import AuditEvent
from nexus.core.context import RequestContext
from nexus.core.db import BEGIN_ON_WRITE, Database, add_written_once, bind_tenant
from nexus.core.errors import Conflict
from nexus.core.http import NexusRoute, Session, require
from nexus.core.postgres_driver import ALONE, READS_ONLY, WroteAlone, read_without_transaction
from nexus.core.settings import Settings
from nexus.identity.models import Role
from tests.core.conftest import app_with, client_for
from tests.crm.test_contacts import CONTACTS, crm_tenant
from tests.identity.factories import TenantFixture, make_tenant, unique


@pytest.fixture(autouse=True)
def _postgresql_only(engine_name: str) -> None:
    if engine_name != "postgresql":
        pytest.skip("SQLite's reads share one snapshot in a deferred transaction")


@pytest.fixture
def transactions(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """BEGIN, COMMIT and ROLLBACK as the driver sends them."""
    sent: list[str] = []
    for name, word in (("start", "BEGIN"), ("commit", "COMMIT"), ("rollback", "ROLLBACK")):
        original = getattr(asyncpg.transaction.Transaction, name)

        async def spy(self: Any, _original: Any = original, _word: str = word) -> None:
            sent.append(_word)
            await _original(self)

        monkeypatch.setattr(asyncpg.transaction.Transaction, name, spy)
    yield sent


async def _in_transaction(session: AsyncSession) -> bool:
    raw = await (await session.connection()).get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection  # type: ignore[assignment]
    return driver.is_in_transaction()


def _router() -> APIRouter:
    router = APIRouter(route_class=NexusRoute)

    @router.get("/test/reads")
    async def reads(
        session: Session, ctx: Annotated[RequestContext, require(None, module="identity")]
    ) -> dict[str, Any]:
        roles = (await session.scalars(select(Role.key))).all()
        setting = await session.scalar(
            text("SELECT current_setting('app.tenant_id', true)"),
            execution_options={READS_ONLY: True},
        )
        return {"roles": len(roles), "setting": setting, "open": await _in_transaction(session)}

    @router.get("/test/reads-then-writes")
    async def reads_then_writes(
        session: Session,
        ctx: Annotated[RequestContext, require(None, module="identity")],
        prefix: str,
        fail: bool = False,
    ) -> dict[str, Any]:
        await session.scalars(select(Role.key))
        before = await _in_transaction(session)
        session.add(Role(key=f"{prefix}-a", name="A"))
        await session.flush()
        session.add(Role(key=f"{prefix}-b", name="B"))
        await session.flush()
        if fail:
            raise Conflict("refused after writing")
        return {"before": before, "after": await _in_transaction(session)}

    @router.post("/test/reads")
    async def post_reads(
        session: Session, ctx: Annotated[RequestContext, require(None, module="identity")]
    ) -> dict[str, Any]:
        await session.scalars(select(Role.key))
        return {"open": await _in_transaction(session)}

    @router.post("/test/written-once")
    async def written_once(
        session: Session,
        ctx: Annotated[RequestContext, require(None, module="identity")],
        prefix: str,
        rename: bool = False,
    ) -> dict[str, Any]:
        if rename:
            role = (await session.scalars(select(Role).where(Role.key == "owner"))).one()
            role.description = prefix
        add_written_once(session, Role(key=prefix, name="Written once"))
        audit.record(session, ctx, "test.role_added", target_type="role", target_id=prefix)
        return {"open": await _in_transaction(session)}

    return router


async def _owner_request(
    settings: Settings,
    database: Database,
    transactions: list[str],
    method: str,
    path: str,
    **params: str,
) -> tuple[TenantFixture, httpx.Response]:
    """A new business's owner sends one request to the test routes; `transactions` then
    holds what that request alone sent."""
    tenant = await make_tenant(database)
    app = app_with(settings, database, _router())
    transactions.clear()
    async with await client_for(app) as client:
        response = await client.request(method, path, params=params, headers=tenant.headers)
    return tenant, response


async def _audit_actions(database: Database, target_id: str) -> list[str]:
    async with database.transaction() as session:
        found = await session.scalars(
            select(AuditEvent.action).where(AuditEvent.target_id == target_id)
        )
        return list(found)


async def _role_keys(database: Database, tenant_id: Any, prefix: str) -> list[str]:
    async with database.transaction(tenant_id) as session:
        found = await session.scalars(
            select(Role.key).where(Role.key.startswith(prefix)).order_by(Role.key)
        )
        return list(found)


async def test_a_reading_request_sends_no_begin_and_keeps_its_tenant_setting(
    settings: Settings, database: Database, transactions: list[str]
) -> None:
    tenant = await make_tenant(database)
    app = app_with(settings, database, _router())
    key = {"Authorization": f"Bearer {tenant.api_key}"}

    async with await client_for(app) as client:
        # A key's first use notes when it was used, in a short transaction of its own.
        first_use = await client.get("/test/reads", headers=key)
        transactions.clear()
        by_key = await client.get("/test/reads", headers=key)
        by_token = await client.get("/test/reads", headers=tenant.headers)

    expected = {"roles": by_key.json()["roles"], "setting": str(tenant.tenant_id), "open": False}
    assert by_key.json() == expected
    assert by_token.json() == expected
    assert expected["roles"] > 0
    assert transactions == []
    assert first_use.json() == expected


async def test_a_reading_request_that_writes_commits_its_writes_in_one_transaction(
    settings: Settings, database: Database, transactions: list[str]
) -> None:
    prefix = unique("w")
    tenant, response = await _owner_request(
        settings, database, transactions, "GET", "/test/reads-then-writes", prefix=prefix
    )

    assert response.json() == {"before": False, "after": True}
    assert transactions == ["BEGIN", "COMMIT"]
    assert await _role_keys(database, tenant.tenant_id, prefix) == [f"{prefix}-a", f"{prefix}-b"]


async def test_a_reading_request_refused_after_writing_keeps_none_of_its_writes(
    settings: Settings, database: Database, transactions: list[str]
) -> None:
    prefix = unique("r")
    tenant, response = await _owner_request(
        settings,
        database,
        transactions,
        "GET",
        "/test/reads-then-writes",
        prefix=prefix,
        fail="true",
    )

    assert response.status_code == 409
    assert transactions == ["BEGIN", "ROLLBACK"]
    assert await _role_keys(database, tenant.tenant_id, prefix) == []


async def test_a_request_that_only_reads_sends_no_begin_whatever_its_method(
    settings: Settings, database: Database, transactions: list[str]
) -> None:
    _, response = await _owner_request(settings, database, transactions, "POST", "/test/reads")

    assert response.json() == {"open": False}
    assert transactions == []


async def test_a_commit_whose_only_write_is_one_statement_sends_it_without_begin(
    settings: Settings, database: Database, transactions: list[str]
) -> None:
    prefix = unique("once")
    tenant, response = await _owner_request(
        settings, database, transactions, "POST", "/test/written-once", prefix=prefix
    )

    assert response.json() == {"open": False}
    assert transactions == []
    assert await _role_keys(database, tenant.tenant_id, prefix) == [prefix]
    assert await _audit_actions(database, prefix) == ["test.role_added"]


async def test_a_commit_with_more_than_that_statement_runs_in_one_transaction(
    settings: Settings, database: Database, transactions: list[str]
) -> None:
    prefix = unique("more")
    tenant, response = await _owner_request(
        settings,
        database,
        transactions,
        "POST",
        "/test/written-once",
        prefix=prefix,
        rename="true",
    )

    assert response.json() == {"open": False}
    assert transactions == ["BEGIN", "COMMIT"]
    assert await _role_keys(database, tenant.tenant_id, prefix) == [prefix]
    async with database.transaction(tenant.tenant_id) as session:
        owner = (await session.scalars(select(Role).where(Role.key == "owner"))).one()
        assert owner.description == prefix


async def test_a_contact_created_through_the_api_is_one_statement_without_begin(
    client: Any, database: Database, transactions: list[str]
) -> None:
    tenant = await crm_tenant(database)
    key = {"Authorization": f"Bearer {tenant.api_key}"}
    await client.post(CONTACTS, json={"first_name": "Warm"}, headers=key)  # last_used_at
    transactions.clear()

    created = await client.post(CONTACTS, json={"first_name": "Ada"}, headers=key)

    assert created.status_code == 201
    assert transactions == []
    shown = await client.get(f"{CONTACTS}/{created.json()['id']}", headers=key)
    assert shown.json() == created.json()
    assert await _audit_actions(database, created.json()["id"]) == ["crm.contact.created"]


async def test_a_write_after_a_statement_sent_alone_is_refused(database: Database) -> None:
    tenant = await make_tenant(database)
    async with database.engine.connect() as connection:
        await connection.run_sync(read_without_transaction)
        await connection.execute(
            text("SELECT set_config('app.tenant_id', :t, false)").bindparams(
                t=str(tenant.tenant_id)
            ),
            execution_options={ALONE: True},
        )

        with pytest.raises(WroteAlone):
            await connection.execute(text("SELECT 1"))

    # Back in the pool, it begins a transaction before a write like any other connection.
    idle = [await database.engine.connect() for _ in range(database.engine.pool.checkedin())]
    try:
        for connection in idle:
            await connection.run_sync(read_without_transaction)
            await connection.execute(text("SELECT 1"))
            assert (await connection.get_raw_connection()).driver_connection.is_in_transaction()
    finally:
        for connection in idle:
            await connection.close()


async def _reading_session(database: Database, tenant_id: Any) -> AsyncSession:
    session = database.session(write=False)
    session.info[BEGIN_ON_WRITE] = True
    await bind_tenant(session, tenant_id)
    return session


@pytest.mark.parametrize(
    ("statement", "options", "begins"),
    [
        (select(Role.key), {}, False),
        (select(Role.key).with_for_update(), {}, True),
        (text("SELECT 1"), {}, True),
        (text("SELECT 1"), {READS_ONLY: True}, False),
    ],
    ids=["select", "select for update", "text", "text that only reads"],
)
async def test_which_statements_begin_the_transaction(
    database: Database, statement: Any, options: dict[str, Any], begins: bool
) -> None:
    tenant = await make_tenant(database)
    session = await _reading_session(database, tenant.tenant_id)
    try:
        await session.execute(statement, execution_options=options)
        assert await _in_transaction(session) is begins
    finally:
        await session.close()


async def test_a_connection_back_in_the_pool_begins_its_next_statement_again(
    database: Database,
) -> None:
    tenant = await make_tenant(database)
    reading = await _reading_session(database, tenant.tenant_id)
    async with reading:
        await reading.scalars(select(Role.key))
        assert await _in_transaction(reading) is False
        await reading.commit()

    # The pool holds other connections too: take them all, so the one just used is among them.
    sessions = [database.session() for _ in range(database.engine.pool.size())]
    try:
        for session in sessions:
            await session.execute(text("SELECT 1"))
            assert await _in_transaction(session) is True
    finally:
        for session in sessions:
            await session.close()
