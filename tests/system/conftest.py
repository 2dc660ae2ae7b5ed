"""Tier 3: a live `nexus serve` subprocess on a fresh database, with mail to the test mailbox."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from nexus.core.db import Database
from nexus.core.registry import registry
from nexus.core.security import Keyring
from nexus.modules import load_modules
from tests.conftest import SECRET_KEYS, fresh_database_url
from tests.identity.factories import TenantFixture, make_tenant
from tests.mailbox import Mailbox

T = TypeVar("T")
NEXUS = Path(sys.executable).parent / "nexus"
ROOT = Path(__file__).resolve().parents[2]


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on its own loop (system tests are synchronous)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def nexus_environment(database_url: str, mailbox: Mailbox, **extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NEXUS_")}
    environment.update(
        {
            "NEXUS_DATABASE_URL": database_url,
            "NEXUS_SECRET_KEYS": ",".join(SECRET_KEYS),
            "NEXUS_SMTP_URL": mailbox.url,
            "NEXUS_LOG_LEVEL": "WARNING",
            "NEXUS_WORKER_POLL_SECONDS": "0.1",
        }
    )
    environment.update(extra)
    return environment


class NexusProcess:
    """`nexus serve` (or `nexus worker`) as a child process, with its output kept in files."""

    def __init__(self, command: list[str], environment: dict[str, str], logs: Path) -> None:
        self.command = command
        self.environment = environment
        self.logs = logs
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> NexusProcess:
        self.logs.mkdir(parents=True, exist_ok=True)
        output = (self.logs / f"{int(time.time() * 1000)}.log").open("wb")
        self.process = subprocess.Popen(
            self.command, env=self.environment, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT
        )
        return self

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("*.log")))

    def kill(self) -> int:
        """SIGKILL: no shutdown, no cleanup, as when a machine dies."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        return self.process.wait(timeout=10)

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.terminate()
        try:
            return self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=10)


class LiveServer(NexusProcess):
    def __init__(self, database_url: str, mailbox: Mailbox, logs: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        environment = nexus_environment(database_url, mailbox, NEXUS_PUBLIC_BASE_URL=self.base_url)
        super().__init__([str(NEXUS), "serve", "--port", str(self.port)], environment, logs)

    def start(self) -> LiveServer:
        super().start()
        self.wait_until_ready()
        return self

    def wait_until_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"nexus serve exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"nexus serve was not ready in {timeout} s:\n{self.output()}")


def database_for(url: str) -> Database:
    return Database(url, keyring=Keyring(SECRET_KEYS), pool_size=1)


@pytest.fixture(scope="session")
def live_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from fresh_database_url(tmp_path_factory.mktemp("live"), "live")


@pytest.fixture(scope="session")
def live_server(
    live_database_url: str, mailbox: Mailbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    server = LiveServer(live_database_url, mailbox, tmp_path_factory.mktemp("serve-logs"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def live_tenant(live_server: LiveServer, live_database_url: str) -> TenantFixture:
    """A business made in the live server's database, with its owner's API key."""

    load_modules()

    async def make() -> TenantFixture:
        database = database_for(live_database_url)
        try:
            # Every module on, so schemathesis reaches each module's operations.
            enabled = sorted(set(registry.modules) - registry.always_enabled())
            return await make_tenant(database, modules=enabled)
        finally:
            await database.dispose()

    return run_async(make())


# --- the browser -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from fresh_database_url(tmp_path_factory.mktemp("browser"), "browser")


@pytest.fixture(scope="module")
def browser_server(
    browser_database_url: str, mailbox: Mailbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A live server of the browser tests' own: the API tests' traffic from the same address
    (schemathesis) must not spend the browser's sign-in and reset allowances."""
    server = LiveServer(browser_database_url, mailbox, tmp_path_factory.mktemp("browser-logs"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser_tenant(browser_server: LiveServer, browser_database_url: str) -> TenantFixture:
    load_modules()

    async def make() -> TenantFixture:
        database = database_for(browser_database_url)
        try:
            return await make_tenant(database)
        finally:
            await database.dispose()

    return run_async(make())


@pytest.fixture
def browsing(browser_server: LiveServer, engine_name: str) -> Iterator[Any]:
    """Fresh browser contexts on the live server; fails the test on console errors or CSP
    violations seen by any of its pages. Chromium is launched per test: Playwright's sync API
    holds an event loop on this thread while it runs, which the async fixtures must not meet."""
    from playwright.sync_api import sync_playwright

    from tests.system.browser import CHROMIUM, CHROMIUM_ARGS, Browsing

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: make test installs it (apt chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        session = Browsing(browser, browser_server.base_url, engine_name)
        try:
            yield session
            assert session.problems() == [], "the browser reported errors"
        finally:
            session.close()
            browser.close()
