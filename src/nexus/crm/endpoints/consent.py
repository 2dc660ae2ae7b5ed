"""`/api/v1/crm/contacts/{contact_id}/...`: consent, export of a contact's data, erasure."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from nexus.core.context import RequestContext
from nexus.core.http import NexusRoute, Session, problems, require
from nexus.crm.schemas_leads import Consent, ConsentCreate, ContactErasure, ContactExport, Page
from nexus.crm.service import privacy

router = APIRouter(route_class=NexusRoute, prefix="/api/v1/crm", tags=["crm"])

Reader = Annotated[RequestContext, require("crm.contact.read")]
Manager = Annotated[RequestContext, require("crm.consent.manage")]
Exporter = Annotated[RequestContext, require("crm.data.export", also=("crm.contact.read",))]
Eraser = Annotated[RequestContext, require("crm.data.erase")]
Limit = Annotated[int, Query(ge=1, le=200, description="Items per page")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]


@router.get(
    "/contacts/{contact_id}/consents",
    response_model=Page[Consent],
    summary="A contact's consents, newest first (withdrawn ones too)",
    responses=problems(422),
)
async def list(
    session: Session, ctx: Reader, contact_id: uuid.UUID, limit: Limit = 50, cursor: Cursor = None
) -> Page[Consent]:
    return await privacy.list_consents(session, ctx, contact_id, limit=limit, cursor=cursor)


@router.post(
    "/contacts/{contact_id}/consents",
    response_model=Consent,
    status_code=201,
    summary="Record a contact's consent to be reached on a channel for a purpose",
    responses=problems(409, 422),
)
async def create(
    session: Session, ctx: Manager, contact_id: uuid.UUID, body: ConsentCreate
) -> Consent:
    return await privacy.record_consent(session, ctx, contact_id, body)


@router.post(
    "/contacts/{contact_id}/consents/{consent_id}/withdraw",
    response_model=Consent,
    summary="Withdraw a consent (kept, marked withdrawn)",
    responses=problems(409),
)
async def withdraw(
    session: Session, ctx: Manager, contact_id: uuid.UUID, consent_id: uuid.UUID
) -> Consent:
    return await privacy.withdraw_consent(session, ctx, contact_id, consent_id)


@router.get(
    "/contacts/{contact_id}/export",
    response_model=ContactExport,
    summary="Everything held on a contact, as JSON (a data access request)",
)
async def export(session: Session, ctx: Exporter, contact_id: uuid.UUID) -> ContactExport:
    return await privacy.export_contact(session, ctx, contact_id)


@router.post(
    "/contacts/{contact_id}/erase",
    response_model=ContactErasure,
    summary="Erase a contact: anonymise it and what is written about it",
    description="The contact stays (deals and history keep pointing at it) with no personal"
    " data; consents keep their channel, purpose and times as proof. Erasing twice is 409.",
    responses=problems(409),
)
async def erase(session: Session, ctx: Eraser, contact_id: uuid.UUID) -> ContactErasure:
    return await privacy.erase_contact(session, ctx, contact_id)
