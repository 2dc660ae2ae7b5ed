"""The console's cookies, CSRF tokens and security headers.

- Session: identity's server-side console session; the cookie holds its secret (HttpOnly,
  SameSite=Lax; `__Host-` prefixed and Secure outside dev mode).
- CSRF: a random value in its own HttpOnly cookie; forms carry an HMAC of it in `csrf_token`,
  htmx requests in the `X-CSRF-Token` header (set by `console.js` from a meta tag). Every
  unsafe request to a console page must carry a matching token.
- Headers: a strict Content-Security-Policy (no inline script or style anywhere), no framing,
  nosniff, a referrer policy, and HSTS outside dev mode. `/docs` keeps its own policy.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nexus.core.security import Keyring
from nexus.core.settings import Settings

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)


def _secure(settings: Settings) -> bool:
    return not settings.dev


def session_cookie_name(settings: Settings) -> str:
    return "nexus_session" if settings.dev else "__Host-nexus_session"


def csrf_cookie_name(settings: Settings) -> str:
    return "nexus_csrf" if settings.dev else "__Host-nexus_csrf"


def set_session_cookie(response: Response, settings: Settings, secret: str, hours: int) -> None:
    response.set_cookie(
        session_cookie_name(settings),
        secret,
        max_age=hours * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(settings),
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        session_cookie_name(settings),
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(settings),
    )


def csrf_seed(request: Request, settings: Settings) -> tuple[str, bool]:
    """The request's CSRF cookie value, and whether it is new (to be set on the response)."""
    seed = request.cookies.get(csrf_cookie_name(settings))
    if seed and 20 <= len(seed) <= 100:
        return seed, False
    return secrets.token_urlsafe(32), True


def csrf_token(keyring: Keyring, seed: str) -> str:
    return hmac.new(keyring.signing_key("csrf"), seed.encode(), "sha256").hexdigest()


def csrf_ok(keyring: Keyring, seed: str | None, token: str | None) -> bool:
    if not seed or not token:
        return False
    return hmac.compare_digest(csrf_token(keyring, seed), token)


def set_csrf_cookie(response: Response, settings: Settings, seed: str) -> None:
    response.set_cookie(
        csrf_cookie_name(settings),
        seed,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(settings),
    )


class SecurityHeaders:
    """Adds the strict headers to every response that has not set its own policy."""

    def __init__(self, app: ASGIApp, *, dev: bool) -> None:
        self.app = app
        headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if not dev:
            headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in present]
                if b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", CSP.encode()))
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, add_headers)
