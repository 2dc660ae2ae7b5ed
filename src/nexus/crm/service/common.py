"""What every CRM service shares: how names, e-mails and phone numbers are normalised and
searched, and who may see which records."""

from __future__ import annotations

import functools
import re
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


#: An unquoted ASCII local part (RFC 5322 dot-atom), which `email_validator` keeps as it is.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
#: The limits `email_validator` holds an address to (RFC 5321).
_LOCAL_MAX, _ADDRESS_MAX = 64, 254


@functools.lru_cache(maxsize=4096)
def _domain_of_address(domain: str) -> tuple[str, str]:
    """The normalised and the IDNA ASCII forms of a domain an address may have
    (`EmailNotValidError` if none)."""
    checked = validate_email(f"a@{domain}", check_deliverability=False)
    return checked.domain, checked.ascii_domain


def normalise_email(email: str | None, *, field: str) -> str | None:
    """A valid address (domain lower-cased) or None; 422 naming `field` otherwise.

    Most of `email_validator`'s work is on the domain, and an import's thousands of addresses
    share a few domains: an address with a plain ASCII local part has its domain checked once
    per process. Any other address, and any refused one, goes through `validate_email`
    whole, so the answer and the error are the same either way (tested)."""
    if email is None or not email.strip():
        return None
    email = email.strip()
    local, at, domain = email.rpartition("@")
    if at and len(local) <= _LOCAL_MAX and _DOT_ATOM.fullmatch(local):
        try:
            normalised_domain, ascii_domain = _domain_of_address(domain)
        except EmailNotValidError:
            pass
        else:
            normalised = f"{local}@{normalised_domain}"
            # (`email_validator` holds each form to the limit, in UTF-8 bytes.)
            forms = (email, normalised, f"{local}@{ascii_domain}")
            if all(len(form.encode()) <= _ADDRESS_MAX for form in forms):
                return normalised
    try:
        return validate_email(email, check_deliverability=False).normalized
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
