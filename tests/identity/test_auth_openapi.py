"""The published contract of `/api/v1/auth`."""

from __future__ import annotations

import httpx

BODILESS = {
    "/api/v1/auth/logout",
    "/api/v1/auth/verify-email/request",
    "/api/v1/auth/mfa/totp/enrol",
}


async def test_every_auth_operation_is_documented(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    operations = {
        path: ops["post"]
        for path, ops in schema["paths"].items()
        if path.startswith("/api/v1/auth/")
    }

    assert len(operations) == 15
    for path, operation in operations.items():
        assert operation["summary"], path
        assert "422" in operation["responses"], path
        if path in BODILESS:
            assert "requestBody" not in operation, path
            continue
        reference = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        body = schema["components"]["schemas"][reference.rsplit("/", 1)[1]]
        assert body["additionalProperties"] is False, path
        assert body["examples"], path


async def test_login_documents_its_own_problems(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()

    responses = schema["paths"]["/api/v1/auth/login"]["post"]["responses"]

    assert {"200", "401", "403", "422", "429"} <= set(responses)
    assert "security" not in schema["paths"]["/api/v1/auth/login"]["post"]
    assert schema["paths"]["/api/v1/auth/logout"]["post"]["security"] == [{"bearer": []}]
