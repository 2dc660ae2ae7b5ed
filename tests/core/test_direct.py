"""Direct reads (`nexus.core.direct`): on PostgreSQL a plain SELECT goes straight to asyncpg
and returns what SQLAlchemy would have returned, in the connection's transaction state; all
else, and everything on SQLite, goes through SQLAlchemy."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import (
    Float,
    Integer,
    Numeric,
    bindparam,
    cast,
    event,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, MultipleResultsFound, NoResultFound

from nexus.core import direct
from nexus.core.audit import AuditEvent, record
from nexus.core.context import RequestContext
from nexus.core.db import (
    BEGIN_ON_WRITE,
    INLINE,
    Base,
    Database,
    bind_tenant,
    commit,
    with_defaults,
)
from nexus.core.events import OutboxEvent
from nexus.core.postgres_driver import WroteAlone
from nexus.crm.models import Contact, Deal
from nexus.identity.models import ApiKey, Role, Tenant
from nexus.identity.service.credentials import _API_KEY_CALLER
from tests.crm.dealkit import make_deal, make_pipeline
from tests.crm.test_contacts import CONTACTS, add_contact
from tests.crm.test_fields import define
from tests.identity.factories import make_tenant

postgresql_only = pytest.mark.usefixtures("_postgresql")


@pytest.fixture
def _postgresql(engine_name: str) -> None:
    if engine_name != "postgresql":
        pytest.skip("direct reads are PostgreSQL's")


class Heard:
    """What the engine's statement listeners hear: (statement, has an execution context)."""

    def __init__(self, database: Database, *, reader: bool = False) -> None:
        self.engine = (database.read_engine if reader else database.engine).sync_engine
        self.before: list[tuple[str, bool]] = []
        self.after: list[str] = []

    def _before(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, *_: Any
    ) -> None:
        self.before.append((statement, context is not None))

    def _after(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        self.after.append(statement)

    def __enter__(self) -> Heard:
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)


async def _both(
    database: Database, tenant_id: Any, statement: Any, params: dict[str, Any]
) -> tuple[list[Any], list[Any]]:
    """The rows of `statement` read directly and through SQLAlchemy, in one transaction."""
    async with database.transaction(tenant_id) as session:
        connection = await session.connection()
        through = (await connection.execute(statement, params)).all()
        with Heard(database) as heard:
            straight = (await direct.execute(connection, statement, params)).all()
        assert [went for _, went in heard.before] == [False]  # it went straight
        return straight, through


async def test_every_table_reads_the_same_directly_as_through_sqlalchemy(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database, modules=["crm"])
    await define(client, tenant, "allergies", sensitive=True)
    await define(client, tenant, "visits", kind="number")
    await define(client, tenant, "first_visit", kind="date")
    await add_contact(
        client,
        tenant.headers,
        last_name="Okafor",
        email="Chioma@Example.com",
        phone="0803 123 4567",
        tags=["vip", "lagos"],
        address={"line1": "1 Broad St", "city": "Lagos", "country": "NG"},
        custom={"allergies": "penicillin", "visits": 3, "first_visit": "2026-01-05"},
    )
    pipeline = await make_pipeline(client, tenant)
    await make_deal(
        client,
        tenant.headers,
        amount=125_000,
        pipeline_id=pipeline["id"],
        expected_close="2026-12-31",
    )

    compared: dict[str, int] = {}
    for table in Base.metadata.sorted_tables:
        statement = select(*table.columns)
        if "tenant_id" in table.columns:  # (other tests' rows may share the database)
            statement = statement.where(table.columns["tenant_id"] == tenant.tenant_id)
        straight, through = await _both(database, tenant.tenant_id, statement, {})
        assert sorted(map(repr, map(tuple, straight))) == sorted(map(repr, map(tuple, through))), (
            table.name
        )
        assert [row._fields for row in straight[:1]] == [row._fields for row in through[:1]]
        compared[table.name] = len(straight)

    # Tables of every column type held rows: UUIDs, JSON, times, dates, bytes, booleans.
    for name in (Tenant.__tablename__, ApiKey.__tablename__, Role.__tablename__):
        assert compared[name] >= 1, name
    assert compared[Contact.__tablename__] == 1
    assert compared[Deal.__tablename__] == 1


