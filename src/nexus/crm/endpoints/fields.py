"""`/api/v1/crm/fields`: the custom fields of contacts, companies, deals and leads."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from nexus.core.context import RequestContext
from nexus.core.http import NexusRoute, Session, problems, require
from nexus.crm.schemas import (
    FieldDefinition,
    FieldDefinitionCreate,
    FieldDefinitionUpdate,
    FieldEntity,
    Page,
)
from nexus.crm.service import fields

router = APIRouter(route_class=NexusRoute, prefix="/api/v1/crm/fields", tags=["crm"])

Reader = Annotated[RequestContext, require("crm.contact.read")]
Manager = Annotated[RequestContext, require("crm.field.manage")]
Limit = Annotated[int, Query(ge=1, le=200, description="Items per page")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]
IfMatch = Annotated[str | None, Header(description='The version being updated, e.g. "3"')]


@router.get(
    "",
    response_model=Page[FieldDefinition],
    summary="List custom field definitions",
    responses=problems(422),
)
async def list(
    session: Session,
    ctx: Reader,
    entity: Annotated[FieldEntity | None, Query(description="Only this record type's")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[FieldDefinition]:
    return await fields.list_fields(session, ctx, entity=entity, limit=limit, cursor=cursor)


@router.post(
    "",
    response_model=FieldDefinition,
    status_code=201,
    summary="Define a custom field",
    description="A `sensitive` field's values are stored encrypted, shown only to callers "
    "holding `crm.sensitive.read`, and every read of them is audited.",
    responses=problems(409, 422),
)
async def create(session: Session, ctx: Manager, body: FieldDefinitionCreate) -> FieldDefinition:
    return await fields.create_field(session, ctx, body)


@router.get("/{field_id}", response_model=FieldDefinition, summary="A custom field definition")
async def get(session: Session, ctx: Reader, field_id: uuid.UUID) -> FieldDefinition:
    return await fields.get_field(session, ctx, field_id)


@router.patch(
    "/{field_id}",
    response_model=FieldDefinition,
    summary="Change a custom field's label, choices, required flag or position",
    responses=problems(412, 422, 428),
)
async def update(
    session: Session,
    ctx: Manager,
    field_id: uuid.UUID,
    body: FieldDefinitionUpdate,
    if_match: IfMatch = None,
) -> FieldDefinition:
    return await fields.update_field(session, ctx, field_id, body, if_match=if_match)


@router.delete(
    "/{field_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a custom field (records drop its value when next changed)",
)
async def delete(session: Session, ctx: Manager, field_id: uuid.UUID) -> Response:
    await fields.delete_field(session, ctx, field_id)
    return Response(status_code=204)
