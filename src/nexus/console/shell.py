"""The console shell: how a page is rendered and routed.

`ConsoleRoute` is the route class of every console page (any module's): one transaction per
request (it is a `NexusRoute`), the caller from the session cookie (never a bearer token), a
CSRF check on every unsafe request, and errors as pages: no session → the sign-in page, a
missing permission → 403, a module the business has not enabled or a record of another
business → 404.

`render()` draws a template on the layout with what every page needs: the caller, the
business and the businesses the user may switch to, the navigation of enabled modules, the
CSRF token, flash messages and the locale's gettext.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.console import i18n, security
from nexus.core.context import RequestContext
from nexus.core.db import database_of
from nexus.core.errors import (
    FieldError,
    ModuleNotEnabled,
    NexusError,
    NotFound,
    PermissionDenied,
    TenantSuspended,
    Unauthenticated,
)
from nexus.core.http import NexusRoute, caller, client_address
from nexus.core.registry import NavEntry, registry
from nexus.core.settings import Settings
from nexus.identity.service import credentials

TEMPLATES = Path(__file__).parent / "templates"
#: Template folders of modules above the console (each module adds its own).
_template_folders: list[Path] = [TEMPLATES]
_environments: dict[str, jinja2.Environment] = {}
FLASH_COOKIE = "nexus_flash"


def add_templates(folder: Path) -> None:
    """A module's `templates/` folder, searched after the shell's."""
    if folder not in _template_folders:
        _template_folders.append(folder)
        _environments.clear()


def environment(locale: str) -> jinja2.Environment:
    env = _environments.get(locale)
    if env is None:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(p) for p in _template_folders]),
            autoescape=True,
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
        )
        env.install_gettext_translations(i18n.translations(locale), newstyle=True)  # type: ignore[attr-defined]
        env.filters["datetime"] = _format_datetime
        _environments[locale] = env
    return env


def _format_datetime(value: Any, timezone: str | None = None) -> str:
    """A UTC time in the business's timezone, `2026-11-25 14:03`."""
    if value is None:
        return "—"
    if timezone:
        from zoneinfo import ZoneInfo

        value = value.astimezone(ZoneInfo(timezone))
    return str(value.strftime("%Y-%m-%d %H:%M"))


def gettext(request: Request, message: str, **variables: Any) -> str:
    """Translate a message of Python code (flash messages, errors) for this request."""
    text = i18n.translations(i18n.request_locale(request)).gettext(message)
    return text % variables if variables else text


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# --- the caller: a console session -----------------------------------------------------------


async def _cookie_caller(request: Request, session: AsyncSession) -> RequestContext | None:
    secret = request.cookies.get(security.session_cookie_name(settings_of(request)))
    if not secret:
        return None
    try:
        return await credentials.console_caller(
            session,
            secret,
            request_id=getattr(request.state, "request_id", None),
            client_address=client_address(request),
        )
    except Unauthenticated:
        request.state.stale_session = True
        return None


async def current_caller(request: Request) -> RequestContext | None:
    session: AsyncSession = request.state.session
    return await caller(request, session)


# --- the route class -----------------------------------------------------------------------


