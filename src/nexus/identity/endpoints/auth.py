"""`/api/v1/auth`: sign in and out, tokens, e-mail links, passwords, two-step sign-in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from nexus.core.context import RequestContext
from nexus.core.http import NexusRoute, Session, authenticated, client_address, problems
from nexus.core.settings import Settings
from nexus.identity.schemas.auth import (
    AcceptInvitation,
    ChangePassword,
    EmailToken,
    EmailVerified,
    ForgotPassword,
    InvitationAccepted,
    Login,
    Message,
    MfaStatus,
    MfaVerify,
    PermissionCheck,
    PermissionVerdict,
    Refresh,
    ResetPassword,
    SwitchTenant,
    TokenResponse,
    TotpCode,
    TotpEnrolment,
)
from nexus.identity.service import account, auth, mfa
from nexus.identity.service.attempts import Origin

router = APIRouter(route_class=NexusRoute, prefix="/api/v1/auth", tags=["auth"])
Caller = Annotated[RequestContext, authenticated()]


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def origin_of(request: Request) -> Origin:
    settings = settings_of(request)
    return Origin(
        client_address=client_address(request),
        user_agent=request.headers.get("user-agent"),
        request_id=getattr(request.state, "request_id", None),
        access_minutes=settings.access_token_minutes,
        refresh_days=settings.refresh_token_days,
    )


RequestOrigin = Annotated[Origin, Depends(origin_of)]
AppSettings = Annotated[Settings, Depends(settings_of)]


def _token_response(signed_in: auth.SignedIn) -> TokenResponse:
    tokens = signed_in.pair
    return TokenResponse(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        token_type=tokens.token_type,
        expires_in=tokens.expires_in,
        tenant_id=signed_in.tenant_id,
        tenant_slug=signed_in.tenant_slug,
    )


# --- signing in and out --------------------------------------------------------------------


@router.post(
    "/login",
    response_model=TokenResponse,
    summary="Sign in with e-mail and password",
    description=(
        "Returns a token pair. With two-step sign-in on, answers 401 `mfa_required` with a "
        "`challenge_token` for `mfa/verify`. Belonging to several businesses without naming "
        "one answers 422 `tenant_required` listing their slugs in `tenants`. Failed attempts "
        "are limited per account and per client address (429 with `Retry-After`)."
    ),
    responses=problems(401, 403, 422, 429),
)
async def login(body: Login, session: Session, origin: RequestOrigin) -> TokenResponse:
    signed_in = await auth.login(
        session, origin, email=body.email, password=body.password, tenant_slug=body.tenant
    )
    return _token_response(signed_in)


@router.post(
    "/mfa/verify",
    response_model=TokenResponse,
    summary="Finish a sign-in with the authenticator code",
    responses=problems(401, 403, 429),
)
async def verify_mfa(body: MfaVerify, session: Session, origin: RequestOrigin) -> TokenResponse:
    signed_in = await auth.verify_mfa(
        session, origin, challenge_token=body.challenge_token, code=body.code
    )
    return _token_response(signed_in)


@router.post(
    "/refresh",
    response_model=TokenResponse,
    summary="Swap a refresh token for a new pair",
    description=(
        "Each refresh token works once. Sending one again signs its whole session out "
        "(401 `refresh_token_reused`): every token of that session stops working."
    ),
    responses=problems(401, 403),
)
async def refresh(body: Refresh, session: Session, origin: RequestOrigin) -> TokenResponse:
    signed_in = await auth.refresh(session, origin, refresh_token=body.refresh_token)
    return _token_response(signed_in)


@router.post(
    "/logout",
    status_code=204,
    response_class=Response,
    summary="Sign out this session",
    description="Revokes the session of the access token; API keys get 422.",
    responses=problems(422),
)
async def logout(session: Session, ctx: Caller) -> Response:
    await auth.logout(session, ctx)
    return Response(status_code=204)


@router.post(
    "/switch-tenant",
    response_model=TokenResponse,
    summary="A token pair for another business you belong to",
    responses=problems(403, 404, 422),
)
async def switch_tenant(
    body: SwitchTenant, session: Session, ctx: Caller, origin: RequestOrigin
) -> TokenResponse:
    signed_in = await auth.switch_tenant(session, ctx, origin, tenant_slug=body.tenant)
    return _token_response(signed_in)


@router.post(
    "/accept-invitation",
    response_model=InvitationAccepted,
    summary="Join a business you were invited to",
    description=(
        "Uses the token of the invitation mail. Someone without a password chooses one here; "
        "someone who has one must not send it. With two-step sign-in on, the answer holds a "
        "`challenge_token` for `mfa/verify` instead of tokens."
    ),
    responses=problems(401, 403, 422),
)
async def accept_invitation(
    body: AcceptInvitation, session: Session, origin: RequestOrigin
) -> InvitationAccepted:
    accepted = await auth.accept_invitation(
        session, origin, token=body.token, name=body.name, password=body.password
    )
    if accepted.signed_in is None:
        return InvitationAccepted(
            tenant_id=accepted.tenant_id,
            tenant_slug=accepted.tenant_slug,
            challenge_token=accepted.challenge_token,
        )
    tokens = accepted.signed_in.pair
    return InvitationAccepted(
        tenant_id=accepted.tenant_id,
        tenant_slug=accepted.tenant_slug,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        token_type=tokens.token_type,
        expires_in=tokens.expires_in,
    )


@router.post(
    "/check",
    response_model=PermissionVerdict,
    summary="Whether the caller holds a permission here, and why",
)
async def check(body: PermissionCheck, ctx: Caller) -> PermissionVerdict:
    allowed, reason = auth.check_permission(ctx, body.permission)
    return PermissionVerdict(allowed=allowed, reason=reason)


# --- e-mail address and passwords ----------------------------------------------------------


@router.post(
    "/verify-email/request",
    status_code=202,
    response_model=Message,
    summary="Mail me a link that confirms my e-mail address",
    responses=problems(422),
)
async def request_email_verification(
    session: Session, ctx: Caller, settings: AppSettings
) -> Message:
    sent = await account.request_email_verification(
        session, ctx, public_base_url=settings.public_base_url
    )
    if not sent:
        return Message(message="Your e-mail address is already confirmed")
    return Message(message="We sent you a link to confirm your e-mail address")


@router.post(
    "/verify-email",
    response_model=EmailVerified,
    summary="Confirm an e-mail address with the mailed token",
    responses=problems(401),
)
async def verify_email(body: EmailToken, session: Session, origin: RequestOrigin) -> EmailVerified:
    user = await account.verify_email(session, origin, token=body.token)
    assert user.email_verified_at is not None
    return EmailVerified(email=user.email, email_verified_at=user.email_verified_at)


FORGOT_ANSWER = "If an account uses this address, we sent it a link to reset the password"


@router.post(
    "/forgot-password",
    status_code=202,
    response_model=Message,
    summary="Mail a password-reset link",
    description="Answers the same whether or not the address has an account.",
    responses=problems(429),
)
async def forgot_password(
    body: ForgotPassword, session: Session, origin: RequestOrigin, settings: AppSettings
) -> Message:
    await account.forgot_password(
        session, origin, email=body.email, public_base_url=settings.public_base_url
    )
    return Message(message=FORGOT_ANSWER)


@router.post(
    "/reset-password",
    response_model=Message,
    summary="Choose a new password with the mailed token",
    description="Signs every session of the account out.",
    responses=problems(401, 422),
)
async def reset_password(body: ResetPassword, session: Session, origin: RequestOrigin) -> Message:
    await account.reset_password(session, origin, token=body.token, password=body.password)
    return Message(message="Your password is changed; sign in with it")


@router.post(
    "/password",
    response_model=Message,
    summary="Change my password",
    description="Signs every other session of the account out.",
    responses=problems(422, 429),
)
async def change_password(
    body: ChangePassword, session: Session, ctx: Caller, origin: RequestOrigin
) -> Message:
    await account.change_password(
        session,
        ctx,
        origin,
        current_password=body.current_password,
        new_password=body.new_password,
    )
    return Message(message="Your password is changed; your other sessions are signed out")


# --- two-step sign-in ------------------------------------------------------------------------


@router.post(
    "/mfa/totp/enrol",
    response_model=TotpEnrolment,
    summary="Start two-step sign-in with an authenticator app",
    description="Not on until `mfa/totp/confirm` receives a first code.",
    responses=problems(409, 422),
)
async def enrol_totp(session: Session, ctx: Caller) -> TotpEnrolment:
    enrolment = await mfa.enrol(session, ctx)
    return TotpEnrolment(secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri)


@router.post(
    "/mfa/totp/confirm",
    response_model=MfaStatus,
    summary="Turn two-step sign-in on with a first code",
    responses=problems(409, 422),
)
async def confirm_totp(body: TotpCode, session: Session, ctx: Caller) -> MfaStatus:
    user = await mfa.confirm(session, ctx, code=body.code)
    return MfaStatus(mfa_enabled=True, mfa_enabled_at=user.mfa_enabled_at)


@router.post(
    "/mfa/totp/disable",
    response_model=MfaStatus,
    summary="Turn two-step sign-in off",
    responses=problems(409, 422),
)
async def disable_totp(body: TotpCode, session: Session, ctx: Caller) -> MfaStatus:
    await mfa.disable(session, ctx, code=body.code)
    return MfaStatus(mfa_enabled=False, mfa_enabled_at=None)
