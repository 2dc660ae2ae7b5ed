from __future__ import annotations

import uuid
from typing import Annotated, Any

import pytest
from fastapi import APIRouter
from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from nexus.core.context import RequestContext
from nexus.core.db import Database, bind_tenant, with_defaults
from nexus.core.errors import TenantContextMissing
from nexus.core.guard import across_tenants, read_scoped
from nexus.core.http import NexusRoute, Session, require
from nexus.core.settings import Settings
from nexus.identity.models import ACTIVE, Branch, Membership, Role, User
from tests.core.conftest import add_tenant, app_with, client_for
from tests.identity.factories import make_tenant, unique


async def _roles(session: AsyncSession, tenant_id: uuid.UUID, *keys: str) -> list[Role]:
    await bind_tenant(session, tenant_id)
    roles = [Role(key=key, name=key.title()) for key in keys]
    session.add_all(roles)
    await session.flush()
    return roles


async def _two_tenants(session: AsyncSession) -> tuple[uuid.UUID, uuid.UUID]:
    a, b = await add_tenant(session), await add_tenant(session)
    await _roles(session, a.id, "clerk", "cashier")
    await _roles(session, b.id, "driver")
    await bind_tenant(session, a.id)
    return a.id, b.id


async def _all_roles(session: AsyncSession, tenant_id: uuid.UUID) -> list[tuple[str, str]]:
    with across_tenants(session):
        rows = await session.execute(
            select(Role.key, Role.name).where(Role.tenant_id == tenant_id).order_by(Role.key)
        )
        return [(key, name) for key, name in rows]


async def _user(session: AsyncSession) -> User:
    user = User(email=f"{unique('user')}@example.com", name="Chidi")
    session.add(user)
    await session.flush()
    return user


async def test_a_tenant_table_queried_with_no_tenant_bound_fails_closed(
    session: AsyncSession,
) -> None:
    with pytest.raises(TenantContextMissing):
        await session.execute(select(Role))


def _hidden_statements() -> dict[str, object]:
    """Statements that reach a tenant table in every way a query can."""
    from sqlalchemy import exists, literal
    from sqlalchemy.orm import aliased

    role = aliased(Role)
    sub = select(Role.id).subquery()
    return {
        "entity": select(Role),
        "one column": select(Role.key),
        "aggregate": select(func.count(Role.id)),
        "aliased entity": select(role),
        "select_from": select(literal(1)).select_from(Role),
        "subquery in FROM": select(sub.c.id),
        "IN subquery": select(User.id).where(User.id.in_(select(Role.id))),
        "EXISTS": select(User.id).where(exists().where(Role.name == User.name)),
        "join from a platform table": select(User.id).join(Role, Role.name == User.name),
        "update": update(Role).values(name="x"),
        "delete": delete(Role),
    }


@pytest.mark.parametrize("shape", list(_hidden_statements()))
async def test_every_statement_shape_reaching_a_tenant_table_fails_closed(
    session: AsyncSession, shape: str
) -> None:
    with pytest.raises(TenantContextMissing):
        await session.execute(_hidden_statements()[shape])  # type: ignore[call-overload]


async def test_statements_on_platform_tables_need_no_tenant(session: AsyncSession) -> None:
    user = await _user(session)

    found = await session.scalar(select(User.email).where(User.id == user.id))

    assert found == user.email


async def test_select_sees_only_the_bound_tenants_rows(session: AsyncSession) -> None:
    await _two_tenants(session)

    keys = (await session.scalars(select(Role.key).order_by(Role.key))).all()

    assert keys == ["cashier", "clerk"]


async def test_another_tenants_row_is_not_found_by_its_id(
    session: AsyncSession,
) -> None:
    _, b = await _two_tenants(session)
    with across_tenants(session):
        b_id = await session.scalar(select(Role.id).where(Role.tenant_id == b))
    session.expunge_all()

    found = await session.scalar(select(Role).where(Role.id == b_id))

    assert found is None


async def test_update_cannot_reach_another_tenants_rows(session: AsyncSession) -> None:
    a, b = await _two_tenants(session)

    result = await session.execute(update(Role).values(name="Renamed"))

    assert result.rowcount == 2  # type: ignore[attr-defined]
    assert await _all_roles(session, a) == [("cashier", "Renamed"), ("clerk", "Renamed")]
    assert await _all_roles(session, b) == [("driver", "Driver")]


async def test_delete_cannot_reach_another_tenants_rows(session: AsyncSession) -> None:
    a, b = await _two_tenants(session)

    result = await session.execute(delete(Role))

    assert result.rowcount == 2  # type: ignore[attr-defined]
    assert await _all_roles(session, a) == []
    assert await _all_roles(session, b) == [("driver", "Driver")]