async def test_numbers_whose_processor_depends_on_the_reported_type_read_the_same(
    database: Database,
) -> None:
    statement = select(
        cast(literal("12.50"), Numeric(10, 2)).label("exact"),
        cast(literal("2.5"), Float).label("inexact"),
        cast(literal("7"), Numeric(10, 0, asdecimal=False)).label("as_float"),
        bindparam("when", type_=Numeric(12, 4)).label("given"),
    )
    straight, through = await _both(database, None, statement, {"when": Decimal("1.2345")})
    assert straight == through == [(Decimal("12.50"), 2.5, 7.0, Decimal("1.2345"))]
    assert [type(value) for value in straight[0]] == [type(value) for value in through[0]]


@postgresql_only
async def test_the_api_key_lookup_reads_the_same_and_sets_the_tenant(database: Database) -> None:
    tenant = await make_tenant(database)
    async with database.session() as session:
        api_key = (
            await session.scalars(select(ApiKey).where(ApiKey.tenant_id == tenant.tenant_id))
        ).first()
        assert api_key is not None
        params = {"key_hash": api_key.key_hash, "nexus_tenant_local": True}
        connection = await session.connection()
        through = (await connection.execute(_API_KEY_CALLER, params)).one()
        straight = (await direct.execute(connection, _API_KEY_CALLER, params)).one()
        setting = await connection.scalar(text("SELECT current_setting('app.tenant_id', true)"))
    assert tuple(straight) == tuple(through)
    assert straight._fields == through._fields
    assert (straight.tenant_id, straight.tenant_slug) == (tenant.tenant_id, tenant.slug)
    assert setting == str(tenant.tenant_id)


@postgresql_only
async def test_a_read_after_a_write_sees_it_inside_the_transaction(database: Database) -> None:
    tenant = await make_tenant(database)
    statement = select(Role.key).where(Role.key == bindparam("key"))
    async with database.transaction(tenant.tenant_id) as session:
        session.add(Role(key="direct-written", name="Written"))
        await session.flush()
        connection = await session.connection()
        with Heard(database) as heard:
            seen = (await direct.execute(connection, statement, {"key": "direct-written"})).all()
        assert heard.before == [(heard.after[0], False)]
        await session.rollback()
    assert [tuple(row) for row in seen] == [("direct-written",)]


@postgresql_only
async def test_a_connection_about_to_begin_and_a_locking_read_go_through_sqlalchemy(
    database: Database,
) -> None:
    tenant = await make_tenant(database)
    statement = select(Tenant.slug).where(Tenant.id == bindparam("id"))
    async with database.session() as session:
        connection = await session.connection()  # not yet begun: its next statement sends BEGIN
        with Heard(database) as heard:
            first = (await direct.execute(connection, statement, {"id": tenant.tenant_id})).one()
            locked = (
                await direct.execute(
                    connection, statement.with_for_update(), {"id": tenant.tenant_id}
                )
            ).one()
            again = (await direct.execute(connection, statement, {"id": tenant.tenant_id})).one()
        raw = await connection.get_raw_connection()
        assert raw.driver_connection.is_in_transaction()  # type: ignore[union-attr]
    assert (first.slug, locked.slug, again.slug) == (tenant.slug,) * 3
    # Through SQLAlchemy (with a context), then straight once the transaction is open.
    assert [went for _, went in heard.before] == [True, True, False]


@postgresql_only
async def test_a_request_reads_its_contact_directly(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database, modules=["crm"])
    made = await add_contact(client, tenant.headers, email="direct@example.com")
    by_key = {"Authorization": f"Bearer {tenant.api_key}"}
    await client.get(f"{CONTACTS}/{made['id']}", headers=by_key)  # the key's last use noted

    with Heard(database) as heard:
        response = await client.get(f"{CONTACTS}/{made['id']}", headers=by_key)

    assert response.status_code == 200
    assert response.json()["email"] == "direct@example.com"
    # The key's lookup and the contact, both straight to the driver.
    assert [went for _, went in heard.before] == [False, False]
    assert "FROM api_keys" in heard.before[0][0] and "FROM crm_contacts" in heard.before[1][0]


