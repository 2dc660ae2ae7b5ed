"""What every CRM service shares: how names, e-mails and phone numbers are normalised and
searched, and who may see which records."""

from __future__ import annotations

import uuid

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import ColumnElement, true
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.context import RequestContext
from nexus.core.errors import invalid
from nexus.identity.service import tenant_profile

#: Who may see every record (otherwise one's own: `owner_id` or assignee).
ALL_RECORDS = "crm.record.all"


def search_key(text: str) -> str:
    """The case-folded, space-normalised form stored beside a name, for search on any engine."""
    return " ".join(text.casefold().split())


def email_key(email: str | None) -> str | None:
    return email.casefold() if email else None


def normalise_email(email: str | None, *, field: str) -> str | None:
    """A valid address (domain lower-cased) or None; 422 naming `field` otherwise."""
    if email is None or not email.strip():
        return None
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise invalid(field, str(error)) from None


def normalise_phone(phone: str | None, region: str, *, field: str) -> str | None:
    """E.164, reading a national number in the business's country; 422 naming `field`."""
    if phone is None or not phone.strip():
        return None
    try:
        parsed = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        raise invalid(field, "Not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise invalid(field, f"{phone!r} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


async def tenant_country(session: AsyncSession, ctx: RequestContext) -> str:
    """The business's country: the default region of phone numbers."""
    return (await tenant_profile.locale_of(session, ctx)).country


def visible_to(
    ctx: RequestContext, owner_column: ColumnElement[uuid.UUID | None]
) -> ColumnElement[bool]:
    """Record-level access: everything with `crm.record.all`, else the records one owns."""
    if ctx.can(ALL_RECORDS):
        return true()
    return owner_column == ctx.user_id