async def test_adding_a_row_for_another_tenant_is_refused(session: AsyncSession) -> None:
    _, b = await _two_tenants(session)

    with pytest.raises(TenantContextMissing):
        async with session.begin_nested():
            session.add(Role(tenant_id=b, key="intruder", name="Intruder"))
            await session.flush()

    assert await _all_roles(session, b) == [("driver", "Driver")]


async def test_adding_a_tenant_row_with_no_tenant_bound_is_refused(session: AsyncSession) -> None:
    a = await add_tenant(session)
    await bind_tenant(session, None)

    with pytest.raises(TenantContextMissing):
        async with session.begin_nested():
            session.add(Role(tenant_id=a.id, key="orphan", name="Orphan"))
            await session.flush()

    assert await _all_roles(session, a.id) == []


async def test_database_refuses_a_membership_pointing_at_another_tenants_role(
    session: AsyncSession,
) -> None:
    a, b = await _two_tenants(session)
    user = await _user(session)
    with across_tenants(session):
        b_role = await session.scalar(select(Role.id).where(Role.tenant_id == b))

    with pytest.raises(IntegrityError):
        async with session.begin_nested():
            session.add(Membership(tenant_id=a, user_id=user.id, role_id=b_role, status=ACTIVE))
            await session.flush()

    count = await session.scalar(select(func.count()).where(Membership.user_id == user.id))
    assert count == 0


async def test_database_refuses_a_raw_insert_crossing_tenants(session: AsyncSession) -> None:
    a, b = await _two_tenants(session)
    user = await _user(session)
    with across_tenants(session):
        b_role = await session.scalar(select(Role.id).where(Role.tenant_id == b))
    values = {"id": uuid.uuid4(), "tenant": a, "user": user.id, "role": b_role}
    if session.bind.dialect.name == "sqlite":  # type: ignore[union-attr]
        values = {k: v.hex for k, v in values.items()}  # SQLite stores UUIDs as 32 hex chars

    with pytest.raises(IntegrityError):
        async with session.begin_nested():
            await session.execute(
                text(
                    "INSERT INTO memberships (id, tenant_id, user_id, role_id, status, "
                    "created_at, updated_at, version) VALUES (:id, :tenant, :user, :role, "
                    "'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"
                ),
                values,
            )

    count = await session.scalar(select(func.count()).where(Membership.user_id == user.id))
    assert count == 0


async def test_the_database_transaction_knows_the_bound_tenant(
    session: AsyncSession, engine_name: str
) -> None:
    if engine_name != "postgresql":
        pytest.skip("the transaction-level tenant setting exists on PostgreSQL")
    tenant = await add_tenant(session)

    await bind_tenant(session, tenant.id)
    setting = await session.scalar(text("SELECT current_setting('app.tenant_id')"))

    assert setting == str(tenant.id)


def _setting_router() -> APIRouter:
    router = APIRouter(route_class=NexusRoute)

    @router.get("/test/tenant-setting")
    async def setting(
        session: Session,
        ctx: Annotated[RequestContext, require(None, module="identity")],
    ) -> dict[str, str | None]:
        found = await session.scalar(text("SELECT current_setting('app.tenant_id', true)"))
        return {"setting": found}

    return router


async def test_a_request_carries_its_callers_tenant_on_the_transaction(
    settings: Settings, database: Database, engine_name: str
) -> None:
    if engine_name != "postgresql":
        pytest.skip("the transaction-level tenant setting exists on PostgreSQL")
    tenant = await make_tenant(database)
    app = app_with(settings, database, _setting_router())
    by_key = {"Authorization": f"Bearer {tenant.api_key}"}

    async with await client_for(app) as client:
        with_key = await client.get("/test/tenant-setting", headers=by_key)
        with_token = await client.get("/test/tenant-setting", headers=tenant.headers)

    assert with_key.json() == {"setting": str(tenant.tenant_id)}
    assert with_token.json() == {"setting": str(tenant.tenant_id)}


_ROLE_KEYS = select(Role.key).order_by(Role.key)


async def test_a_statement_built_once_is_scoped_to_each_tenant_it_runs_for(
    session: AsyncSession,
) -> None:
    """The guard keeps one scoped copy of a statement; each run passes its own tenant."""
    a, b = await _two_tenants(session)
    for _ in range(2):
        await bind_tenant(session, a)
        assert list(await session.scalars(_ROLE_KEYS)) == ["cashier", "clerk"]
        await bind_tenant(session, b)
        assert list(await session.scalars(_ROLE_KEYS)) == ["driver"]
    await bind_tenant(session, None)
    with pytest.raises(TenantContextMissing):
        await session.execute(_ROLE_KEYS)


