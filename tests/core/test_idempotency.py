from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from typing import Annotated

import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from sqlalchemy import func, select, update
from starlette.responses import JSONResponse

from nexus.core import idempotency
from nexus.core.audit import AuditEvent, record
from nexus.core.context import RequestContext
from nexus.core.db import Database
from nexus.core.errors import invalid
from nexus.core.http import NexusRoute, Session, require
from nexus.core.idempotency import IdempotencyKey
from nexus.core.settings import Settings
from nexus.core.types import utcnow
from tests.core.conftest import app_with, client_for
from tests.identity.factories import TenantFixture, make_tenant, unique

ACTION = "test.receipt.created"
Caller = Annotated[RequestContext, require(None, module="identity")]


class ReceiptCreate(BaseModel):
    amount: int


def _router() -> APIRouter:
    router = APIRouter(route_class=NexusRoute)

    @router.post("/test/receipts", status_code=201)
    async def create(body: ReceiptCreate, session: Session, ctx: Caller) -> JSONResponse:
        if body.amount < 0:
            raise invalid("body.amount", "A receipt cannot be negative")
        receipt_id = uuid.uuid4()
        record(session, ctx, ACTION, target_type="receipt", target_id=receipt_id)
        return JSONResponse({"id": str(receipt_id), "amount": body.amount}, status_code=201)

    return router


@pytest.fixture
def receipts_app(settings: Settings, database: Database) -> FastAPI:
    return app_with(settings, database, _router())


async def _post(app: FastAPI, tenant: TenantFixture, key: str, amount: int):  # type: ignore[no-untyped-def]
    async with await client_for(app) as http:
        return await http.post(
            "/test/receipts",
            json={"amount": amount},
            headers={**tenant.headers, "Idempotency-Key": key},
        )


async def _receipts(database: Database, tenant: TenantFixture) -> int:
    async with database.transaction() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.tenant_id == tenant.tenant_id, AuditEvent.action == ACTION)
        )
    return int(count or 0)


async def _key_row(database: Database, tenant: TenantFixture, key: str) -> IdempotencyKey | None:
    async with database.transaction() as session:
        return await session.get(IdempotencyKey, (str(tenant.tenant_id), key))


async def _in_flight(
    database: Database, tenant: TenantFixture, key: str, amount: int, lease: dt.timedelta
) -> None:
    """A key claimed by a request that is still running (or whose process died)."""
    body = json.dumps({"amount": amount}, separators=(",", ":")).encode()
    async with database.transaction() as session:
        session.add(
            IdempotencyKey(
                scope=str(tenant.tenant_id),
                key=key,
                request_hash=idempotency.request_fingerprint("POST", "/test/receipts?", body),
                lease_until=utcnow() + lease,
                expires_at=utcnow() + dt.timedelta(hours=24),
            )
        )


async def test_a_replay_returns_the_first_response_and_writes_nothing(
    receipts_app: FastAPI, database: Database
) -> None:
    tenant, key = await make_tenant(database), unique("key")
    first = await _post(receipts_app, tenant, key, 500)

    replay = await _post(receipts_app, tenant, key, 500)

    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    assert replay.status_code == 201
    assert replay.content == first.content
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["content-type"] == "application/json"
    assert await _receipts(database, tenant) == 1


async def test_the_same_key_with_another_body_is_422(
    receipts_app: FastAPI, database: Database
) -> None:
    tenant, key = await make_tenant(database), unique("key")
    await _post(receipts_app, tenant, key, 500)

    response = await _post(receipts_app, tenant, key, 900)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "idempotency_key_reused"
    assert await _receipts(database, tenant) == 1


async def test_the_same_key_in_flight_is_409(receipts_app: FastAPI, database: Database) -> None:
    tenant, key = await make_tenant(database), unique("key")
    await _in_flight(database, tenant, key, 500, lease=dt.timedelta(seconds=60))

    response = await _post(receipts_app, tenant, key, 500)

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_flight"
    assert response.headers["retry-after"] == "1"
    assert await _receipts(database, tenant) == 0


