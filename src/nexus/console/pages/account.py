"""A person's own account: the pages e-mailed links open (forgotten and reset passwords,
accepting an invitation, confirming the e-mail address) and the profile (name, e-mail,
password, two-step sign-in, sessions).

The link pages' paths are fixed: identity's mails already point at them.
"""

from __future__ import annotations

from typing import Any

import segno
from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.console import security
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
    settings_of,
)
from nexus.core.context import RequestContext
from nexus.core.errors import NexusError
from nexus.identity.errors import InvalidToken
from nexus.identity.schemas.auth import (
    AcceptInvitation,
    ChangePassword,
    EmailToken,
    ForgotPassword,
    ResetPassword,
    TotpCode,
)
from nexus.identity.service import account, auth, me, mfa

router = new_router()

FORGOT = "identity/forgot_password.html"
RESET = "identity/reset_password.html"
INVITATION = "identity/accept_invitation.html"
VERIFY = "identity/verify_email.html"
PROFILE = "identity/profile.html"


def _public_base_url(request: Request) -> str:
    return settings_of(request).public_base_url


def _passwords_differ(
    request: Request, values: dict[str, Any], field: str, confirm: str
) -> Form | None:
    """A form with an error on `confirm` when the password was not typed the same twice."""
    if values.get(field, "") == values.get(confirm, ""):
        return None
    kept = {k: v for k, v in values.items() if "password" not in k}
    return Form(kept, {confirm: gettext(request, "The two passwords are not the same.")})


def _link_form(request: Request, values: dict[str, Any], error: NexusError) -> Form:
    """The form of an e-mailed link's page with the problem; a dead link says what to do."""
    form = form_with_error(values, error)
    if isinstance(error, InvalidToken) and error.detail is None:
        form.message = gettext(
            request, "This link has expired or was already used. Ask for a new one."
        )
    return form


def _missing_token(request: Request, token: str) -> Form:
    form = Form.empty(token=token)
    if not token:
        form.message = gettext(request, "This link is incomplete: open the link in the mail again.")
    return form


# --- forgotten and reset passwords ---------------------------------------------------------


@router.get("/forgot-password")
async def forgot_password_page(request: Request, sent: bool = False) -> Response:
    return await render(request, FORGOT, {"form": Form.empty(), "sent": sent})


@router.post("/forgot-password")
async def forgot_password(request: Request, session: Session, origin: ConsoleOrigin) -> Response:
    values = await read_form(request)
    try:
        body = parse(ForgotPassword, values)
        await account.forgot_password(
            session, origin, email=body.email, public_base_url=_public_base_url(request)
        )
    except NexusError as error:
        context = {"form": form_with_error(values, error), "sent": False}
        return await render(request, FORGOT, context, status=error.status)
    # The same answer whether or not the address has an account.
    return redirect(request, "/forgot-password?sent=1")


@router.get("/reset-password")
async def reset_password_page(request: Request, token: str = "") -> Response:
    return await render(request, RESET, {"form": _missing_token(request, token)})


@router.post("/reset-password")
async def reset_password(request: Request, session: Session, origin: ConsoleOrigin) -> Response:
    values = await read_form(request)
    differ = _passwords_differ(request, values, "password", "password_confirm")
    if differ is not None:
        return await render(request, RESET, {"form": differ}, status=422)
    try:
        body = parse(
            ResetPassword, {"token": values.get("token", ""), "password": values.get("password")}
        )
        await account.reset_password(session, origin, token=body.token, password=body.password)
    except NexusError as error:
        form = _link_form(request, values, error)
        return await render(request, RESET, {"form": form}, status=error.status)
    response = redirect(request, "/sign-in")
    # Every session of the account is revoked, this browser's too.
    security.clear_session_cookie(response, settings_of(request))
    return flash(response, gettext(request, "Your password is changed; sign in with it."))


# --- accepting an invitation ---------------------------------------------------------------


