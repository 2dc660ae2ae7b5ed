"""Console forms of deals (and a deal's page), and of pipelines with their stages."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.console.pages.common import Session, new_router, parse
from nexus.console.shell import (
    Form,
    flash,
    form_with_error,
    gettext,
    read_form,
    redirect,
    render,
)
from nexus.core.context import RequestContext
from nexus.core.errors import FieldError, NexusError, ValidationFailed
from nexus.core.money import Money
from nexus.crm.console_forms.common import (
    CHOICES,
    STAGE_KINDS,
    STARTING_STAGES,
    DealCreator,
    DealDeleter,
    DealReader,
    DealUpdater,
    PipelineManager,
    _failed,
    _form_page,
    _owners,
    _text,
    _version,
)
from nexus.crm.schemas_deals import DealCreate, DealUpdate, PipelineCreate, PipelineUpdate
from nexus.crm.service import activities, companies, contacts, deals, pipelines
from nexus.identity.service import tenant_profile

router = new_router()


# --- deals ---------------------------------------------------------------------------------


def _money(request: Request, values: dict[str, Any], default_currency: str) -> dict[str, Any]:
    """The amount and currency fields as the API's `amount` (minor units)."""
    currency = (_text(values, "currency") or default_currency).upper()
    amount = (_text(values, "amount") or "0").replace(",", "")
    try:
        minor = Money.from_decimal(Decimal(amount), currency).amount_minor
    except InvalidOperation:
        reason = gettext(request, "Write the amount as a number, e.g. 25000.50.")
        raise ValidationFailed(errors=[FieldError("body.amount", reason, "not_a_number")]) from None
    except ValueError as exc:
        field = "body.amount" if "precision" in str(exc) else "body.currency"
        reason = (
            gettext(request, "The currency has fewer decimal places.")
            if field == "body.amount"
            else gettext(request, "Use a three-letter currency code, e.g. NGN.")
        )
        raise ValidationFailed(errors=[FieldError(field, reason, "invalid")]) from None
    return {"amount_minor": minor, "currency": currency}


async def _deal_form(
    request: Request,
    session: AsyncSession,
    ctx: RequestContext,
    form: Form,
    pipeline: Any,
    *,
    deal: Any = None,
    others: Sequence[Any] = (),
    status: int = 200,
) -> Response:
    context = {
        "form": form,
        "deal": deal,
        "pipeline": pipeline,
        # A deal being edited may move to a stage of another pipeline.
        "other_pipelines": others,
        "owners": await _owners(session, ctx),
        "contacts": (
            await contacts.choices(
                session, ctx, current=deal.contact_id if deal else None, limit=CHOICES
            )
            if ctx.can("crm.contact.read")
            else None
        ),
        "companies": (
            await companies.choices(
                session, ctx, current=deal.company_id if deal else None, limit=CHOICES
            )
            if ctx.can("crm.company.read")
            else None
        ),
    }
    return await _form_page(request, "crm/deal_form.html", context, status)


def _fold_amount(form: Form) -> Form:
    """`amount.amount_minor` and `amount.currency` errors show on the amount and currency."""
    for name, reason in list(form.errors.items()):
        if name.startswith("amount.currency"):
            form.errors.setdefault("currency", reason)
        elif name.startswith("amount"):
            form.errors.setdefault("amount", reason)
    return form


