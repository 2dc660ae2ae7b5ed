"""`/api/v1/identity/api-keys`: keys for programs, shown once, revocable."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from nexus.core.context import RequestContext
from nexus.core.http import NexusRoute, Session, problems, require
from nexus.identity import models
from nexus.identity.schemas.team import ApiKey, ApiKeyCreate, ApiKeyCreated, Page
from nexus.identity.service import api_keys

router = APIRouter(route_class=NexusRoute, prefix="/api/v1/identity/api-keys", tags=["team"])

Reader = Annotated[RequestContext, require("identity.api_key.read")]
Manager = Annotated[RequestContext, require("identity.api_key.manage")]
Limit = Annotated[int, Query(ge=1, le=200, description="Items per page")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]


def _view(key: models.ApiKey) -> ApiKey:
    return ApiKey(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        scopes=sorted(key.scopes),
        created_by=key.user_id,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
    )


@router.get("", response_model=Page[ApiKey], summary="List API keys (never their secrets)")
async def list(
    session: Session, ctx: Reader, limit: Limit = 50, cursor: Cursor = None
) -> Page[ApiKey]:
    page = await api_keys.list_api_keys(session, ctx, limit=limit, cursor=cursor)
    return Page(items=[_view(key) for key in page.items], next_cursor=page.next_cursor)


@router.post(
    "",
    response_model=ApiKeyCreated,
    status_code=201,
    summary="Create an API key (the secret is in this response only)",
    responses=problems(422),
)
async def create(session: Session, ctx: Manager, body: ApiKeyCreate) -> ApiKeyCreated:
    created = await api_keys.create_api_key(
        session, ctx, name=body.name, scopes=body.scopes, expires_at=body.expires_at
    )
    return ApiKeyCreated(**_view(created.key).model_dump(), key=created.secret)


@router.get("/{key_id}", response_model=ApiKey, summary="An API key (without its secret)")
async def get(session: Session, ctx: Reader, key_id: uuid.UUID) -> ApiKey:
    return _view(await api_keys.get_api_key(session, ctx, key_id))


@router.delete(
    "/{key_id}",
    status_code=204,
    response_class=Response,
    summary="Revoke an API key: it stops working at once",
)
async def delete(session: Session, ctx: Manager, key_id: uuid.UUID) -> Response:
    await api_keys.revoke_api_key(session, ctx, key_id)
    return Response(status_code=204)
