"""`/api/v1/crm/contacts`: the people a business deals with."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from nexus.core.context import RequestContext
from nexus.core.http import NexusRoute, Session, problems, require
from nexus.crm.schemas import (
    Contact,
    ContactCreate,
    ContactUpdate,
    Merge,
    Page,
    RecordSort,
    SearchText,
)
from nexus.crm.service import contacts

router = APIRouter(route_class=NexusRoute, prefix="/api/v1/crm/contacts", tags=["crm"])

Reader = Annotated[RequestContext, require("crm.contact.read")]
Creator = Annotated[RequestContext, require("crm.contact.create")]
Updater = Annotated[RequestContext, require("crm.contact.update")]
Deleter = Annotated[RequestContext, require("crm.contact.delete")]
Limit = Annotated[int, Query(ge=1, le=200, description="Items per page")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]
IfMatch = Annotated[str | None, Header(description='The version being updated, e.g. "3"')]

ACCESS = (
    "Without `crm.record.all` a caller sees and changes only the contacts they own; others' "
    "answer 404. Sensitive custom values are shown only to `crm.sensitive.read` holders, and "
    "each response showing them is audited (`crm.contact.sensitive_read`, naming the fields)."
)
MERGED = (
    " A contact merged into another answers 404 with the code `contact_merged` and "
    "`merged_into`, the id of the contact that holds its records now."
)


@router.get(
    "",
    response_model=Page[Contact],
    summary="List contacts",
    description="Live contacts, newest first unless `sort` says otherwise. " + ACCESS,
    responses=problems(422),
)
async def list(
    session: Session,
    ctx: Reader,
    q: Annotated[SearchText | None, Query(description="In name, e-mail or phone")] = None,
    tag: Annotated[SearchText | None, Query(description="Having this tag")] = None,
    owner: Annotated[uuid.UUID | None, Query(description="Owned by this user")] = None,
    company: Annotated[uuid.UUID | None, Query(description="Of this company")] = None,
    sort: Annotated[RecordSort, Query(description="`-` for descending")] = "-created",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[Contact]:
    return await contacts.list_contacts(
        session,
        ctx,
        q=q,
        tag=tag,
        owner=owner,
        company=company,
        sort=sort,
        limit=limit,
        cursor=cursor,
    )


@router.post(
    "",
    response_model=Contact,
    status_code=201,
    summary="Add a contact",
    description="Owned by the caller unless `owner_id` says otherwise. A live contact with the "
    "same e-mail (case-insensitive) or phone answers 409 `duplicate_contact` with "
    "`field`, and `existing_id` when the caller may open that record.",
    responses=problems(409, 422),
)
async def create(session: Session, ctx: Creator, body: ContactCreate) -> Contact:
    return await contacts.create_contact(session, ctx, body)


@router.get(
    "/{contact_id}",
    response_model=Contact,
    summary="A contact",
    description=ACCESS + MERGED,
)
async def get(session: Session, ctx: Reader, contact_id: uuid.UUID) -> Contact:
    return await contacts.get_contact(session, ctx, contact_id)


@router.patch(
    "/{contact_id}",
    response_model=Contact,
    summary="Change a contact",
    description="Fields sent change; `null` clears an optional field; `custom` is merged into "
    "the values held. A duplicate e-mail or phone answers 409 `duplicate_contact`.",
    responses=problems(409, 412, 422, 428),
)
async def update(
    session: Session,
    ctx: Updater,
    contact_id: uuid.UUID,
    body: ContactUpdate,
    if_match: IfMatch = None,
) -> Contact:
    return await contacts.update_contact(session, ctx, contact_id, body, if_match=if_match)


@router.delete(
    "/{contact_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a contact (its history stays)",
)
async def delete(session: Session, ctx: Deleter, contact_id: uuid.UUID) -> Response:
    await contacts.delete_contact(session, ctx, contact_id)
    return Response(status_code=204)


@router.post(
    "/{contact_id}/merge",
    response_model=Contact,
    summary="Merge another contact into this one",
    description="The other contact's deals, activities, consents and leads move to this one; "
    "fields this one lacks are filled from it and tags are united. The other is retired: "
    "its own history stays (audit events under its id), and reading it answers 404 "
    "`contact_merged` with `merged_into`. Both contacts are audited.",
    responses=problems(422),
)
async def merge(session: Session, ctx: Updater, contact_id: uuid.UUID, body: Merge) -> Contact:
    return await contacts.merge_contacts(session, ctx, contact_id, body.from_id)
