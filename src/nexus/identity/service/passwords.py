"""Password rules: 12-128 characters, not the email."""

from __future__ import annotations

from nexus.core.errors import invalid

MIN_LENGTH, MAX_LENGTH = 12, 128


def check_password(password: str, *, email: str, field: str = "body.password") -> None:
    if len(password) < MIN_LENGTH:
        raise invalid(field, f"Use at least {MIN_LENGTH} characters", "password_too_short")
    if len(password) > MAX_LENGTH:
        raise invalid(field, f"Use at most {MAX_LENGTH} characters", "password_too_long")
    normalised = password.strip().casefold()
    if normalised in (email.casefold(), email.split("@")[0].casefold()):
        raise invalid(field, "The password must not be your email", "password_is_email")
