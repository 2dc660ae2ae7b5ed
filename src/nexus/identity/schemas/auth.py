"""API shapes of `/api/v1/auth`: signing in and out, tokens, e-mail links, passwords, TOTP."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints

from nexus.identity.schemas import Schema
from nexus.identity.schemas.team import NoNul

Email = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320), NoNul
]
#: Any password a person may type; the rules for a new one are checked by the service.
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
Slug = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=63), NoNul]
Token = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048), NoNul
]
SixDigits = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{6}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoNul]


class Login(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"email": "ada@example.com", "password": "correct horse battery staple"},
                {
                    "email": "ada@example.com",
                    "password": "correct horse battery staple",
                    "tenant": "ada-bakery",
                },
            ]
        }
    )

    email: Email
    password: Password
    tenant: Slug | None = Field(
        default=None, description="The business's slug; needed when you belong to several"
    )


class TokenResponse(Schema):
    """An access token (JWT, short-lived) and the refresh token that renews it (single use)."""

    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int = Field(description="Seconds until the access token expires")
    tenant_id: uuid.UUID | None = Field(description="Null for a platform operator's token")
    tenant_slug: str | None


class MfaVerify(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"challenge_token": "eyJhbGciOi…", "code": "123456"}]}
    )

    challenge_token: Token = Field(description="From the `mfa_required` problem of login")
    code: SixDigits


class Refresh(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"refresh_token": "nxr_…"}]})

    refresh_token: Token


class SwitchTenant(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"tenant": "ada-bakery"}]})

    tenant: Slug


class Message(Schema):
    """What happened, in words."""

    message: str


class EmailToken(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"token": "Zr4…"}]})

    token: Token


class EmailVerified(Schema):
    email: str
    email_verified_at: dt.datetime


class ForgotPassword(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"email": "ada@example.com"}]})

    email: Email


class ResetPassword(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"token": "Zr4…", "password": "a new long passphrase"}]}
    )

    token: Token
    password: Password = Field(description="12 to 128 characters, not your e-mail")


class ChangePassword(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "current_password": "correct horse battery staple",
                    "new_password": "a new long passphrase",
                }
            ]
        }
    )

    current_password: Password
    new_password: Password = Field(description="12 to 128 characters, not your e-mail")


class PermissionCheck(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"permission": "crm.contact.read"}]})

    permission: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class PermissionVerdict(Schema):
    allowed: bool
    reason: str = Field(examples=["granted by role owner", "module crm is not enabled"])


class TotpEnrolment(Schema):
    """The secret to put in an authenticator app (or scan as the `otpauth://` URI's QR code)."""

    secret: str
    otpauth_uri: str


class TotpCode(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"code": "123456"}]})

    code: SixDigits


class MfaStatus(Schema):
    mfa_enabled: bool
    mfa_enabled_at: dt.datetime | None


class AcceptInvitation(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"token": "Zr4…", "name": "Bola Adeyemi", "password": "a new long passphrase"},
                {"token": "Zr4…", "name": "Bola Adeyemi"},
            ]
        }
    )

    token: Token
    name: Name
    password: Password | None = Field(
        default=None, description="Required when you have no password yet; refused otherwise"
    )


class InvitationAccepted(Schema):
    """The membership is active. With two-step sign-in on, finish at `mfa/verify` with the
    `challenge_token`; otherwise the token pair is here."""

    tenant_id: uuid.UUID
    tenant_slug: str
    access_token: str | None = None
    refresh_token: str | None = None
    token_type: str | None = None
    expires_in: int | None = None
    challenge_token: str | None = None
