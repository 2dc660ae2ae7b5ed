"""The console's custom field settings (`/crm/settings/fields`)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.console.pages.common import Session, new_router, parse
from nexus.console.shell import (
    Form,
    flash,
    gettext,
    read_form,
    redirect,
)
from nexus.core.context import RequestContext
from nexus.core.errors import NexusError
from nexus.crm.console_forms.common import (
    ENTITIES,
    KINDS,
    FieldManager,
    FieldReader,
    _checked,
    _failed,
    _form_page,
    _version,
)
from nexus.crm.schemas import (
    FieldDefinition,
    FieldDefinitionCreate,
    FieldDefinitionUpdate,
)
from nexus.crm.service import fields

router = new_router()


# --- custom field settings -----------------------------------------------------------------


def _choices(values: dict[str, Any]) -> list[str]:
    return [c.strip() for c in str(values.get("choices") or "").split(",") if c.strip()]


async def _field_settings(
    request: Request,
    session: AsyncSession,
    ctx: RequestContext,
    form: Form,
    *,
    status: int = 200,
) -> Response:
    found = (await fields.list_fields(session, ctx, limit=200)).items
    groups = [(entity, [d for d in found if d.entity == entity]) for entity in ENTITIES]
    context = {"groups": groups, "form": form, "entities": ENTITIES, "kinds": KINDS}
    return await _form_page(request, "crm/fields.html", context, status)


@router.get("/crm/settings/fields")
async def field_settings(request: Request, session: Session, ctx: FieldReader) -> Response:
    form = Form.empty(entity="contact", kind="text")
    return await _field_settings(request, session, ctx, form)


@router.post("/crm/settings/fields")
async def create_field(request: Request, session: Session, ctx: FieldManager) -> Response:
    values = await read_form(request)
    try:
        body = {
            "entity": values.get("entity", ""),
            "key": str(values.get("key") or "").strip(),
            "label": values.get("label", ""),
            "kind": values.get("kind", ""),
            "choices": _choices(values),
            "required": _checked(values, "required"),
            "sensitive": _checked(values, "sensitive"),
        }
        made = await fields.create_field(session, ctx, parse(FieldDefinitionCreate, body))
    except NexusError as error:
        form = _failed(values, error, request)
        return await _field_settings(request, session, ctx, form, status=error.status)
    message = gettext(request, "The field %(label)s is added.", label=made.label)
    return flash(redirect(request, "/crm/settings/fields"), message)


async def _field_form(
    request: Request, definition: FieldDefinition, form: Form, *, status: int = 200
) -> Response:
    context = {"definition": definition, "form": form}
    return await _form_page(request, "crm/field_form.html", context, status)


@router.get("/crm/settings/fields/{field_id}/edit")
async def edit_field(
    request: Request, session: Session, ctx: FieldManager, field_id: uuid.UUID
) -> Response:
    definition = await fields.get_field(session, ctx, field_id)
    form = Form.empty(
        label=definition.label,
        required="1" if definition.required else "",
        choices=", ".join(definition.choices),
        version=str(definition.version),
    )
    return await _field_form(request, definition, form)


@router.post("/crm/settings/fields/{field_id}/edit")
async def update_field(
    request: Request, session: Session, ctx: FieldManager, field_id: uuid.UUID
) -> Response:
    values = await read_form(request)
    definition = await fields.get_field(session, ctx, field_id)
    try:
        body: dict[str, Any] = {
            "label": values.get("label", ""),
            "required": _checked(values, "required"),
            "version": _version(values),
        }
        if definition.kind == "choice":
            body["choices"] = _choices(values)
        await fields.update_field(session, ctx, field_id, parse(FieldDefinitionUpdate, body))
    except NexusError as error:
        form = _failed(values, error, request)
        return await _field_form(request, definition, form, status=error.status)
    message = gettext(request, "The field %(label)s is saved.", label=definition.label)
    return flash(redirect(request, "/crm/settings/fields"), message)


@router.post("/crm/settings/fields/{field_id}/delete")
async def delete_field(
    request: Request, session: Session, ctx: FieldManager, field_id: uuid.UUID
) -> Response:
    definition = await fields.get_field(session, ctx, field_id)
    await fields.delete_field(session, ctx, field_id)
    message = gettext(request, "The field %(label)s is deleted.", label=definition.label)
    return flash(redirect(request, "/crm/settings/fields"), message)
