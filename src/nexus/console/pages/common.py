"""What every console page module uses: its router, the caller, the origin of a sign-in."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ValidationError

from nexus.console.shell import ConsoleRoute, settings_of, validation_errors
from nexus.core.context import RequestContext
from nexus.core.errors import ValidationFailed
from nexus.core.http import Session, authenticated, client_address, require, require_operator
from nexus.identity.service.attempts import Origin

__all__ = [
    "Caller",
    "ConsoleOrigin",
    "Session",
    "console_origin",
    "new_router",
    "parse",
    "require",
    "require_operator",
]

Caller = Annotated[RequestContext, authenticated()]
M = TypeVar("M", bound=BaseModel)


def new_router() -> APIRouter:
    return APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def console_origin(request: Request) -> Origin:
    settings = settings_of(request)
    return Origin(
        client_address=client_address(request),
        user_agent=request.headers.get("user-agent"),
        request_id=getattr(request.state, "request_id", None),
        access_minutes=settings.access_token_minutes,
        refresh_days=settings.refresh_token_days,
        console_hours=settings.console_session_hours,
    )


ConsoleOrigin = Annotated[Origin, Depends(console_origin)]


def parse(model: type[M], values: dict[str, Any]) -> M:
    """Validate form values with the API's own schema; a failure is a 422 naming fields."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise ValidationFailed(errors=validation_errors(exc)) from None