async def _invitation_closed(request: Request, error: NexusError, token: str) -> Response:
    form = _link_form(request, {"token": token}, error)
    context = {"form": form, "invitation": None}
    return await render(request, INVITATION, context, status=error.status)


@router.get("/accept-invitation")
async def accept_invitation_page(request: Request, session: Session, token: str = "") -> Response:
    try:
        invitation = await auth.describe_invitation(session, token=token)
    except NexusError as error:
        return await _invitation_closed(request, error, token)
    form = Form.empty(token=token, name=invitation.name)
    return await render(request, INVITATION, {"form": form, "invitation": invitation})


@router.post("/accept-invitation")
async def accept_invitation(request: Request, session: Session, origin: ConsoleOrigin) -> Response:
    values = await read_form(request)
    token = str(values.get("token", ""))
    try:
        invitation = await auth.describe_invitation(session, token=token)
    except NexusError as error:
        return await _invitation_closed(request, error, token)
    password = None if invitation.has_password else values.get("password")
    differ = _passwords_differ(request, values, "password", "password_confirm")
    if password is not None and differ is not None:
        context = {"form": differ, "invitation": invitation}
        return await render(request, INVITATION, context, status=422)
    try:
        body = parse(
            AcceptInvitation,
            {"token": token, "name": values.get("name") or invitation.name, "password": password},
        )
        accepted = await auth.accept_invitation(
            session, origin, token=body.token, name=body.name, password=body.password
        )
    except NexusError as error:
        context = {"form": _link_form(request, values, error), "invitation": invitation}
        return await render(request, INVITATION, context, status=error.status)
    if accepted.signed_in is None:
        # Two-step sign-in is on: the membership is active; the code finishes the sign-in.
        context = {"challenge": accepted.challenge_token, "next": "/", "form": Form.empty()}
        return await render(request, "identity/mfa.html", context)
    response = _signed_in(request, accepted.signed_in.console_secret)
    message = gettext(request, "Welcome to %(name)s.", name=invitation.tenant_name)
    return flash(response, message)


def _signed_in(request: Request, secret: str | None) -> Response:
    settings = settings_of(request)
    response = redirect(request, "/")
    assert secret is not None, "a console origin starts a console session"
    security.set_session_cookie(response, settings, secret, settings.console_session_hours)
    return response


# --- confirming the e-mail address ---------------------------------------------------------


@router.get("/verify-email")
async def verify_email_page(request: Request, token: str = "") -> Response:
    return await render(request, VERIFY, {"form": _missing_token(request, token)})


@router.post("/verify-email")
async def verify_email(request: Request, session: Session, origin: ConsoleOrigin) -> Response:
    values = await read_form(request)
    try:
        body = parse(EmailToken, {"token": values.get("token", "")})
        user = await account.verify_email(session, origin, token=body.token)
    except NexusError as error:
        form = _link_form(request, values, error)
        return await render(request, VERIFY, {"form": form}, status=error.status)
    target = "/profile" if await current_caller(request) is not None else "/sign-in"
    message = gettext(request, "Your e-mail address %(email)s is confirmed.", email=user.email)
    return flash(redirect(request, target), message)


# --- the profile ---------------------------------------------------------------------------


async def _profile(
    request: Request,
    session: AsyncSession,
    ctx: RequestContext,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **forms: Any,
) -> Response:
    """The profile page; `forms` replaces a section's blank form (with its errors) or adds
    a new enrolment's secret and QR code."""
    own = await me.describe_own_account(session, ctx)
    context: dict[str, Any] = {
        "account": own,
        "sessions": await me.list_own_sessions(session, ctx),
        "name_form": Form.empty(name=own.name),
        "password_form": Form.empty(),
        "mfa_form": Form.empty(),
        "enrolment": None,
        "qr": None,
    }
    context.update(forms)
    return await render(request, PROFILE, context, status=status, headers=headers)