@postgresql_only
async def test_rows_are_taken_as_sqlalchemy_results_are(database: Database) -> None:
    statement = select(Role.key).where(Role.tenant_id == bindparam("tenant")).order_by(Role.key)
    tenant = await make_tenant(database)
    async with database.transaction(tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        connection = await session.connection()
        many = await direct.execute(connection, statement, {"tenant": tenant.tenant_id})
        none = await direct.execute(connection, statement, {"tenant": None})
        with pytest.raises(MultipleResultsFound):
            many.one_or_none()
        with pytest.raises(MultipleResultsFound):
            many.one()
        with pytest.raises(NoResultFound):
            none.one()
        assert none.one_or_none() is None
        assert len(many.all()) >= 2
        with pytest.raises(KeyError, match="'tenant'"):
            await direct.execute(connection, statement, {})


async def test_on_sqlite_a_read_is_one_hop_of_the_driver(
    database: Database, engine_name: str
) -> None:
    if engine_name != "sqlite":
        pytest.skip("SQLite's driver")
    tenant = await make_tenant(database)
    statement = select(Tenant.slug, Tenant.created_at).where(Tenant.id == bindparam("id"))
    async with database.session(write=False) as session:
        session.info[INLINE] = True
        connection = await session.connection()
        with Heard(database, reader=True) as heard:
            found = (await direct.execute(connection, statement, {"id": tenant.tenant_id})).one()
        through = (await connection.execute(statement, {"id": tenant.tenant_id})).one()
    assert tuple(found) == tuple(through)
    assert found.slug == tenant.slug
    assert found.created_at.tzinfo is not None
    assert [went for _, went in heard.before] == [False]  # straight to the driver


def _role_insert() -> Any:
    table = Role.__table__
    return insert(table).values({column.name: bindparam(column.name) for column in table.columns})


_ROLE_INSERT = _role_insert()


def _role_values(tenant_id: Any, key: str, name: str = "Direct") -> dict[str, Any]:
    role = with_defaults(Role(key=key, name=name, tenant_id=tenant_id))
    return {column.name: getattr(role, column.key) for column in Role.__table__.columns}


@postgresql_only
async def test_a_write_goes_straight_inside_a_transaction_and_errors_are_sqlalchemy_s(
    database: Database,
) -> None:
    tenant = await make_tenant(database)
    values = _role_values(tenant.tenant_id, "direct-write")
    async with database.transaction(tenant.tenant_id) as session:
        await session.execute(select(Role.key).limit(1))  # the transaction is begun
        with Heard(database) as heard:
            wrote = await session.run_sync(
                lambda sync: direct.write(sync.connection(), _ROLE_INSERT, values, alone=False)
            )
        assert wrote is True
        assert [went for _, went in heard.before] == [False]
        found = await session.scalar(select(Role.name).where(Role.key == "direct-write"))
        assert found == "Direct"
        with pytest.raises(IntegrityError):
            async with session.begin_nested():
                await session.run_sync(
                    lambda sync: direct.write(sync.connection(), _ROLE_INSERT, values, alone=False)
                )
        nul = _role_values(tenant.tenant_id, "direct-nul", name="A\x00B")
        with pytest.raises(DBAPIError) as refused:
            async with session.begin_nested():
                await session.run_sync(
                    lambda sync: direct.write(sync.connection(), _ROLE_INSERT, nul, alone=False)
                )
        assert str(refused.value.orig.sqlstate).startswith("22")  # type: ignore[union-attr]


@postgresql_only
async def test_before_the_first_write_only_the_commit_s_one_statement_goes_straight(
    database: Database,
) -> None:
    tenant = await make_tenant(database)
    async with database.session() as session:
        session.info[BEGIN_ON_WRITE] = True
        session.info["tenant_id"] = tenant.tenant_id
        await session.execute(select(Role.key).limit(1))  # read without a transaction

        def attempt(key: str, alone: bool) -> bool:
            connection = session.sync_session.connection()
            return direct.write(
                connection, _ROLE_INSERT, _role_values(tenant.tenant_id, key), alone=alone
            )

        assert await session.run_sync(lambda _: attempt("direct-not-alone", False)) is False
        assert await session.run_sync(lambda _: attempt("direct-alone", True)) is True
        with pytest.raises(WroteAlone):
            await session.run_sync(lambda _: attempt("direct-second", True))
        await session.rollback()
    async with database.transaction(tenant.tenant_id) as session:
        kept = set(await session.scalars(select(Role.key).where(Role.key.like("direct-%"))))
    assert kept == {"direct-alone"}  # one statement, atomic and committed by itself


@postgresql_only
async def test_a_request_creating_a_contact_sends_every_statement_straight(
    client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database, modules=["crm"])
    by_key = {"Authorization": f"Bearer {tenant.api_key}"}
    # The key's last use is noted, the business's country and custom fields are kept.
    await add_contact(client, by_key, email="first.direct@example.com", phone="08030000001")

    with Heard(database) as heard:
        response = await client.post(
            CONTACTS,
            json={"first_name": "Ada", "email": "ada.direct@example.com", "phone": "08030000002"},
            headers=by_key,
        )

    assert response.status_code == 201, response.text
    # The key's lookup, the duplicate check, the contact with its audit and outbox rows.
    assert [went for _, went in heard.before] == [False, False, False]
    assert [sql.split()[0] for sql, _ in heard.before] == ["SELECT", "SELECT", "WITH"]
    assert "UNION ALL" in heard.before[1][0]
    assert len(heard.after) == 3


@postgresql_only
async def test_a_value_computed_per_run_goes_through_sqlalchemy(database: Database) -> None:
    runs = iter(range(1, 100))
    statement = select(bindparam("n", callable_=lambda: next(runs), type_=Integer).label("n"))
    async with database.transaction() as session:
        connection = await session.connection()
        await connection.execute(select(literal(1)))  # the transaction is begun
        with Heard(database) as heard:
            first = (await direct.execute(connection, statement, {})).one()
            second = (await direct.execute(connection, statement, {})).one()
    assert (first.n, second.n) == (1, 2)
    assert [went for _, went in heard.before] == [True, True]


async def test_on_sqlite_a_request_s_commit_queues_its_new_rows_past_sqlalchemy(
    client: httpx.AsyncClient, database: Database, engine_name: str
) -> None:
    if engine_name != "sqlite":
        pytest.skip("SQLite's queue of writes")
    tenant = await make_tenant(database, modules=["crm"])
    await add_contact(client, tenant.headers, email="first.queued@example.com")

    with Heard(database) as heard:
        made = await add_contact(client, tenant.headers, email="queued@example.com")

    inserts = [(sql.split()[2], went) for sql, went in heard.before if sql.startswith("INSERT")]
    assert inserts == [
        ("crm_contacts", False),
        ("audit_events", False),
        ("outbox_events", False),
    ]
    async with database.transaction(tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        kept = await session.scalar(
            select(Contact.email).where(Contact.id == uuid.UUID(made["id"]))
        )
        audited = await session.scalar(
            select(AuditEvent.action).where(AuditEvent.target_id == made["id"])
        )
        published = await session.scalar(
            select(OutboxEvent.type).where(
                OutboxEvent.payload["contact_id"].as_string() == made["id"]
            )
        )
    assert (kept, audited, published) == (
        "queued@example.com",
        "crm.contact.created",
        "crm.contact.created",
    )


async def test_on_sqlite_a_failing_queued_row_fails_the_commit_as_sqlalchemy_does(
    database: Database, engine_name: str
) -> None:
    if engine_name != "sqlite":
        pytest.skip("SQLite's queue of writes")
    tenant = await make_tenant(database)
    twin = uuid.uuid4()
    async with database.session() as session:
        session.info[INLINE] = True
        session.info["tenant_id"] = tenant.tenant_id
        await bind_tenant(session, tenant.tenant_id)
        await session.execute(select(Role.key).limit(1))
        ctx = RequestContext.system()
        for _ in range(2):
            record(session, ctx, "test.queued.twin", target_id=twin)
        events = [obj for obj in session.new if isinstance(obj, AuditEvent)]
        events[1].id = events[0].id  # the second row breaks the primary key
        with Heard(database) as heard, pytest.raises(IntegrityError):
            await commit(session)
    assert [went for sql, went in heard.before if sql.startswith("INSERT")] == [False]
    async with database.transaction(tenant.tenant_id) as session:
        left = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.target_id == str(twin))
        )
    assert left == 0
