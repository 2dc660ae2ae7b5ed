from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from nexus.core.db import Database
from nexus.core.http import NexusRoute
from nexus.core.settings import Settings
from tests.core.conftest import app_with, client_for

PROBLEM = "application/problem+json"


class Thing(BaseModel):
    x: int


def _router() -> APIRouter:
    router = APIRouter(route_class=NexusRoute)

    @router.post("/test/things", status_code=201)
    async def create(body: Thing) -> Thing:
        return body

    @router.get("/test/things/{thing_id}")
    async def get(thing_id: uuid.UUID) -> dict[str, str]:
        return {"id": str(thing_id)}

    return router


@pytest.fixture
def things_app(settings: Settings, database: Database) -> FastAPI:
    return app_with(settings, database, _router())


async def _call(app: FastAPI, method: str, path: str, **kwargs: object) -> httpx.Response:
    async with await client_for(app) as http:
        return await http.request(method, path, **kwargs)  # type: ignore[arg-type]


def _assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def test_a_valid_request_reaches_the_endpoint(things_app: FastAPI) -> None:
    response = await _call(things_app, "POST", "/test/things", json={"x": 3})

    assert response.status_code == 201
    assert response.json() == {"x": 3}


async def test_malformed_json_is_400_malformed_request(things_app: FastAPI) -> None:
    response = await _call(
        things_app,
        "POST",
        "/test/things",
        content=b'{"x": 3',
        headers={"content-type": "application/json"},
    )

    body = _assert_problem(response, 400, "malformed_request")
    assert body["instance"] == "/test/things"


async def test_a_json_body_without_a_content_type_is_read_as_json(things_app: FastAPI) -> None:
    sent = await _call(things_app, "POST", "/test/things", content=b'{"x": 3}')
    malformed = await _call(things_app, "POST", "/test/things", content=b'{"x": 3')

    assert (sent.status_code, sent.json()) == (201, {"x": 3})
    _assert_problem(malformed, 400, "malformed_request")


async def test_a_field_of_the_wrong_type_is_422_naming_the_field(things_app: FastAPI) -> None:
    response = await _call(things_app, "POST", "/test/things", json={"x": "three"})

    body = _assert_problem(response, 422, "validation_failed")
    errors = body["errors"]
    assert isinstance(errors, list)
    assert [error["field"] for error in errors] == ["body.x"]
    assert errors[0]["code"] == "int_parsing"


async def test_a_missing_field_is_422_naming_the_field(things_app: FastAPI) -> None:
    response = await _call(things_app, "POST", "/test/things", json={})

    body = _assert_problem(response, 422, "validation_failed")
    assert body["errors"] == [{"field": "body.x", "reason": "Field required", "code": "missing"}]


async def test_a_bad_path_parameter_is_422_naming_it(things_app: FastAPI) -> None:
    response = await _call(things_app, "GET", "/test/things/not-a-uuid")

    body = _assert_problem(response, 422, "validation_failed")
    assert [error["field"] for error in body["errors"]] == ["path.thing_id"]  # type: ignore[union-attr]


async def test_an_unknown_route_is_a_404_problem(things_app: FastAPI) -> None:
    response = await _call(things_app, "GET", "/test/nothing-here")

    body = _assert_problem(response, 404, "not_found")
    assert body["instance"] == "/test/nothing-here"


async def test_an_unsupported_method_is_a_405_problem(things_app: FastAPI) -> None:
    response = await _call(things_app, "DELETE", "/test/things")

    _assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"


async def test_problems_carry_the_callers_request_id(things_app: FastAPI) -> None:
    response = await _call(
        things_app, "GET", "/test/nothing-here", headers={"X-Request-ID": "trace-abc.123"}
    )

    body = _assert_problem(response, 404, "not_found")
    assert body["request_id"] == "trace-abc.123"