async def test_an_orm_bulk_update_by_primary_key_cannot_reach_another_tenants_row(
    session: AsyncSession,
) -> None:
    """SQLAlchemy applies no criteria to it: the guard checks the tenant each row names."""
    a, b = await _two_tenants(session)
    with across_tenants(session):
        found = await session.execute(select(Role.key, Role.id).where(Role.tenant_id.in_([a, b])))
        ids = {key: id_ for key, id_ in found}
    rows = [
        {"tenant_id": a, "id": ids["clerk"], "version": 1, "name": "Head clerk"},
        {"tenant_id": b, "id": ids["driver"], "version": 1, "name": "Stolen"},
    ]

    with pytest.raises(TenantContextMissing, match="bulk UPDATE names another tenant"):
        await session.execute(update(Role), rows)

    assert await _all_roles(session, a) == [("cashier", "Cashier"), ("clerk", "Clerk")]
    assert await _all_roles(session, b) == [("driver", "Driver")]


async def test_a_self_join_scopes_both_sides_with_the_one_parameter(
    session: AsyncSession,
) -> None:
    _, b = await _two_tenants(session)
    await bind_tenant(session, b)
    other = aliased(Role)

    rows = await session.execute(
        select(Role.key, other.key).join(other, other.tenant_id == Role.tenant_id)
    )

    assert [tuple(row) for row in rows] == [("driver", "driver")]


def _past_the_orm() -> dict[str, object]:
    """Statements that reach a tenant table as a Table, which the guard cannot scope."""
    roles = Role.__table__
    return {
        "Table column": select(roles.c.key),
        "whole Table": select(roles),
        "Table UPDATE": update(roles).values(name="x"),
        "Table DELETE": delete(roles),
    }


@pytest.mark.parametrize("shape", list(_past_the_orm()))
async def test_a_tenant_table_reached_past_the_orm_is_refused_even_with_a_tenant(
    session: AsyncSession, shape: str
) -> None:
    a, _ = await _two_tenants(session)
    await bind_tenant(session, a)
    with pytest.raises(TenantContextMissing, match="reached as a Table"):
        await session.execute(_past_the_orm()[shape])  # type: ignore[call-overload]


async def test_across_tenants_may_read_a_tenant_table_past_the_orm_on_purpose(
    session: AsyncSession,
) -> None:
    await _two_tenants(session)
    with across_tenants(session):
        keys = sorted((await session.scalars(select(Role.__table__.c.key))).all())
    assert {"cashier", "clerk", "driver"} <= set(keys)


_ROLE_BY_ID = select(Role.key, Role.name).where(Role.id == bindparam("role_id"))


async def test_a_scoped_read_sees_only_the_bound_tenants_rows(session: AsyncSession) -> None:
    a, b = await _two_tenants(session)
    with across_tenants(session):
        ids = {
            key: id_
            for key, id_ in await session.execute(
                select(Role.key, Role.id).where(Role.tenant_id.in_([a, b]))
            )
        }

    for _ in range(2):  # the scoped copy is made once and serves both tenants
        await bind_tenant(session, a)
        mine = await read_scoped(session, Role, _ROLE_BY_ID, {"role_id": ids["clerk"]})
        theirs = await read_scoped(session, Role, _ROLE_BY_ID, {"role_id": ids["driver"]})
        assert [tuple(row) for row in mine] == [("clerk", "Clerk")]
        assert theirs.one_or_none() is None
        await bind_tenant(session, b)
        found = await read_scoped(session, Role, _ROLE_BY_ID, {"role_id": ids["driver"]})
        assert [tuple(row) for row in found] == [("driver", "Driver")]


async def test_a_scoped_read_with_no_tenant_bound_fails_closed(session: AsyncSession) -> None:
    await _two_tenants(session)
    await bind_tenant(session, None)

    with pytest.raises(TenantContextMissing):
        await read_scoped(session, Role, _ROLE_BY_ID, {"role_id": uuid.uuid4()})


@pytest.mark.parametrize(
    "statement",
    [
        select(Role.key).join(Branch, Branch.tenant_id == Role.tenant_id),
        select(Branch.code),
    ],
    ids=["another tenant table joined", "another model's table"],
)
async def test_a_scoped_read_reaching_another_tenant_table_is_refused(
    session: AsyncSession, statement: Any
) -> None:
    a, _ = await _two_tenants(session)
    await bind_tenant(session, a)

    with pytest.raises(TenantContextMissing, match="read_scoped reads roles alone"):
        await read_scoped(session, Role, statement, {})


async def test_a_scoped_read_sees_what_the_session_has_not_yet_written(
    session: AsyncSession,
) -> None:
    await _two_tenants(session)
    role = with_defaults(Role(key="porter", name="Porter"))  # its id now, written later
    session.add(role)

    found = await read_scoped(session, Role, _ROLE_BY_ID, {"role_id": role.id})

    assert [tuple(row) for row in found] == [("porter", "Porter")]
