"""Errors of leads, consent and the data-protection operations (export, erasure)."""

from __future__ import annotations

from nexus.core.errors import Conflict, NotFound


class LeadNotFound(NotFound):
    code, title = "lead_not_found", "No such lead"


class LeadAlreadyConverted(Conflict):
    """The lead was converted before: `contact_id` names the contact it became."""

    code, title = "lead_already_converted", "This lead was already converted"


class ConsentNotFound(NotFound):
    code, title = "consent_not_found", "No such consent of this contact"


class ConsentAlreadyWithdrawn(Conflict):
    code, title = "consent_already_withdrawn", "This consent was already withdrawn"


class ContactErased(Conflict):
    """The contact was erased; nothing personal is left to change, export or erase."""

    code, title = "contact_erased", "This contact was erased"
