"""What the CRM's console forms share: permissions, reading form values, custom fields
drawn by kind, and how a refused form is shown again."""

from __future__ import annotations

import dataclasses
import re
from typing import Annotated, Any

from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.console.pages.common import require
from nexus.console.shell import (
    Form,
    form_with_error,
    gettext,
    render,
)
from nexus.core.context import RequestContext
from nexus.core.errors import FieldError, NexusError, ValidationFailed
from nexus.crm.schemas import (
    FieldDefinition,
)
from nexus.crm.service import fields
from nexus.crm.service.common import ALL_RECORDS
from nexus.identity.service import team

ContactCreator = Annotated[RequestContext, require("crm.contact.create")]
ContactUpdater = Annotated[RequestContext, require("crm.contact.update")]
ContactDeleter = Annotated[RequestContext, require("crm.contact.delete")]
CompanyCreator = Annotated[RequestContext, require("crm.company.create")]
CompanyUpdater = Annotated[RequestContext, require("crm.company.update")]
CompanyDeleter = Annotated[RequestContext, require("crm.company.delete")]
DealReader = Annotated[RequestContext, require("crm.deal.read")]
DealCreator = Annotated[RequestContext, require("crm.deal.create")]
DealUpdater = Annotated[RequestContext, require("crm.deal.update")]
DealDeleter = Annotated[RequestContext, require("crm.deal.delete")]
PipelineManager = Annotated[RequestContext, require("crm.pipeline.manage")]
LeadCreator = Annotated[RequestContext, require("crm.lead.create")]
LeadUpdater = Annotated[RequestContext, require("crm.lead.update")]
FieldReader = Annotated[RequestContext, require("crm.contact.read")]
FieldManager = Annotated[RequestContext, require("crm.field.manage")]

SENSITIVE_READ = "crm.sensitive.read"
#: How many records a choice list (owner, company, contact) offers.
CHOICES = 200
ADDRESS = ("line1", "line2", "city", "region", "postal_code", "country")
ENTITIES = ("contact", "company", "deal", "lead")
KINDS = ("text", "number", "date", "choice", "boolean")
STAGE_KINDS = ("open", "won", "lost")
LEAD_STATUSES = ("new", "contacted", "qualified", "disqualified")
INTEGER = re.compile(r"^[+-]?\d+$")
#: A new pipeline's form starts with these stages (and two empty rows).
STARTING_STAGES: tuple[tuple[str, str, str], ...] = (
    ("Qualified", "20", "open"),
    ("Proposal", "60", "open"),
    ("Won", "", "won"),
    ("Lost", "", "lost"),
)


# --- reading form values -------------------------------------------------------------------


def _text(values: dict[str, Any], name: str) -> str | None:
    """A submitted text, stripped; None when blank."""
    raw = values.get(name)
    if isinstance(raw, list):
        raw = raw[-1] if raw else ""
    text = str(raw or "").strip()
    return text or None


def _tags(values: dict[str, Any]) -> list[str]:
    """`vip, retail` → ["vip", "retail"]."""
    return [tag.strip() for tag in str(values.get("tags") or "").split(",") if tag.strip()]


def _address(values: dict[str, Any]) -> dict[str, str] | None:
    found = {part: _text(values, f"address.{part}") for part in ADDRESS}
    if found["country"]:
        found["country"] = found["country"].upper()
    kept = {part: value for part, value in found.items() if value}
    return kept or None


def _address_values(address: dict[str, Any] | None) -> dict[str, str]:
    return {f"address.{part}": str(value) for part, value in (address or {}).items()}


def _version(values: dict[str, Any]) -> str | None:
    return _text(values, "version")


def _checked(values: dict[str, Any], name: str) -> bool:
    return _text(values, name) is not None


@dataclasses.dataclass(frozen=True)
class _Field:
    """A custom field as a form draws it. `write_only`: a sensitive field of a caller without
    `crm.sensitive.read`, who may set its value (a receptionist noting an allergy) but never
    sees it; left blank, the value held is kept."""

    definition: FieldDefinition
    write_only: bool = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.definition, name)


