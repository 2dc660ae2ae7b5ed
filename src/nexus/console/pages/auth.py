"""Signing in and out of the console, the two-step code, switching business, language."""

from __future__ import annotations

from fastapi import Request, Response

from nexus.console import i18n, security
from nexus.console.pages.common import Caller, ConsoleOrigin, Session, new_router, parse
from nexus.console.shell import (
    Form,
    current_caller,
    flash,
    form_with_error,
    gettext,
    read_form,
    redirect,
    render,
    safe_next,
    settings_of,
)
from nexus.core.errors import NexusError
from nexus.identity.errors import MfaRequired, TenantRequired
from nexus.identity.schemas.auth import Login, MfaVerify
from nexus.identity.service import auth

router = new_router()


def _signed_in(request: Request, secret: str | None, target: str) -> Response:
    settings = settings_of(request)
    response = redirect(request, safe_next(target))
    assert secret is not None
    security.set_session_cookie(response, settings, secret, settings.console_session_hours)
    return response


@router.get("/sign-in")
async def sign_in_page(request: Request, next: str | None = None) -> Response:
    if await current_caller(request) is not None:
        return redirect(request, safe_next(next))
    return await render(request, "identity/sign_in.html", {"form": Form.empty(), "next": next})


@router.post("/sign-in")
async def sign_in(request: Request, session: Session, origin: ConsoleOrigin) -> Response:
    values = await read_form(request)
    target = str(values.pop("next", "") or "/")
    tenants: list[str] = []
    try:
        body = parse(Login, {k: v for k, v in values.items() if v != "" or k == "password"})
        signed = await auth.login(
            session, origin, email=body.email, password=body.password, tenant_slug=body.tenant
        )
    except MfaRequired as error:
        context = {
            "challenge": error.extra["challenge_token"],
            "next": target,
            "form": Form.empty(),
        }
        return await render(request, "identity/mfa.html", context)
    except TenantRequired as error:
        tenants = list(error.extra.get("tenants", []))
        form = form_with_error(values, error)
        form.message = gettext(request, "You belong to several businesses: choose one.")
        context = {"form": form, "next": target, "tenants": tenants}
        return await render(request, "identity/sign_in.html", context, status=422)
    except NexusError as error:
        form = form_with_error(values, error)
        context = {"form": form, "next": target, "tenants": tenants}
        return await render(request, "identity/sign_in.html", context, status=error.status)
    return _signed_in(request, signed.console_secret, target)


@router.post("/sign-in/mfa")
async def sign_in_mfa(request: Request, session: Session, origin: ConsoleOrigin) -> Response:
    values = await read_form(request)
    target = str(values.get("next") or "/")
    challenge = str(values.get("challenge_token", ""))
    try:
        body = parse(MfaVerify, {"challenge_token": challenge, "code": values.get("code", "")})
        signed = await auth.verify_mfa(
            session, origin, challenge_token=body.challenge_token, code=body.code
        )
    except NexusError as error:
        context = {"challenge": challenge, "next": target, "form": form_with_error(values, error)}
        return await render(request, "identity/mfa.html", context, status=error.status)
    return _signed_in(request, signed.console_secret, target)


@router.post("/sign-out")
async def sign_out(request: Request, session: Session) -> Response:
    ctx = await current_caller(request)
    if ctx is not None:
        await auth.logout(session, ctx)
    response = redirect(request, "/sign-in")
    security.clear_session_cookie(response, settings_of(request))
    return flash(response, gettext(request, "You are signed out."))


@router.post("/switch-tenant")
async def switch_tenant(
    request: Request, session: Session, ctx: Caller, origin: ConsoleOrigin
) -> Response:
    values = await read_form(request)
    signed = await auth.switch_tenant(session, ctx, origin, tenant_slug=str(values.get("tenant")))
    await auth.logout(session, ctx)  # the console keeps one session per browser
    response = _signed_in(request, signed.console_secret, "/")
    return flash(response, gettext(request, "You are now in %(name)s.", name=signed.tenant_slug))


@router.post("/locale")
async def choose_locale(request: Request) -> Response:
    values = await read_form(request)
    locale = str(values.get("locale", ""))
    back = request.headers.get("referer", "/")
    path = "/" + back.split("/", 3)[3] if back.count("/") >= 3 else "/"
    response = redirect(request, safe_next(path))
    if locale in i18n.LOCALES:
        response.set_cookie(
            i18n.LOCALE_COOKIE, locale, max_age=365 * 86400, path="/", samesite="lax"
        )
    return response