async def _deal_fields(
    request: Request,
    session: AsyncSession,
    ctx: RequestContext,
    values: dict[str, Any],
    pipeline: Any,
    others: Sequence[Any] = (),
) -> dict[str, Any]:
    """The API body of the form. A stage of one of `others` (an edited deal's other
    pipelines) moves the deal to that pipeline."""
    currency = (await tenant_profile.get_profile(session, ctx)).currency
    chosen = values.get("stage_id")
    stage, moved_to = None, None
    for candidate in ([pipeline] if pipeline is not None else []) + list(others):
        stage = next((s for s in candidate.stages if str(s.id) == chosen), None)
        if stage is not None:
            moved_to = candidate if candidate is not pipeline else None
            break
    body: dict[str, Any] = {
        "title": values.get("title", ""),
        "stage_id": chosen or None,
        "amount": _money(request, values, currency),
        "expected_close": _text(values, "expected_close"),
        "lost_reason": _text(values, "lost_reason") if stage and stage.kind == "lost" else None,
    }
    for name in ("contact_id", "company_id"):
        if name in values:
            body[name] = _text(values, name)
    if _text(values, "owner_id"):
        body["owner_id"] = _text(values, "owner_id")
    if moved_to is not None:
        body["pipeline_id"] = str(moved_to.id)
    return body


async def _deal_pipelines(
    session: AsyncSession, ctx: RequestContext, deal: Any
) -> tuple[Any, list[Any]]:
    """The deal's pipeline, and those it could move to (the first 50, in the order they were
    made), read in one listing."""
    listed = (await pipelines.list_pipelines(session, ctx, limit=50)).items
    own = next((p for p in listed if p.id == deal.pipeline_id), None)
    if own is None:  # beyond the first 50
        own = await pipelines.get_pipeline(session, ctx, deal.pipeline_id)
    return own, [p for p in listed if p.id != deal.pipeline_id]


async def _chosen_pipeline(
    session: AsyncSession, ctx: RequestContext, pipeline_id: str | None
) -> Any:
    """The pipeline named by the form or the address, else the business's default."""
    if pipeline_id:
        try:
            return await pipelines.get_pipeline(session, ctx, uuid.UUID(pipeline_id))
        except ValueError:
            pass
    found = await pipelines.default_pipeline(session)
    return await pipelines.get_pipeline(session, ctx, found.id) if found else None


@router.get("/crm/deals/new")
async def new_deal(
    request: Request, session: Session, ctx: DealCreator, pipeline_id: str | None = None
) -> Response:
    pipeline = await _chosen_pipeline(session, ctx, pipeline_id)
    currency = (await tenant_profile.get_profile(session, ctx)).currency
    form = Form.empty(currency=currency)
    return await _deal_form(request, session, ctx, form, pipeline)


@router.post("/crm/deals/new")
async def create_deal(request: Request, session: Session, ctx: DealCreator) -> Response:
    values = await read_form(request)
    pipeline = await _chosen_pipeline(session, ctx, _text(values, "pipeline_id"))
    try:
        body = await _deal_fields(request, session, ctx, values, pipeline)
        body["pipeline_id"] = str(pipeline.id) if pipeline else None
        made = await deals.create_deal(session, ctx, parse(DealCreate, body))
    except NexusError as error:
        form = _fold_amount(_failed(values, error, request))
        return await _deal_form(request, session, ctx, form, pipeline, status=error.status)
    url = f"/crm/deals/{made.id}"
    return flash(redirect(request, url), gettext(request, "The deal is added."))


@router.get("/crm/deals/{deal_id}")
async def deal_page(
    request: Request, session: Session, ctx: DealReader, deal_id: uuid.UUID
) -> Response:
    deal = await deals.get_deal(session, ctx, deal_id)
    pipeline = await pipelines.get_pipeline(session, ctx, deal.pipeline_id)
    stage = next((s for s in pipeline.stages if s.id == deal.stage_id), None)
    found = None
    if ctx.can("crm.activity.read"):
        found = (await activities.list_activities(session, ctx, deal_id=deal_id, limit=50)).items
    amount = Money(deal.amount.amount_minor, deal.amount.currency).format()
    context = {
        "deal": deal,
        "pipeline": pipeline,
        "stage": stage,
        "amount": amount,
        "activities": found,
    }
    return await render(request, "crm/deal.html", context)


