from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.console.browser_client import Console


@pytest.fixture
async def console(app) -> AsyncIterator[Console]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="https://nexus.test") as http:
        yield Console(http)


@pytest.fixture
async def second_console(app) -> AsyncIterator[Console]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, client=("203.0.113.10", 50002))
    async with httpx.AsyncClient(transport=transport, base_url="https://nexus.test") as http:
        yield Console(http)
