"""The tenant-isolation walk: every operation on a tenant resource, called by another tenant,
answers 404 and changes nothing. Generated from the OpenAPI document, so a new module's
operations are walked as soon as it registers a factory for its path parameters (and this
fails until it does)."""

from __future__ import annotations

import datetime as dt
import importlib
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from nexus.app import create_app
from nexus.core.db import Database
from nexus.core.registry import registry
from nexus.core.settings import Settings
from tests.identity.factories import TenantFixture, make_tenant
from tests.resources import RESOURCE_FACTORIES

TESTS = Path(__file__).parent
METHODS = ("get", "post", "put", "patch", "delete")
WRITES = ("post", "put", "patch")


def _import_factories() -> None:
    for path in sorted(TESTS.rglob("resource_factories.py")):
        dotted = ".".join(("tests", *path.relative_to(TESTS).with_suffix("").parts))
        importlib.import_module(dotted)


def _openapi() -> dict[str, Any]:
    settings = Settings(
        database_url="sqlite+aiosqlite:///:memory:",
        secret_keys=["route-listing-only"],
        log_format="console",
        log_level="WARNING",
        run_worker_in_server=False,
    )
    return create_app(settings).openapi()


_import_factories()
SPEC = _openapi()


def _parameters(path: str) -> list[str]:
    return re.findall(r"\{([^}]+)\}", path)


def _is_tenant_route(path: str) -> bool:
    return path.startswith("/api/v1/") and not path.startswith("/api/v1/platform")


TENANT_PATHS = {path: ops for path, ops in SPEC["paths"].items() if _is_tenant_route(path)}
WALK = [
    (method.upper(), path)
    for path, operations in TENANT_PATHS.items()
    for method in operations
    if method in METHODS and any(p in RESOURCE_FACTORIES for p in _parameters(path))
]


# --- a minimal valid body from the operation's schema ------------------------------------


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = SPEC["components"]["schemas"][name]
    return schema


def _string(schema: dict[str, Any]) -> str:
    formats = {
        "email": "walker@example.com",
        "uuid": str(uuid.uuid4()),
        "date-time": dt.datetime.now(dt.UTC).isoformat(),
        "date": "2026-01-01",
        "uri": "https://example.com/",
    }
    if schema.get("format") in formats:
        return formats[schema["format"]]
    text = "walk" * max(1, schema.get("minLength", 1))
    return text[: schema.get("maxLength", len(text))]


def _example(schema: dict[str, Any]) -> Any:
    schema = _resolve(schema)
    for choice in ("anyOf", "oneOf", "allOf"):
        if choice in schema:
            options = [_resolve(s) for s in schema[choice]]
            typed = [s for s in options if s.get("type") != "null"] or options
            return _example(typed[0])
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if schema.get("default") is not None:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        required = schema.get("required", [])
        return {k: _example(v) for k, v in schema.get("properties", {}).items() if k in required}
    if kind == "array":
        return [_example(schema.get("items", {})) for _ in range(schema.get("minItems", 0))]
    if kind == "string":
        return _string(schema)
    if kind in ("integer", "number"):
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return True
    return None


def _body(method: str, path: str) -> dict[str, Any] | None:
    operation = SPEC["paths"][path][method.lower()]
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return {} if method.lower() in WRITES else None
    schema = _resolve(content["schema"])
    body = _example(schema)
    if method == "PATCH" and "version" in schema.get("properties", {}):
        body["version"] = 1
    return body if isinstance(body, dict) else {}


def _snapshot_path(path: str) -> str | None:
    """The GET of the resource an operation acts on: the longest `…/{id}` prefix with a GET."""
    parts = path.split("/")
    for end in range(len(parts), 0, -1):
        prefix = "/".join(parts[:end])
        if prefix.endswith("}") and "get" in SPEC["paths"].get(prefix, {}):
            return prefix
    return None


def _fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: ids[m.group(1)], path)


# --- the walk --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def tenants(database: Database) -> tuple[TenantFixture, TenantFixture]:
    enabled = sorted(set(registry.modules) - registry.always_enabled())
    return await make_tenant(database, modules=enabled), await make_tenant(
        database, modules=enabled
    )


async def _get(client: httpx.AsyncClient, url: str, tenant: TenantFixture) -> Any:
    response = await client.get(url, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(("method", "path"), WALK, ids=[f"{m} {p}" for m, p in WALK])
async def test_another_tenant_gets_404_and_changes_nothing(
    client: httpx.AsyncClient,
    tenants: tuple[TenantFixture, TenantFixture],
    method: str,
    path: str,
) -> None:
    a, b = tenants
    ids = {
        name: await RESOURCE_FACTORIES[name](client, a)
        if name in RESOURCE_FACTORIES
        else str(uuid.uuid4())
        for name in _parameters(path)
    }
    snapshot = _snapshot_path(path)
    before = await _get(client, _fill(snapshot, ids), a) if snapshot else None
    body = _body(method, path)

    response = await client.request(
        method, _fill(path, ids), headers=b.headers, **({"json": body} if body is not None else {})
    )

    assert response.status_code == 404, f"{method} {path} by another tenant: {response.text}"
    assert response.headers["content-type"] == "application/problem+json"
    if snapshot:
        assert await _get(client, _fill(snapshot, ids), a) == before


def test_the_walk_covers_every_registered_factory() -> None:
    walked = {name for _, path in WALK for name in _parameters(path)}

    assert sorted(set(RESOURCE_FACTORIES) - walked) == []


def test_every_tenant_resource_id_has_a_factory() -> None:
    ids = {name for path in TENANT_PATHS for name in _parameters(path) if name.endswith("_id")}

    assert sorted(ids - set(RESOURCE_FACTORIES)) == []


def test_the_walk_has_operations_to_walk() -> None:
    assert WALK != []