class ConsoleRoute(NexusRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            request.state.caller_resolver = _cookie_caller
            settings = settings_of(request)
            seed, new_seed = security.csrf_seed(request, settings)
            request.state.csrf_seed = seed
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                refused = await _csrf_refusal(request, seed, new_seed)
                if refused is not None:
                    return refused
            try:
                response = await inner(request)
            except NexusError as error:
                response = await _error_page_in_own_session(request, error)
            if new_seed:
                security.set_csrf_cookie(response, settings, seed)
            if getattr(request.state, "stale_session", False):
                security.clear_session_cookie(response, settings)
            return response

        return handler


async def _csrf_refusal(request: Request, seed: str, new_seed: bool) -> Response | None:
    keyring = request.app.state.database.keyring
    token = request.headers.get(security.CSRF_HEADER)
    if token is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(security.CSRF_FIELD)
        token = value if isinstance(value, str) else None
    if not new_seed and security.csrf_ok(keyring, seed, token):
        return None
    return HTMLResponse(
        environment(i18n.request_locale(request))
        .get_template("shell/error.html")
        .render(
            **_bare_context(request),
            status=403,
            title=gettext(request, "This form has expired"),
            detail=gettext(request, "Go back, reload the page and try again."),
        ),
        status_code=403,
    )


async def _error_page_in_own_session(request: Request, error: NexusError) -> Response:
    """The request's session is closed (rolled back) once the error left the handler: the
    error page reads what the layout shows in a short read session of its own."""
    if isinstance(error, TenantSuspended):
        # The session is refused: draw the page as for a visitor and drop the cookie, so the
        # next page is the sign-in form (where another business may be chosen).
        request.state.caller = None
        request.state.stale_session = True
    async with request.app.state.database.session(write=False) as session:
        request.state.session = session
        return await error_page(request, error)


async def error_page(request: Request, error: NexusError) -> Response:
    """A console error: sign-in for the unauthenticated, an error page otherwise."""
    if isinstance(error, Unauthenticated):
        return redirect(request, sign_in_url(request))
    if isinstance(error, ModuleNotEnabled | NotFound):
        status, title = 404, gettext(request, "Not found")
        detail = gettext(request, "There is nothing here, or it belongs to another business.")
    elif isinstance(error, TenantSuspended):
        status, title = 403, gettext(request, "This business is suspended")
        detail = gettext(request, "Contact the operator of this NEXUS to reactivate it.")
    elif isinstance(error, PermissionDenied):
        status, title = 403, gettext(request, "You do not have access to this page")
        detail = gettext(request, "Ask an owner or admin of your business for the permission.")
    else:
        status, title, detail = error.status, error.title, error.detail or ""
    return await render(
        request,
        "shell/error.html",
        {"status": status, "title": title, "detail": detail},
        status=status,
    )


def sign_in_url(request: Request) -> str:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    if request.method != "GET" or target == "/":
        return "/sign-in"
    return "/sign-in?next=" + quote(target, safe="")


def redirect(request: Request, url: str) -> Response:
    """303 to `url`; for htmx requests, an `HX-Redirect` so the whole page follows."""
    if request.headers.get("hx-request") == "true":
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def safe_next(value: str | None) -> str:
    """Only same-site paths may be redirected to after sign-in."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


# --- flash messages ------------------------------------------------------------------------


def flash(response: Response, message: str, kind: str = "success") -> Response:
    """A message shown once on the next page (e.g. after a redirect)."""
    payload = base64.urlsafe_b64encode(json.dumps([kind, message]).encode()).decode()
    response.set_cookie(FLASH_COOKIE, payload, max_age=60, path="/", httponly=True, samesite="lax")
    return response


def _take_flash(request: Request) -> list[tuple[str, str]]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    try:
        kind, message = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except (ValueError, TypeError):
        return []
    request.state.flash_taken = True
    return [(str(kind), str(message))]


# --- forms ---------------------------------------------------------------------------------


@dataclass
class Form:
    """Submitted values and the errors to show next to each field (and above the form)."""

    values: dict[str, Any]
    errors: dict[str, str]
    message: str | None = None

    @classmethod
    def empty(cls, **values: Any) -> Form:
        return cls(dict(values), {})

    def value(self, name: str, default: Any = "") -> Any:
        return self.values.get(name, default)

    def error(self, name: str) -> str | None:
        return self.errors.get(name)


async def read_form(request: Request) -> dict[str, Any]:
    """The submitted fields; repeated names (checkboxes) become lists."""
    data = await request.form()
    values: dict[str, Any] = {}
    for key in data:
        if key == security.CSRF_FIELD:
            continue
        items = [v for v in data.getlist(key) if isinstance(v, str)]
        values[key] = items if len(items) > 1 else (items[0] if items else "")
    return values


def form_with_error(values: Mapping[str, Any], error: NexusError) -> Form:
    """A problem's per-field errors placed on the form's fields (`body.email` → `email`)."""
    errors: dict[str, str] = {}
    for item in error.errors:
        errors.setdefault(_field_name(item), item.reason)
    message = error.detail or error.title
    return Form({k: v for k, v in values.items() if "password" not in k}, errors, message)


def _field_name(item: FieldError) -> str:
    parts = item.field.split(".")
    if parts and parts[0] in ("body", "query", "path"):
        parts = parts[1:]
    return ".".join(parts) or item.field


def validation_errors(exc: Any) -> list[FieldError]:
    """pydantic ValidationError → FieldErrors named like the API's (`body.<field>`)."""
    found = []
    for item in exc.errors():
        location = ".".join(str(p) for p in item["loc"]) or "body"
        found.append(FieldError(f"body.{location}", item["msg"], item.get("type", "invalid")))
    return found


# --- rendering -----------------------------------------------------------------------------


def _bare_context(request: Request) -> dict[str, Any]:
    locale = i18n.request_locale(request)
    seed = getattr(request.state, "csrf_seed", None)
    token = security.csrf_token(request.app.state.database.keyring, seed) if seed else ""
    return {
        "request": request,
        "locale": locale,
        "locales": i18n.LOCALES,
        "csrf_token": token,
        "csrf_field": security.CSRF_FIELD,
        "ctx": None,
        "tenant": None,
        "tenants": [],
        "nav": [],
        "platform_nav": [],
        "flashes": [],
        "user": None,
        "dev": settings_of(request).dev,
    }


def navigation(ctx: RequestContext | None, area: str) -> list[NavEntry]:
    """The entries of the enabled modules the caller may open, in order."""
    if ctx is None:
        return []
    entries = []
    for module in registry.modules.values():
        if area == "platform" and not ctx.is_operator:
            continue
        for entry in module.nav:
            if entry.area != area:
                continue
            # A tenant page shows when the module its permission belongs to is enabled.
            owner = entry.permission.split(".")[0] if entry.permission else module.name
            if area == "tenant" and (ctx.tenant_id is None or owner not in ctx.enabled_modules):
                continue
            if entry.permission is None or ctx.can(entry.permission):
                entries.append(entry)
    return sorted(entries, key=lambda e: (e.order, e.label))


async def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    page = _bare_context(request)
    session: AsyncSession | None = getattr(request.state, "session", None)
    ctx = await current_caller(request) if session is not None else None
    if ctx is not None and session is not None:
        from nexus.console import chrome

        page.update(await chrome.of(session, ctx))
        page["nav"] = navigation(ctx, "tenant")
        page["platform_nav"] = navigation(ctx, "platform")
    page["ctx"] = ctx
    page["flashes"] = _take_flash(request)
    page.update(context or {})
    html = environment(page["locale"]).get_template(template).render(**page)
    response = HTMLResponse(html, status_code=status, headers=dict(headers or {}))
    if getattr(request.state, "flash_taken", False):
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def database_for(session: AsyncSession) -> Any:
    return database_of(session)


def new_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError):
        return None
