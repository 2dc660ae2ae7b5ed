"""A value the database refuses is the caller's problem (422), whatever the driver calls it."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter
from sqlalchemy import select, text

from nexus.app import create_app
from nexus.core.http import NexusRoute, Session
from nexus.core.settings import Settings


@pytest.fixture
async def refusing_client(settings: Settings, database) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    app = create_app(settings, database)
    router = APIRouter(route_class=NexusRoute)

    @router.get("/probe/nul")
    async def nul(session: Session) -> dict[str, str]:
        # A NUL byte in a query parameter bound as text: PostgreSQL refuses it (SQLSTATE 22021)
        # and asyncpg reports a plain DBAPIError; SQLite stores it.
        value = await session.scalar(select(text(":v")).params(v="a\x00b"))
        return {"value": str(value).replace("\x00", "\\0")}

    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://nexus.test") as http:
        yield http  # type: ignore[misc]


async def test_a_refused_value_is_a_422_not_a_server_error(
    refusing_client: httpx.AsyncClient, engine_name: str
) -> None:
    response = await refusing_client.get("/probe/nul")

    if engine_name == "postgresql":
        assert response.status_code == 422
        assert response.json()["code"] == "validation_failed"
    else:
        assert response.status_code == 200
        assert response.json() == {"value": "a\\0b"}
