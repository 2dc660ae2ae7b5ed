"""`/api/v1/activate`: a business comes to life in one call."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from nexus.activation import service
from nexus.activation.draft import MAX_PROMPT_CHARS, Draft, get_drafter
from nexus.activation.report import ActivationReport, Plan
from nexus.activation.schema import activation_schema
from nexus.activation.spec import ActivationSpec
from nexus.core.context import RequestContext
from nexus.core.errors import PermissionDenied, Unauthenticated
from nexus.core.http import NexusRoute, Session, caller, client_address, problems
from nexus.core.settings import Settings

router = APIRouter(route_class=NexusRoute, prefix="/api/v1/activate", tags=["activation"])


async def _activating_caller(
    request: Request, session: Session, *, count: bool = True
) -> tuple[RequestContext, bool]:
    """The actor and whether it is trusted: a platform operator (trusted), or anyone while open
    sign-up is on (activations rate-limited per client address)."""
    settings: Settings = request.app.state.settings
    ctx = await caller(request, session)
    if ctx is not None and ctx.is_operator:
        return ctx, True
    if settings.open_signup:
        if count:
            await service.count_open_signup(request.app.state.database, client_address(request))
        request_id = getattr(request.state, "request_id", None)
        return RequestContext.system(request_id=request_id), False
    if ctx is None:
        raise Unauthenticated(detail="Sign-up is closed here: a platform operator activates")
    raise PermissionDenied(detail="Only platform operators may activate a business here")


@router.post(
    "",
    status_code=201,
    response_model=ActivationReport,
    summary="Activate a business from its description",
    description=(
        "Validates the spec (every bad field listed in one 422), derives what it leaves out "
        "(currency and time zone from the country, slug from the name, modules and roles from "
        "the industry's preset), then creates the business, its owner, integrations and each "
        "enabled module's setup in one transaction. `dry_run=true` answers 200 with the plan "
        "and writes nothing. A platform operator may always activate; anyone may while open "
        "sign-up is on (rate-limited per address). An owner e-mail that already has an account "
        "is invited by e-mail instead of getting a setup link and key (an operator makes them "
        "owner directly). The same slug again is 409; `Idempotency-Key` replays the first "
        "answer."
    ),
    responses={
        200: {"model": Plan, "description": "The plan of a dry run (nothing written)"},
        **problems(401, 403, 409, 422, 429),
    },
    openapi_extra={"x-idempotency-scope": "platform"},
)
async def activate(
    request: Request, spec: ActivationSpec, session: Session, dry_run: bool = False
) -> Any:
    actor, trusted = await _activating_caller(request, session)
    resolved = service.prepare(spec)
    settings: Settings = request.app.state.settings
    result = await service.run(
        session,
        actor,
        resolved,
        public_base_url=settings.public_base_url,
        trusted=trusted,
        dry_run=dry_run,
    )
    if dry_run:
        return JSONResponse(result.model_dump(mode="json"), status_code=200)
    return result


class DraftRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"prompt": "I run a pharmacy with 3 branches in Abuja and take Paystack"}]
        },
    )

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)


@router.post(
    "/draft",
    response_model=Draft,
    summary="Draft an activation spec from one sentence",
    description=(
        "Reads the sentence with deterministic rules (industry from words and synonyms, "
        "country and city from a gazetteer, integrations from keywords, e-mail and phone by "
        "pattern) and returns the spec it could decide plus every field it could not "
        "(`undecided`). Nothing is written. Same callers as activation."
    ),
    responses=problems(401, 403, 422),
)
async def draft(request: Request, body: DraftRequest, session: Session) -> Draft:
    await _activating_caller(request, session, count=False)
    return await get_drafter().draft(body.prompt)


@router.get(
    "/schema",
    summary="The activation spec as JSON Schema",
    description="The contract `POST /api/v1/activate` accepts (also in the repository at "
    "`schemas/business-activation-input.json`).",
    response_model=dict[str, Any],
)
async def schema() -> Response:
    return JSONResponse(activation_schema())
