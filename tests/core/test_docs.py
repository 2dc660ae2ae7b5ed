from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from nexus.core import docs

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'"
)


def _referenced_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]*)"', html)


async def test_docs_page_is_served_with_its_own_csp(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_docs_page_references_only_local_files(client: httpx.AsyncClient) -> None:
    html = (await client.get("/docs")).text

    assert _referenced_urls(html) == [
        "/static/vendor/swagger-ui/favicon-32x32.png",
        "/static/vendor/swagger-ui/swagger-ui.css",
        "/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "/static/docs-init.js",
    ]
    assert 'data-openapi-url="/openapi.json"' in html


async def test_docs_page_has_no_inline_script_or_style(client: httpx.AsyncClient) -> None:
    html = (await client.get("/docs")).text

    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "<style" not in html
    assert "style=" not in html
    assert "standalone" not in html.lower()


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/static/vendor/swagger-ui/swagger-ui-bundle.js", "text/javascript"),
        ("/static/vendor/swagger-ui/swagger-ui.css", "text/css"),
        ("/static/docs-init.js", "text/javascript"),
    ],
)
async def test_docs_assets_are_served(
    client: httpx.AsyncClient, path: str, media_type: str
) -> None:
    response = await client.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type
    assert len(response.content) > 0


async def test_init_script_points_at_the_openapi_document(client: httpx.AsyncClient) -> None:
    script = (await client.get("/static/docs-init.js")).text

    assert "SwaggerUIBundle(" in script
    assert '"/openapi.json"' in script
    assert "SwaggerUIStandalonePreset" not in script


async def test_missing_static_file_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/static/vendor/swagger-ui/nothing-here.js")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_docs_without_swagger_ui_files_is_a_503_problem(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(docs, "SWAGGER_UI_DIR", tmp_path / "missing")

    response = await client.get("/docs")

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "docs_assets_missing"
    assert "make run" in body["detail"]


async def test_openapi_document_is_openapi_3_1(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")

    assert response.status_code == 200
    document = response.json()
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    assert document["info"]["title"] == "NEXUS"
    assert "/api/v1/me" in document["paths"]