def _saved(request: Request, message: str) -> Response:
    return flash(redirect(request, "/profile"), message)


@router.get("/profile")
async def profile(request: Request, session: Session, ctx: Caller) -> Response:
    return await _profile(request, session, ctx)


@router.post("/profile/name")
async def update_name(request: Request, session: Session, ctx: Caller) -> Response:
    values = await read_form(request)
    try:
        await me.update_own_name(session, ctx, name=str(values.get("name", "")))
    except NexusError as error:
        form = form_with_error(values, error)
        return await _profile(request, session, ctx, name_form=form, status=error.status)
    return _saved(request, gettext(request, "Your name is saved."))


@router.post("/profile/verify-email")
async def request_email_verification(request: Request, session: Session, ctx: Caller) -> Response:
    sent = await account.request_email_verification(
        session, ctx, public_base_url=_public_base_url(request)
    )
    if not sent:
        return _saved(request, gettext(request, "Your e-mail address is already confirmed."))
    return _saved(request, gettext(request, "We sent you a link to confirm your e-mail address."))


@router.post("/profile/password")
async def change_password(
    request: Request, session: Session, ctx: Caller, origin: ConsoleOrigin
) -> Response:
    values = await read_form(request)
    differ = _passwords_differ(request, values, "new_password", "new_password_confirm")
    if differ is not None:
        return await _profile(request, session, ctx, password_form=differ, status=422)
    try:
        body = parse(
            ChangePassword,
            {
                "current_password": values.get("current_password"),
                "new_password": values.get("new_password"),
            },
        )
        # The service spares the caller's own session (this console session) and revokes
        # every other one.
        await account.change_password(
            session,
            ctx,
            origin,
            current_password=body.current_password,
            new_password=body.new_password,
        )
    except NexusError as error:
        form = form_with_error(values, error)
        return await _profile(request, session, ctx, password_form=form, status=error.status)
    return _saved(
        request, gettext(request, "Your password is changed; your other sessions are signed out.")
    )


@router.post("/profile/mfa/enrol")
async def enrol_mfa(request: Request, session: Session, ctx: Caller) -> Response:
    try:
        enrolment = await mfa.enrol(session, ctx)
    except NexusError as error:
        form = Form({}, {}, error.detail or error.title)
        return await _profile(request, session, ctx, mfa_form=form, status=error.status)
    qr = segno.make(enrolment.otpauth_uri).svg_data_uri(scale=4)
    # The secret is shown once, on this answer only: keep it out of caches.
    headers = {"Cache-Control": "no-store"}
    return await _profile(request, session, ctx, enrolment=enrolment, qr=qr, headers=headers)


@router.post("/profile/mfa/confirm")
async def confirm_mfa(request: Request, session: Session, ctx: Caller) -> Response:
    values = await read_form(request)
    try:
        body = parse(TotpCode, {"code": values.get("code", "")})
        await mfa.confirm(session, ctx, code=body.code)
    except NexusError as error:
        form = form_with_error(values, error)
        return await _profile(request, session, ctx, mfa_form=form, status=error.status)
    return _saved(request, gettext(request, "Two-step sign-in is on."))


@router.post("/profile/mfa/disable")
async def disable_mfa(request: Request, session: Session, ctx: Caller) -> Response:
    values = await read_form(request)
    try:
        body = parse(TotpCode, {"code": values.get("code", "")})
        await mfa.disable(session, ctx, code=body.code)
    except NexusError as error:
        form = form_with_error(values, error)
        return await _profile(request, session, ctx, mfa_form=form, status=error.status)
    return _saved(request, gettext(request, "Two-step sign-in is off."))


@router.post("/profile/sessions/sign-out-others")
async def sign_out_other_sessions(request: Request, session: Session, ctx: Caller) -> Response:
    await me.revoke_other_sessions(session, ctx)
    return _saved(request, gettext(request, "Your other sessions are signed out."))
