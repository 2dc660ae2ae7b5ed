"""Validation errors of a spec as one 422 listing every bad field by its JSON path."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from nexus.activation.spec import ActivationSpec
from nexus.core.errors import FieldError, ValidationFailed


def field_path(location: tuple[int | str, ...], prefix: str = "body") -> str:
    """`("owner", "email")` → `body.owner.email`; list positions stay numbers (`locations.0`)."""
    return ".".join(str(part) for part in (prefix, *location) if part != "")


def validation_failed(exc: ValidationError, prefix: str = "body") -> ValidationFailed:
    """One `FieldError` per bad field, named like the HTTP layer names request fields."""
    fields = [
        FieldError(field_path(tuple(error["loc"]), prefix), error["msg"], error["type"])
        for error in exc.errors(include_url=False, include_input=False)
    ]
    detail = "; ".join(f"{f.field}: {f.reason}" for f in fields[:5])
    return ValidationFailed(detail=detail, errors=fields)


def parse_spec(data: Any, prefix: str = "body") -> ActivationSpec:
    """The spec, or `ValidationFailed` naming every bad field (never a partial spec)."""
    try:
        return ActivationSpec.model_validate(data)
    except ValidationError as exc:
        raise validation_failed(exc, prefix) from None