async def _definitions(session: AsyncSession, ctx: RequestContext, entity: str) -> list[_Field]:
    """The custom fields of `entity` the caller may fill, in their order (sensitive ones
    write-only without `crm.sensitive.read`; leads have none)."""
    found = (await fields.list_fields(session, ctx, entity=entity, limit=200)).items
    if entity == "lead":
        found = [d for d in found if not d.sensitive]
    blind = not ctx.can(SENSITIVE_READ)
    ordered = sorted(found, key=lambda d: (d.position, d.created_at))
    return [_Field(d, write_only=blind and d.sensitive) for d in ordered]


def _custom(
    request: Request,
    definitions: list[_Field],
    values: dict[str, Any],
    *,
    editing: bool,
) -> dict[str, Any]:
    """The custom values of the form, typed by each field's kind. A blank value is left out of
    a new record and clears the value of one being changed; an unticked box is false."""
    sent: dict[str, Any] = {}
    problems: list[FieldError] = []
    for definition in definitions:
        name = f"custom.{definition.key}"
        if definition.write_only:
            # Blank keeps the value held (which this caller cannot see), unless the box to
            # clear it is ticked; booleans come as a choice of yes or no.
            chosen = _text(values, name)
            if chosen is None:
                if editing and _checked(values, f"clear.{name}"):
                    sent[definition.key] = None
                continue
            if definition.kind == "boolean":
                sent[definition.key] = chosen == "true"
                continue
        if definition.kind == "boolean":
            sent[definition.key] = _checked(values, name)
            continue
        text = _text(values, name)
        if text is None:
            if editing:
                sent[definition.key] = None
            continue
        if definition.kind == "number":
            try:
                sent[definition.key] = int(text) if INTEGER.match(text) else float(text)
            except ValueError:
                reason = gettext(request, "Write a number, e.g. 42 or 3.5.")
                problems.append(FieldError(f"body.{name}", reason, "not_a_number"))
            continue
        sent[definition.key] = text
    if problems:
        raise ValidationFailed(errors=problems)
    return sent


def _custom_values(definitions: list[_Field], held: dict[str, Any]) -> dict[str, str]:
    """A record's custom values as the form shows them."""
    shown: dict[str, str] = {}
    for definition in definitions:
        value = held.get(definition.key)
        if value is None:
            continue
        if definition.kind == "boolean":
            shown[f"custom.{definition.key}"] = "1" if value is True else ""
        else:
            shown[f"custom.{definition.key}"] = str(value)
    return shown


def _failed(values: dict[str, Any], error: NexusError, request: Request) -> Form:
    """The form again with the problem: a stale version says so plainly, and list fields'
    errors (`tags.0`) show on their input (`tags`)."""
    form = form_with_error(values, error)
    for name in list(form.errors):
        head = name.split(".")[0]
        if head in ("tags", "choices"):
            form.errors.setdefault(head, form.errors[name])
    if error.status == 412:
        form.message = gettext(
            request,
            "Someone changed this record after you opened it. Reload the page to see "
            "their changes, then make yours again.",
        )
    return form


async def _form_page(
    request: Request, template: str, context: dict[str, Any], status: int
) -> Response:
    """A form page; after a 412 it links to the form as it is now (the same address)."""
    reload_url = request.url.path if status == 412 else None
    return await render(request, template, {**context, "reload_url": reload_url}, status=status)


def _existing(error: NexusError | None) -> str | None:
    """The id of the record a 409 says is a duplicate."""
    if error is None or error.status != 409:
        return None
    found = error.extra.get("existing_id")
    return str(found) if found else None


async def _owners(session: AsyncSession, ctx: RequestContext) -> list[tuple[str, str]] | None:
    """Who a record may be given to; None when the caller may only own records themself."""
    if not ctx.can(ALL_RECORDS):
        return None
    page = await team.list_members(session, ctx, status="active", limit=CHOICES)
    return [(str(m.user_id), m.name or m.email) for m in page.items]
