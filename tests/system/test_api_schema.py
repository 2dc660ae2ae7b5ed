"""Every documented operation, fuzzed against the live server: no server errors, and every
response matches the OpenAPI document (status, content type, body)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from nexus.app import create_app
from nexus.core.settings import Settings
from tests.identity.factories import TenantFixture
from tests.system.conftest import LiveServer

pytestmark = pytest.mark.system


def _document() -> dict[str, Any]:
    """The OpenAPI document the app serves, built in-process so operations are known when
    tests are collected (the live server serves the same one; a test checks that)."""
    app = create_app(
        Settings(
            database_url="sqlite+aiosqlite:///:memory:",
            secret_keys=["schema-listing-only"],
            log_format="console",
            log_level="WARNING",
            run_worker_in_server=False,
        )
    )
    document: dict[str, Any] = json.loads(json.dumps(app.openapi()))
    return document


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT)
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.specs.openapi.checks.status_code_conformance,
    schemathesis.specs.openapi.checks.content_type_conformance,
    schemathesis.specs.openapi.checks.response_schema_conformance,
]


def test_the_live_server_serves_the_document_under_test(live_server: LiveServer) -> None:
    served = httpx.get(f"{live_server.base_url}/openapi.json", timeout=10)

    assert served.status_code == 200
    assert served.json() == DOCUMENT


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_conforms_to_its_documentation(
    case: schemathesis.Case, live_server: LiveServer, live_tenant: TenantFixture
) -> None:
    case.call_and_validate(
        base_url=live_server.base_url,
        headers={"Authorization": f"Bearer {live_tenant.api_key}"},
        checks=CHECKS,
    )
