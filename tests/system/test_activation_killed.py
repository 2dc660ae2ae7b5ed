"""Activation is one transaction: a server killed (SIGKILL) in the middle of one leaves no
trace of the business, and the same business can then be activated."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from nexus.identity.models import Tenant, User
from tests.conftest import fresh_database_url
from tests.identity.factories import unique
from tests.mailbox import Mailbox
from tests.system.conftest import (
    ROOT,
    LiveServer,
    NexusProcess,
    database_for,
    free_port,
    nexus_environment,
    run_async,
)

pytestmark = pytest.mark.system


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    yield from fresh_database_url(tmp_path, "killed")


def _spec(slug: str, *modules: str) -> dict[str, Any]:
    return {
        "business": {"name": "Killed Midway Ltd", "slug": slug, "industry": "retail"},
        "country": "NG",
        "owner": {"name": "Ada", "email": f"{slug}@example.com"},
        "locations": [{"name": "Main shop", "address": {"line1": "1 Broad St", "city": "Lagos"}}],
        "modules": {"enabled": list(modules)},
    }


def _traces(database_url: str, slug: str) -> tuple[int, int]:
    async def count() -> tuple[int, int]:
        database = database_for(database_url)
        try:
            async with database.session(write=False) as session:
                tenants = await session.scalar(
                    select(func.count()).select_from(Tenant).where(Tenant.slug == slug)
                )
                users = await session.scalar(
                    select(func.count())
                    .select_from(User)
                    .where(User.email == f"{slug}@example.com")
                )
                return int(tenants or 0), int(users or 0)
        finally:
            await database.dispose()

    return run_async(count())


def test_a_server_killed_mid_activation_leaves_no_trace(
    database_url: str, mailbox: Mailbox, tmp_path: Path
) -> None:
    started = tmp_path / "step-started"
    port = free_port()
    environment = nexus_environment(
        database_url,
        mailbox,
        NEXUS_OPEN_SIGNUP="true",
        NEXUS_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        NEXUS_TEST_STEP_STARTED=str(started),
        PYTHONPATH=str(ROOT),
    )
    command = [sys.executable, str(ROOT / "tests/system/slow_activation_server.py")]
    server = NexusProcess([*command, "serve", "--port", str(port)], environment, tmp_path / "log")
    server.start()
    slug = unique("killed")
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(server, base)
        caller = threading.Thread(
            target=lambda: _post_ignoring_failure(
                f"{base}/api/v1/activate", _spec(slug, "slowstep")
            ),
            daemon=True,
        )
        caller.start()
        deadline = time.monotonic() + 30
        while not started.exists():
            assert time.monotonic() < deadline, f"the slow step never started:\n{server.output()}"
            time.sleep(0.05)

        assert server.kill() == -9
    finally:
        server.stop()

    assert _traces(database_url, slug) == (0, 0)
    again = LiveServer(database_url, mailbox, tmp_path / "again")
    again.environment["NEXUS_OPEN_SIGNUP"] = "true"
    again.start()
    try:
        response = httpx.post(f"{again.base_url}/api/v1/activate", json=_spec(slug), timeout=30)
        assert response.status_code == 201, response.text
    finally:
        again.stop()
    assert _traces(database_url, slug) == (1, 1)


def _post_ignoring_failure(url: str, body: dict[str, Any]) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the server dies under this request
        httpx.post(url, json=body, timeout=60)


def _wait_ready(server: NexusProcess, base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.process is not None
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited early:\n{server.output()}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server was not ready:\n{server.output()}")
