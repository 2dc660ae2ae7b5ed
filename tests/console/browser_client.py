"""A form-posting client for console tests: keeps cookies, reads the CSRF token from each
page like a browser would, and posts forms with it."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.identity.factories import PASSWORD

_CSRF = re.compile(r'name="csrf-token" content="([0-9a-f]*)"')


class Console:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.csrf = ""

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.http.get(path, **kwargs)
        found = _CSRF.search(response.text)
        if found and found.group(1):
            self.csrf = found.group(1)
        return response

    async def post(
        self, path: str, data: dict[str, Any] | None = None, **kwargs: Any
    ) -> httpx.Response:
        if not self.csrf:
            await self.get("/sign-in")
        fields = {"csrf_token": self.csrf, **(data or {})}
        response = await self.http.post(path, data=fields, **kwargs)
        found = _CSRF.search(response.text)
        if found and found.group(1):
            self.csrf = found.group(1)
        return response

    async def sign_in(self, email: str, password: str = PASSWORD, **extra: str) -> httpx.Response:
        await self.get("/sign-in")
        return await self.post("/sign-in", {"email": email, "password": password, **extra})
