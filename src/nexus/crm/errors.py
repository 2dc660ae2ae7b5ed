"""The CRM's errors (each with its HTTP status and a stable `code`)."""

from __future__ import annotations

from nexus.core.errors import Conflict, NotFound


class ContactNotFound(NotFound):
    code, title = "contact_not_found", "No such contact"


class CompanyNotFound(NotFound):
    code, title = "company_not_found", "No such company"


class FieldNotFound(NotFound):
    code, title = "field_not_found", "No such custom field"


class ContactMerged(NotFound):
    """A contact merged into another: `merged_into` names the one that holds it now."""

    code, title = "contact_merged", "This contact was merged into another"


class CompanyMerged(NotFound):
    """A company merged into another: `merged_into` names the one that holds it now."""

    code, title = "company_merged", "This company was merged into another"


class DuplicateContact(Conflict):
    """A live contact has the same e-mail or phone: `existing_id` names it."""

    code, title = "duplicate_contact", "A contact with this e-mail or phone already exists"


class DuplicateCompany(Conflict):
    """A live company has the same e-mail or phone: `existing_id` names it."""

    code, title = "duplicate_company", "A company with this e-mail or phone already exists"


class FieldKeyTaken(Conflict):
    code, title = "field_key_taken", "A custom field with this key already exists"
