"""`/docs`: Swagger UI served from our own origin, under a strict Content-Security-Policy.

The Swagger UI files come from npm (`swagger-ui-dist`, pinned by package-lock.json); `make`
copies them into `static/vendor/swagger-ui/`, which is not committed. The page loads only
same-origin files: the bundle, its stylesheet and `static/docs-init.js`, with no inline script
or style and without the standalone preset (it injects an inline `<style>`).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import FastAPI, Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from nexus.core.errors import NexusError
from nexus.core.http import problem_response

STATIC_DIR = Path(__file__).parent / "static"
SWAGGER_UI_DIR = STATIC_DIR / "vendor" / "swagger-ui"
SWAGGER_UI_FILES = ("swagger-ui-bundle.js", "swagger-ui.css")
#: Swagger UI's stylesheet embeds its icons as `data:` images; nothing else leaves 'self'.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'"
)
DOCS_HEADERS = {"Content-Security-Policy": DOCS_CSP, "X-Content-Type-Options": "nosniff"}


class DocsAssetsMissing(NexusError):
    status, code, title = 503, "docs_assets_missing", "The API docs are not installed"


def swagger_ui_installed() -> bool:
    return all((SWAGGER_UI_DIR / name).is_file() for name in SWAGGER_UI_FILES)


def docs_page(*, title: str, openapi_url: str, static_url: str = "/static") -> str:
    """The Swagger UI page: three same-origin files and a mount point, nothing inline."""
    vendor = f"{static_url}/vendor/swagger-ui"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} API</title>
<link rel="icon" type="image/png" href="{vendor}/favicon-32x32.png">
<link rel="stylesheet" href="{vendor}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></div>
<script src="{vendor}/swagger-ui-bundle.js"></script>
<script src="{static_url}/docs-init.js"></script>
</body>
</html>
"""


def install_docs(app: FastAPI) -> None:
    """Mount `/static` and `/docs` on the app (set `docs_url=None` when creating it)."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> Response:
        if not swagger_ui_installed():
            missing = DocsAssetsMissing(
                detail="Swagger UI files are missing from nexus/core/static/vendor: run "
                "`make run` (or `make install-dev`), which fetches them with npm ci"
            )
            return problem_response(missing, request)
        root = request.scope.get("root_path", "")
        page = docs_page(
            title=app.title,
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            static_url=root + "/static",
        )
        return HTMLResponse(page, headers=DOCS_HEADERS)
