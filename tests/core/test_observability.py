from __future__ import annotations

import logging
import re
import uuid

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from nexus.core.db import Database
from nexus.core.http import NexusRoute
from nexus.core.security import Keyring
from nexus.core.settings import Settings
from tests.core.conftest import app_with, client_for


def _router() -> APIRouter:
    router = APIRouter(route_class=NexusRoute)

    @router.get("/test/gauges/{gauge_id}")
    async def get(gauge_id: uuid.UUID) -> dict[str, str]:
        return {"id": str(gauge_id)}

    return router


@pytest.fixture
def gauges_app(settings: Settings, database: Database) -> FastAPI:
    return app_with(settings, database, _router())


async def test_healthz_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_answers_ok_when_the_database_is_reachable(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_readyz_is_503_when_the_database_is_unreachable(settings: Settings) -> None:
    keyring = Keyring(["observability-test-key"])
    broken = Database("sqlite+aiosqlite:////nonexistent-dir/nexus.db", keyring=keyring)
    app = app_with(settings, broken, APIRouter())
    try:
        async with await client_for(app) as http:
            response = await http.get("/readyz")
    finally:
        await broken.dispose()

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable"}


def _counter(metrics: str, method: str, route: str, status: int) -> float:
    labels = f'method="{method}",route="{route}",status="{status}"'
    pattern = re.compile(
        r"^nexus_http_requests_total\{" + re.escape(labels) + r"\} (\S+)$", re.MULTILINE
    )
    match = pattern.search(metrics)
    return float(match.group(1)) if match else 0.0


async def test_metrics_count_requests_by_route_template(gauges_app: FastAPI) -> None:
    async with await client_for(gauges_app) as http:
        before = _counter((await http.get("/metrics")).text, "GET", "/test/gauges/{gauge_id}", 200)
        await http.get(f"/test/gauges/{uuid.uuid4()}")
        await http.get(f"/test/gauges/{uuid.uuid4()}")
        response = await http.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = _counter(response.text, "GET", "/test/gauges/{gauge_id}", 200)
    assert after - before == 2.0
    assert "/test/gauges/0" not in response.text


async def test_a_callers_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "req-42.a_b"})

    assert response.headers["x-request-id"] == "req-42.a_b"


async def test_a_request_id_is_generated_when_none_is_sent(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_an_unsafe_request_id_is_replaced(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})

    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


def _access_records(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [
        record.msg
        for record in caplog.records
        if record.name == "nexus.access" and isinstance(record.msg, dict)
    ]


async def test_each_request_is_logged_by_route_when_access_logs_are_on(
    gauges_app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="nexus.access")
    gauge = uuid.uuid4()
    async with await client_for(gauges_app) as client:
        await client.get(f"/test/gauges/{gauge}")

    (entry,) = _access_records(caplog)
    assert (entry["event"], entry["method"], entry["route"], entry["status"]) == (
        "request",
        "GET",
        "/test/gauges/{gauge_id}",
        200,
    )
    assert entry["path"] == f"/test/gauges/{gauge}"


async def test_no_access_log_is_built_below_info(
    gauges_app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="nexus.access")
    async with await client_for(gauges_app) as client:
        await client.get(f"/test/gauges/{uuid.uuid4()}")

    assert _access_records(caplog) == []
