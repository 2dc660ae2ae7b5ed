"""Errors as RFC 9457 problem details.

Every error NEXUS returns is `application/problem+json` with a stable `code`. A module declares
its own errors in its `errors.py` by subclassing these; the HTTP layer renders them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class FieldError:
    """One bad input: where it is (`body.owner.email`, `query.limit`) and what is wrong."""

    field: str
    reason: str
    code: str = "invalid"

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason, "code": self.code}


@dataclass(eq=False)
class NexusError(Exception):
    """Base of every error a caller may see. Subclasses set `status`, `code` and `title`."""

    detail: str | None = None
    errors: list[FieldError] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __post_init__(self) -> None:
        super().__init__(self.detail or self.title)

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://nexus.dev/problems/{self.code.replace('_', '-')}",
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "detail": self.detail or self.title,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = [error.as_dict() for error in self.errors]
        body.update(self.extra)
        return body


class MalformedRequest(NexusError):
    status, code, title = 400, "malformed_request", "The request body is not valid JSON"


class ValidationFailed(NexusError):
    status, code, title = 422, "validation_failed", "The request has invalid fields"


def invalid(field_name: str, reason: str, code: str = "invalid") -> ValidationFailed:
    """A 422 naming one field, for rules a schema cannot express."""
    return ValidationFailed(detail=reason, errors=[FieldError(field_name, reason, code)])


class Unauthenticated(NexusError):
    status, code, title = 401, "unauthenticated", "Authentication is required"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.headers.setdefault("WWW-Authenticate", "Bearer")


class PermissionDenied(NexusError):
    status, code, title = 403, "permission_denied", "You do not have permission to do this"


class TenantSuspended(NexusError):
    status, code, title = 403, "tenant_suspended", "This business is suspended"


class NotFound(NexusError):
    status, code, title = 404, "not_found", "Not found"


class ModuleNotEnabled(NexusError):
    status, code, title = 404, "module_not_enabled", "This module is not enabled for the business"


class MethodNotAllowed(NexusError):
    status, code, title = 405, "method_not_allowed", "This method is not allowed here"


class Conflict(NexusError):
    status, code, title = 409, "conflict", "The request conflicts with the current state"


class IdempotencyInFlight(NexusError):
    status, code, title = (
        409,
        "idempotency_key_in_flight",
        "A request with this Idempotency-Key is still in progress",
    )


class IdempotencyKeyReused(NexusError):
    status, code, title = (
        422,
        "idempotency_key_reused",
        "This Idempotency-Key was used with a different request",
    )


class PreconditionFailed(NexusError):
    status, code, title = 412, "version_mismatch", "The record was changed by someone else"


class PreconditionRequired(NexusError):
    status, code, title = 428, "version_required", "Send the version you are updating"


class TooManyRequests(NexusError):
    status, code, title = 429, "too_many_requests", "Too many requests; try again later"


class TenantContextMissing(NexusError):
    """A programming error: a tenant table was touched with no tenant (or the wrong one)."""

    status, code, title = 500, "tenant_context_missing", "Internal error"


class InternalError(NexusError):
    status, code, title = 500, "internal_error", "Internal error"
