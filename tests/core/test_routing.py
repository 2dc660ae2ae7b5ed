"""The route index answers as Starlette's scan does, for every route of the application, and
leaves unknown paths, wrong methods and trailing slashes to Starlette."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import Scope

from nexus.app import create_app
from nexus.core.db import Database
from nexus.core.routing import IndexedDispatch
from nexus.core.settings import Settings

SAMPLE = str(uuid.UUID(int=7))


def _concrete(path: str) -> str:
    path = re.sub(r"\{[^}]+:path\}", "a/b", path)
    return re.sub(r"\{[^}]+\}", SAMPLE, path)


def _scope(method: str, path: str) -> Scope:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}


def _scan(routes: list[BaseRoute], scope: Scope) -> BaseRoute | None:
    """Starlette's own order: the first full match, else the first partial one."""
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return route
        if match == Match.PARTIAL and partial is None:
            partial = route
    return partial


@pytest.fixture(scope="module")
def app(settings: Settings, database: Database) -> FastAPI:
    return create_app(settings, database)


def test_every_route_is_found_as_starlette_would_find_it(app: FastAPI) -> None:
    dispatch = app.router.middleware_stack
    assert isinstance(dispatch, IndexedDispatch)
    routes = list(app.router.routes)
    probes = []
    for route in routes:
        path = _concrete(getattr(route, "path", "/"))
        if isinstance(route, Mount):
            path += "/console/app.css"
        for method in [*sorted(getattr(route, "methods", None) or {"GET"}), "PATCH", "DELETE"]:
            probes.append(_scope(method, path))
            probes.append(_scope(method, path + "/"))
    probes += [_scope("GET", p) for p in ("/", "/nope", "/api/v1/nope", "/api/v2/me", "//x")]

    for scope in probes:
        found = dispatch.find(dict(scope))
        assert (found[0] if found else None) is _scan(routes, dict(scope)), scope

    assert len(probes) > 2 * len(routes)
    tried = dispatch.index.candidates(f"/api/v1/crm/contacts/{SAMPLE}")
    assert 0 < len(tried) < len(routes) / 4


async def test_unknown_paths_wrong_methods_and_new_routes_behave_as_before(
    app: FastAPI,
) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://nexus.test") as client:
        unknown = await client.get("/api/v1/no-such-thing")
        wrong_method = await client.put("/api/v1/me")
        healthz = await client.get("/healthz")

        @app.get("/added-later")
        async def added_later() -> dict[str, bool]:
            return {"found": True}

        later = await client.get("/added-later")

    assert unknown.status_code == 404
    assert wrong_method.status_code == 405
    assert healthz.json() == {"status": "ok"}
    assert later.json() == {"found": True}