async def test_a_key_whose_lease_ran_out_is_usable_again(
    receipts_app: FastAPI, database: Database
) -> None:
    tenant, key = await make_tenant(database), unique("key")
    await _in_flight(database, tenant, key, 500, lease=dt.timedelta(seconds=-1))

    response = await _post(receipts_app, tenant, key, 500)

    assert response.status_code == 201
    assert await _receipts(database, tenant) == 1
    row = await _key_row(database, tenant, key)
    assert row is not None and row.status == idempotency.COMPLETED
    assert row.response_status == 201


async def test_a_failed_request_releases_its_key(receipts_app: FastAPI, database: Database) -> None:
    tenant, key = await make_tenant(database), unique("key")
    refused = await _post(receipts_app, tenant, key, -1)

    assert refused.status_code == 422
    assert await _key_row(database, tenant, key) is None

    retried = await _post(receipts_app, tenant, key, 700)

    assert retried.status_code == 201
    assert retried.json()["amount"] == 700
    assert await _receipts(database, tenant) == 1


async def test_keys_are_scoped_to_the_tenant(receipts_app: FastAPI, database: Database) -> None:
    a, b, key = await make_tenant(database), await make_tenant(database), unique("key")
    from_a = await _post(receipts_app, a, key, 500)

    from_b = await _post(receipts_app, b, key, 900)

    assert from_b.status_code == 201
    assert "idempotent-replayed" not in from_b.headers
    assert from_b.json()["amount"] == 900
    assert from_b.json()["id"] != from_a.json()["id"]
    assert (await _receipts(database, a), await _receipts(database, b)) == (1, 1)


async def test_an_expired_completed_key_starts_afresh(
    receipts_app: FastAPI, database: Database
) -> None:
    tenant, key = await make_tenant(database), unique("key")
    first = await _post(receipts_app, tenant, key, 500)
    async with database.transaction() as session:
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.scope == str(tenant.tenant_id), IdempotencyKey.key == key)
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )

    again = await _post(receipts_app, tenant, key, 500)

    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]
    assert await _receipts(database, tenant) == 2


async def test_a_concurrent_request_with_the_key_in_flight_is_409(
    settings: Settings, database: Database, engine_name: str
) -> None:
    if engine_name != "postgresql":
        pytest.skip("SQLite runs one write request at a time; the second waits for the first")
    entered, release = asyncio.Event(), asyncio.Event()
    router = APIRouter(route_class=NexusRoute)

    @router.post("/test/receipts", status_code=201)
    async def create(body: ReceiptCreate, session: Session, ctx: Caller) -> JSONResponse:
        record(session, ctx, ACTION, target_type="receipt", target_id=uuid.uuid4())
        entered.set()
        await release.wait()
        return JSONResponse({"amount": body.amount}, status_code=201)

    app = app_with(settings, database, router)
    tenant, key = await make_tenant(database), unique("key")
    first = asyncio.create_task(_post(app, tenant, key, 500))
    await asyncio.wait_for(entered.wait(), timeout=10)

    second = await _post(app, tenant, key, 500)
    release.set()

    assert second.status_code == 409
    assert second.json()["code"] == "idempotency_key_in_flight"
    assert (await first).status_code == 201
    assert await _receipts(database, tenant) == 1


async def test_an_api_key_caller_is_served_promptly(
    receipts_app: FastAPI, database: Database
) -> None:
    # The key's first use is recorded in its own transaction, and the Idempotency-Key is
    # claimed in another: neither may wait on the request's own transaction.
    tenant, key = await make_tenant(database), unique("key")

    async with await client_for(receipts_app) as http:
        response = await asyncio.wait_for(
            http.post(
                "/test/receipts",
                json={"amount": 250},
                headers={"Authorization": f"Bearer {tenant.api_key}", "Idempotency-Key": key},
            ),
            timeout=10,
        )

    assert response.status_code == 201
    assert await _receipts(database, tenant) == 1
    row = await _key_row(database, tenant, key)
    assert row is not None and row.status == idempotency.COMPLETED
