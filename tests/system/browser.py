"""Headless Chromium (Debian's build) driven by Playwright, for the console's browser tests.

Each test gets a fresh browser context (its own cookies) through `Browsing.page()`; every page
records console errors and CSP violations, which the test then asserts are absent.
Screenshots go to `test-artifacts/screenshots/<engine>/` (git-ignored).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("NEXUS_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}


@dataclass
class PageLog:
    """What the browser complained about while a page was open."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("response", self._response)

    def _response(self, response: Any) -> None:
        # A page answered 403 or 404 may be what the test wants; its styles, scripts and
        # images must always load.
        if response.status >= 400 and response.request.resource_type != "document":
            self.errors.append(f"{response.status} for {response.url}")

    def _console(self, message: Any) -> None:
        if message.text.startswith("Failed to load resource"):
            return  # judged by status in _response
        if message.type in ("error", "warning") or "Content Security Policy" in message.text:
            where = message.location.get("url", "") if message.location else ""
            self.errors.append(f"{message.type}: {message.text} ({where})")


@dataclass
class Browsing:
    browser: Browser
    base_url: str
    engine: str
    contexts: list[BrowserContext] = field(default_factory=list)
    logs: list[PageLog] = field(default_factory=list)

    def page(self, *, phone: bool = False) -> Page:
        context = self.browser.new_context(
            base_url=self.base_url,
            viewport=PHONE if phone else DESKTOP,
            is_mobile=phone,
            has_touch=phone,
            locale="en-GB",
        )
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        page = context.new_page()
        log = PageLog()
        log.watch(page)
        self.logs.append(log)
        return page

    def screenshot(self, page: Page, name: str) -> Path:
        folder = ROOT / "test-artifacts" / "screenshots" / self.engine
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    def problems(self) -> list[str]:
        return [error for log in self.logs for error in log.errors]

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_test_id("sign-in-submit").click()
    page.wait_for_url(re.compile(r".*/$"))


def wait_for(check: Callable[[], Any], *, timeout: float = 15, what: str = "condition") -> Any:
    """Poll until `check()` returns something truthy (mail delivered by the server's worker)."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except AssertionError as error:
            last_error = error
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}: {last_error}")