@router.get("/crm/deals/{deal_id}/edit")
async def edit_deal(
    request: Request, session: Session, ctx: DealUpdater, deal_id: uuid.UUID
) -> Response:
    deal = await deals.get_deal(session, ctx, deal_id)
    pipeline, others = await _deal_pipelines(session, ctx, deal)
    form = Form.empty(
        title=deal.title,
        stage_id=str(deal.stage_id),
        amount=str(Money(deal.amount.amount_minor, deal.amount.currency).to_decimal()),
        currency=deal.amount.currency,
        expected_close=deal.expected_close.isoformat() if deal.expected_close else "",
        contact_id=str(deal.contact_id or ""),
        company_id=str(deal.company_id or ""),
        owner_id=str(deal.owner_id or ""),
        lost_reason=deal.lost_reason or "",
        version=str(deal.version),
    )
    return await _deal_form(request, session, ctx, form, pipeline, deal=deal, others=others)


@router.post("/crm/deals/{deal_id}/edit")
async def update_deal(
    request: Request, session: Session, ctx: DealUpdater, deal_id: uuid.UUID
) -> Response:
    values = await read_form(request)
    deal = await deals.get_deal(session, ctx, deal_id)
    pipeline, others = await _deal_pipelines(session, ctx, deal)
    try:
        body = await _deal_fields(request, session, ctx, values, pipeline, others)
        body["version"] = _version(values)
        await deals.update_deal(session, ctx, deal_id, parse(DealUpdate, body))
    except NexusError as error:
        form = _fold_amount(_failed(values, error, request))
        return await _deal_form(
            request, session, ctx, form, pipeline, deal=deal, others=others, status=error.status
        )
    url = f"/crm/deals/{deal_id}"
    return flash(redirect(request, url), gettext(request, "The deal is saved."))


@router.post("/crm/deals/{deal_id}/delete")
async def delete_deal(
    request: Request, session: Session, ctx: DealDeleter, deal_id: uuid.UUID
) -> Response:
    deal = await deals.get_deal(session, ctx, deal_id)
    await deals.delete_deal(session, ctx, deal_id)
    url = f"/crm/pipelines/{deal.pipeline_id}/board"
    return flash(redirect(request, url), gettext(request, "The deal is deleted."))


# --- pipelines -----------------------------------------------------------------------------


def _stage_rows(values: dict[str, Any]) -> list[dict[str, Any]]:
    """The stage rows of the form in order; rows of new stages left without a name are
    dropped (so the form may offer empty rows)."""
    try:
        count = min(int(str(values.get("stage_count") or "0")), 60)
    except ValueError:
        count = 0
    rows = []
    for index in range(count):
        row = {
            "id": _text(values, f"stages.{index}.id"),
            "name": str(values.get(f"stages.{index}.name") or "").strip(),
            "probability": _text(values, f"stages.{index}.probability"),
            "kind": _text(values, f"stages.{index}.kind") or "open",
        }
        if row["id"] or row["name"]:
            rows.append(row)
    return rows


def _stage_inputs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if v is not None} for row in rows]


def _form_of_rows(name: str, rows: list[dict[str, Any]], **values: Any) -> Form:
    found: dict[str, Any] = {"name": name, **values}
    for index, row in enumerate(rows):
        for key, value in row.items():
            found[f"stages.{index}.{key}"] = "" if value is None else str(value)
    return Form(found, {})


async def _pipeline_form(
    request: Request,
    form: Form,
    rows: list[dict[str, Any]],
    *,
    pipeline: Any = None,
    status: int = 200,
) -> Response:
    blank = {"id": None, "name": "", "probability": None, "kind": "open"}
    shown = rows + [dict(blank) for _ in range(2 if pipeline is None else 1)]
    context = {"form": form, "pipeline": pipeline, "rows": shown, "stage_kinds": STAGE_KINDS}
    return await _form_page(request, "crm/pipeline_form.html", context, status)


@router.get("/crm/pipelines/new")
async def new_pipeline(request: Request, ctx: PipelineManager) -> Response:
    rows: list[dict[str, Any]] = [
        {"id": None, "name": name, "probability": probability or None, "kind": kind}
        for name, probability, kind in STARTING_STAGES
    ]
    return await _pipeline_form(request, _form_of_rows("", rows), rows)


@router.post("/crm/pipelines/new")
async def create_pipeline(request: Request, session: Session, ctx: PipelineManager) -> Response:
    values = await read_form(request)
    rows = _stage_rows(values)
    try:
        body = {"name": values.get("name", ""), "stages": _stage_inputs(rows)}
        made = await pipelines.create_pipeline(session, ctx, parse(PipelineCreate, body))
    except NexusError as error:
        form = form_with_error(_form_of_rows(str(values.get("name", "")), rows).values, error)
        return await _pipeline_form(request, form, rows, status=error.status)
    url = f"/crm/pipelines/{made.id}/edit"
    return flash(redirect(request, url), gettext(request, "The pipeline is created."))


@router.get("/crm/pipelines/{pipeline_id}/edit")
async def edit_pipeline(
    request: Request, session: Session, ctx: PipelineManager, pipeline_id: uuid.UUID
) -> Response:
    pipeline = await pipelines.get_pipeline(session, ctx, pipeline_id)
    rows = [
        {"id": str(s.id), "name": s.name, "probability": str(s.probability), "kind": s.kind}
        for s in pipeline.stages
    ]
    form = _form_of_rows(pipeline.name, rows, version=str(pipeline.version))
    return await _pipeline_form(request, form, rows, pipeline=pipeline)


def _apply_action(action: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`up:2`, `down:2` or `remove:2` applied to the stage rows (`save` keeps them)."""
    verb, _, place = action.partition(":")
    if not place.isdigit() or int(place) >= len(rows):
        return rows
    index = int(place)
    rows = list(rows)
    if verb == "up" and index > 0:
        rows[index - 1], rows[index] = rows[index], rows[index - 1]
    elif verb == "down" and index < len(rows) - 1:
        rows[index + 1], rows[index] = rows[index], rows[index + 1]
    elif verb == "remove":
        del rows[index]
    return rows


@router.post("/crm/pipelines/{pipeline_id}/edit")
async def update_pipeline(
    request: Request, session: Session, ctx: PipelineManager, pipeline_id: uuid.UUID
) -> Response:
    values = await read_form(request)
    pipeline = await pipelines.get_pipeline(session, ctx, pipeline_id)
    action = str(values.get("action") or "save")
    rows = _apply_action(action, _stage_rows(values))
    name = str(values.get("name", ""))
    try:
        body: dict[str, Any] = {
            "name": name,
            "stages": _stage_inputs(rows),
            "version": _version(values),
        }
        if action == "default":
            body["is_default"] = True
        await pipelines.update_pipeline(session, ctx, pipeline_id, parse(PipelineUpdate, body))
    except NexusError as error:
        form = _failed(_form_of_rows(name, rows, version=_version(values)).values, error, request)
        return await _pipeline_form(request, form, rows, pipeline=pipeline, status=error.status)
    url = f"/crm/pipelines/{pipeline_id}/edit"
    return flash(redirect(request, url), gettext(request, "The pipeline is saved."))


@router.post("/crm/pipelines/{pipeline_id}/delete")
async def delete_pipeline(
    request: Request, session: Session, ctx: PipelineManager, pipeline_id: uuid.UUID
) -> Response:
    try:
        await pipelines.delete_pipeline(session, ctx, pipeline_id)
    except NexusError as error:
        if error.status != 409:
            raise
        url = f"/crm/pipelines/{pipeline_id}/edit"
        message = gettext(request, "A pipeline that ever held a deal cannot be deleted.")
        return flash(redirect(request, url), message, kind="error")
    message = gettext(request, "The pipeline is deleted.")
    return flash(redirect(request, "/crm/pipelines"), message)
