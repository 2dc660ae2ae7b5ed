"""Deals on pipelines: money, stages, won and lost, record-level access, and the forecast.

Moving a deal to another stage stamps `stage_changed_at` and publishes
`crm.deal.stage_changed`; a won or lost stage closes the deal (`status`, `closed_at`; lost needs
a `lost_reason`), and winning publishes `crm.deal.won`. An open stage reopens it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
import zoneinfo
from collections import defaultdict
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, Select, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.audit import record
from nexus.core.concurrency import check_version, expected_version
from nexus.core.context import RequestContext
from nexus.core.errors import invalid
from nexus.core.events import Event, publish
from nexus.core.ids import new_id
from nexus.core.money import is_currency
from nexus.core.pagination import Page, paginate
from nexus.core.types import utcnow
from nexus.crm import schemas_deals as schemas
from nexus.crm.errors_deals import DealNotFound
from nexus.crm.models import Company, Contact, Deal, Stage
from nexus.crm.service import fields
from nexus.crm.service.common import visible_to
from nexus.crm.service.ordering import NullsLast, paginate_nulls_last
from nexus.crm.service.pipelines import (
    default_pipeline,
    pipeline_row,
    tenant_currency,
)
from nexus.identity.errors import UserNotFound
from nexus.identity.service import team, tenant_profile

ENTITY = "deal"


@dataclasses.dataclass(frozen=True)
class DealStageChanged(Event):
    type: ClassVar[str] = "crm.deal.stage_changed"
    deal_id: uuid.UUID
    pipeline_id: uuid.UUID
    from_stage_id: uuid.UUID | None
    to_stage_id: uuid.UUID
    status: str


@dataclasses.dataclass(frozen=True)
class DealWon(Event):
    type: ClassVar[str] = "crm.deal.won"
    deal_id: uuid.UUID
    pipeline_id: uuid.UUID
    stage_id: uuid.UUID
    amount_minor: int
    currency: str
    owner_id: uuid.UUID | None


def view(deal: Deal) -> schemas.Deal:
    return schemas.Deal(
        id=deal.id,
        title=deal.title,
        pipeline_id=deal.pipeline_id,
        stage_id=deal.stage_id,
        amount=schemas.Money(amount_minor=deal.amount_minor, currency=deal.currency),
        expected_close=deal.expected_close,
        status=deal.status,  # type: ignore[arg-type]
        lost_reason=deal.lost_reason,
        contact_id=deal.contact_id,
        company_id=deal.company_id,
        owner_id=deal.owner_id,
        custom=deal.custom,
        stage_changed_at=deal.stage_changed_at,
        closed_at=deal.closed_at,
        created_at=deal.created_at,
        updated_at=deal.updated_at,
        version=deal.version,
    )


def _visible(ctx: RequestContext) -> Select[Deal]:
    return select(Deal).where(Deal.deleted_at.is_(None), visible_to(ctx, Deal.owner_id.expression))


async def deal_row(session: AsyncSession, ctx: RequestContext, deal_id: uuid.UUID) -> Deal:
    """A live deal the caller may see, else 404."""
    deal = await session.scalar(_visible(ctx).where(Deal.id == deal_id))
    if deal is None:
        raise DealNotFound()
    return deal


async def deal_exists(session: AsyncSession, deal_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(Deal.id).where(Deal.id == deal_id, Deal.deleted_at.is_(None))
    )
    return found is not None


async def check_contact(session: AsyncSession, contact_id: uuid.UUID | None, field: str) -> None:
    if contact_id is None:
        return
    found = await session.scalar(
        select(Contact.id).where(Contact.id == contact_id, Contact.deleted_at.is_(None))
    )
    if found is None:
        raise invalid(field, "No such contact", "not_found")


async def check_company(session: AsyncSession, company_id: uuid.UUID | None, field: str) -> None:
    if company_id is None:
        return
    found = await session.scalar(
        select(Company.id).where(Company.id == company_id, Company.deleted_at.is_(None))
    )
    if found is None:
        raise invalid(field, "No such company", "not_found")


async def check_member(
    session: AsyncSession, ctx: RequestContext, user_id: uuid.UUID | None, field: str
) -> None:
    """A person of this business (the caller always is)."""
    if user_id is None or user_id == ctx.user_id:
        return
    try:
        await team.get_member(session, ctx, user_id)
    except UserNotFound:
        raise invalid(field, "No such member of the business", "not_found") from None


def _currency(amount: schemas.MoneyInput | None, default: str) -> str:
    currency = amount.currency if amount and amount.currency else default
    if not is_currency(currency):
        raise invalid("body.amount.currency", f"{currency!r} is not an ISO 4217 currency")
    return currency


async def _stage(
    session: AsyncSession, pipeline_id: uuid.UUID, stage_id: uuid.UUID | None
) -> Stage:
    """The given stage of the pipeline, or its first open stage."""
    statement = select(Stage).where(Stage.pipeline_id == pipeline_id)
    if stage_id is not None:
        stage = await session.scalar(statement.where(Stage.id == stage_id))
        if stage is None:
            raise invalid("body.stage_id", "No such stage in the deal's pipeline", "not_found")
        return stage
    stage = await session.scalar(
        statement.where(Stage.kind == "open").order_by(Stage.position, Stage.id).limit(1)
    )
    if stage is None:
        raise invalid("body.stage_id", "The pipeline has no open stage")
    return stage


def _enter(session: AsyncSession, ctx: RequestContext, deal: Deal, stage: Stage) -> None:
    """Put the deal in `stage` (its status follows the stage's kind) and say so."""
    previous: uuid.UUID | None = deal.stage_id  # None while the deal is being created
    deal.pipeline_id, deal.stage_id = stage.pipeline_id, stage.id
    deal.stage_changed_at = utcnow()
    was = deal.status
    deal.status = stage.kind
    if stage.kind == "open":
        deal.closed_at = None
        deal.lost_reason = None
    elif was != stage.kind or deal.closed_at is None:
        deal.closed_at = utcnow()
    if stage.kind != "lost":
        deal.lost_reason = None
    elif not deal.lost_reason:
        raise invalid("body.lost_reason", "Say why the deal was lost", "required")
    if previous is not None:
        publish(
            session,
            ctx,
            DealStageChanged(deal.id, stage.pipeline_id, previous, stage.id, stage.kind),
        )
    if stage.kind == "won" and was != "won":
        publish(
            session,
            ctx,
            DealWon(
                deal.id,
                stage.pipeline_id,
                stage.id,
                deal.amount_minor,
                deal.currency,
                deal.owner_id,
            ),
        )


async def _custom(
    session: AsyncSession, sent: dict[str, Any], held: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Custom values checked against the business's deal fields (422 `body.custom.<key>`):
    `sent` merged into `held`, `null` clearing a key. Deals have no encrypted column, so a
    sensitive field's value is refused."""
    values = await fields.check_values(
        session, ENTITY, sent, held=fields.CustomValues(plain=dict(held or {}), sensitive={})
    )
    if values.sensitive:
        key = sorted(values.sensitive)[0]
        raise invalid(
            f"body.custom.{key}",
            "Sensitive values are kept on contacts and companies, not deals",
            "sensitive",
        )
    return dict(values.plain)


async def create_deal(
    session: AsyncSession, ctx: RequestContext, data: schemas.DealCreate
) -> schemas.Deal:
    """A deal in the given (or default) pipeline and stage (or its first open stage)."""
    if data.pipeline_id is not None:
        pipeline = await pipeline_row(session, data.pipeline_id)
    else:
        found = await default_pipeline(session)
        if found is None:
            raise invalid("body.pipeline_id", "The business has no pipeline yet", "required")
        pipeline = found
    stage = await _stage(session, pipeline.id, data.stage_id)
    await check_contact(session, data.contact_id, "body.contact_id")
    await check_company(session, data.company_id, "body.company_id")
    owner = data.owner_id or ctx.user_id
    await check_member(session, ctx, owner, "body.owner_id")
    custom = await _custom(session, data.custom)
    deal = Deal(
        id=new_id(),
        title=data.title,
        amount_minor=data.amount.amount_minor if data.amount else 0,
        currency=_currency(data.amount, await tenant_currency(session, ctx)),
        expected_close=data.expected_close,
        contact_id=data.contact_id,
        company_id=data.company_id,
        owner_id=owner,
        custom=custom,
        lost_reason=data.lost_reason,
    )
    _enter(session, ctx, deal, stage)
    session.add(deal)
    await session.flush()
    record(
        session,
        ctx,
        "crm.deal.created",
        target_type="crm_deal",
        target_id=deal.id,
        changes=[field for field in data.model_fields_set if field != "custom"] + ["stage_id"],
    )
    return view(deal)


async def get_deal(session: AsyncSession, ctx: RequestContext, deal_id: uuid.UUID) -> schemas.Deal:
    return view(await deal_row(session, ctx, deal_id))


@dataclasses.dataclass(frozen=True)
class DealFilters:
    pipeline_id: uuid.UUID | None = None
    stage_id: uuid.UUID | None = None
    status: str | None = None
    owner_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    company_id: uuid.UUID | None = None


def filtered(ctx: RequestContext, filters: DealFilters) -> Select[Deal]:
    """The deals list's SELECT (record-level access and filters), unordered: shared with the
    CSV export."""
    statement = _visible(ctx)
    for name in ("pipeline_id", "stage_id", "status", "owner_id", "contact_id", "company_id"):
        value = getattr(filters, name)
        if value is not None:
            statement = statement.where(getattr(Deal, name) == value)
    return statement


async def list_deals(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    filters: DealFilters,
    sort: str = "-created_at",
    limit: int = 50,
    cursor: str | None = None,
) -> schemas.Page[schemas.Deal]:
    """Live deals the caller may see, filtered and sorted (deals without an expected close
    date come last either way); one query per page."""
    statement = filtered(ctx, filters)
    descending = sort.startswith("-")
    field = sort.removeprefix("-")
    page: Page[Deal]
    if field == "expected_close":
        page = await paginate_nulls_last(
            session,
            statement,
            order=NullsLast(Deal.expected_close, descending=descending),
            id_column=Deal.id,
            limit=limit,
            cursor=cursor,
        )
    else:
        column = Deal.amount_minor if field == "amount" else Deal.created_at
        page = await paginate(
            session,
            statement,
            sort=column,
            id_column=Deal.id,
            limit=limit,
            cursor=cursor,
            descending=descending,
        )
    return schemas.Page(items=[view(deal) for deal in page.items], next_cursor=page.next_cursor)


CLEARABLE = ("expected_close", "contact_id", "company_id", "lost_reason")


async def _new_stage(session: AsyncSession, deal: Deal, data: schemas.DealUpdate) -> Stage | None:
    """The stage the update moves the deal to, or None if it stays."""
    moving_pipeline = data.pipeline_id is not None and data.pipeline_id != deal.pipeline_id
    if moving_pipeline:
        assert data.pipeline_id is not None
        pipeline = await pipeline_row(session, data.pipeline_id)
        return await _stage(session, pipeline.id, data.stage_id)
    if data.stage_id is not None and data.stage_id != deal.stage_id:
        return await _stage(session, deal.pipeline_id, data.stage_id)
    return None


async def _check_links(
    session: AsyncSession, ctx: RequestContext, data: schemas.DealUpdate
) -> None:
    sent = data.model_fields_set
    if "contact_id" in sent:
        await check_contact(session, data.contact_id, "body.contact_id")
    if "company_id" in sent:
        await check_company(session, data.company_id, "body.company_id")
    if data.owner_id is not None:
        await check_member(session, ctx, data.owner_id, "body.owner_id")


def _apply(deal: Deal, data: schemas.DealUpdate, custom: dict[str, Any] | None) -> list[str]:
    """Set the plain fields the update names; the names of those that changed."""
    wanted: dict[str, Any] = {} if custom is None else {"custom": custom}
    for name in ("title", "owner_id"):
        if getattr(data, name) is not None:
            wanted[name] = getattr(data, name)
    for name in CLEARABLE:
        if name in data.model_fields_set:
            wanted[name] = getattr(data, name)
    if data.amount is not None:
        wanted["amount_minor"] = data.amount.amount_minor
        wanted["currency"] = _currency(data.amount, deal.currency)
    changed = []
    for name, value in wanted.items():
        if value != getattr(deal, name):
            setattr(deal, name, value)
            changed.append(name)
    return changed


async def update_deal(
    session: AsyncSession,
    ctx: RequestContext,
    deal_id: uuid.UUID,
    data: schemas.DealUpdate,
    *,
    if_match: str | None = None,
) -> schemas.Deal:
    """Change a deal, moving it between stages (or pipelines) by the rules above. A lost deal
    keeps its reason; clearing it while the deal is lost is refused."""
    deal = await deal_row(session, ctx, deal_id)
    check_version(deal.version, expected_version(data.version, if_match))
    await _check_links(session, ctx, data)
    stage = await _new_stage(session, deal, data)
    custom = None if data.custom is None else await _custom(session, data.custom, deal.custom)
    changed = _apply(deal, data, custom)
    if stage is not None:
        _enter(session, ctx, deal, stage)
        changed += ["stage_id", "status"] + (["pipeline_id"] if data.pipeline_id else [])
    elif deal.status == "lost" and not deal.lost_reason:
        raise invalid("body.lost_reason", "A lost deal needs its reason", "required")
    elif deal.status != "lost" and deal.lost_reason:
        raise invalid("body.lost_reason", "Only a lost deal has a lost reason")
    if changed:
        await session.flush()
        record(
            session,
            ctx,
            "crm.deal.updated",
            target_type="crm_deal",
            target_id=deal.id,
            changes=sorted(set(changed)),
        )
    return view(deal)


async def delete_deal(session: AsyncSession, ctx: RequestContext, deal_id: uuid.UUID) -> None:
    """Soft delete: the deal leaves lists, summaries and forecasts."""
    deal = await deal_row(session, ctx, deal_id)
    deal.deleted_at = utcnow()
    await session.flush()
    record(
        session,
        ctx,
        "crm.deal.deleted",
        target_type="crm_deal",
        target_id=deal.id,
        changes=["deleted_at"],
    )


# --- forecast ------------------------------------------------------------------------------


def _month_starts(today: dt.date, months: int) -> list[dt.date]:
    """The first day of this month and of the `months` after it."""
    starts = []
    year, month = today.year, today.month
    for _ in range(months + 1):
        starts.append(dt.date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return starts


async def _today(session: AsyncSession, ctx: RequestContext) -> dt.date:
    """Today in the business's time zone."""
    profile = await tenant_profile.get_profile(session, ctx)
    try:
        zone = zoneinfo.ZoneInfo(profile.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return utcnow().astimezone(zone).date()


def _bucket(month: str | None, currency: str, totals: list[int] | None) -> schemas.ForecastBucket:
    """`totals` is `[count, value, sum of value x probability]`; the weighted value is rounded
    half-up once, on the bucket's exact sum."""
    count, value, weight = totals or (0, 0, 0)
    return schemas.ForecastBucket(
        month=month,
        count=count,
        value=schemas.Money(amount_minor=value, currency=currency),
        weighted_value=schemas.Money(amount_minor=(weight + 50) // 100, currency=currency),
    )


def _currency_forecast(
    currency: str, labels: list[str], found: dict[str, list[int]]
) -> schemas.CurrencyForecast:
    return schemas.CurrencyForecast(
        currency=currency,
        months=[_bucket(label, currency, found.get(label)) for label in labels],
        overdue=_bucket(None, currency, found.get("overdue")),
        later=_bucket(None, currency, found.get("later")),
        no_date=_bucket(None, currency, found.get("no_date")),
    )


async def forecast(
    session: AsyncSession, ctx: RequestContext, *, months: int = 6
) -> schemas.Forecast:
    """Open deals one may see, by month of expected close from this month (in the business's
    time zone), with value and weighted value (value x the stage's probability / 100, summed
    exactly and rounded half-up once per bucket). One GROUP BY query; currencies apart."""
    today = await _today(session, ctx)
    currency = await tenant_currency(session, ctx)
    starts = _month_starts(today, months)
    labels = [start.strftime("%Y-%m") for start in starts[:-1]]
    whens: list[tuple[ColumnElement[bool], Any]] = [
        (Deal.expected_close.is_(None), literal("no_date"))
    ]
    whens.append((Deal.expected_close < starts[0], literal("overdue")))
    whens += [
        (Deal.expected_close < end, literal(label))
        for end, label in zip(starts[1:], labels, strict=True)
    ]
    # Grouped outside a subquery: PostgreSQL does not see two renderings of a CASE with
    # parameters as the same expression.
    deals = (
        select(
            case(*whens, else_=literal("later")).label("bucket"),
            Deal.currency.label("currency"),
            Stage.probability.label("probability"),
            Deal.amount_minor.label("amount"),
        )
        .join(Stage, Stage.id == Deal.stage_id)
        .where(
            Deal.status == "open",
            Deal.deleted_at.is_(None),
            visible_to(ctx, Deal.owner_id.expression),
        )
        .subquery()
    )
    rows = await session.execute(
        select(
            deals.c.bucket,
            deals.c.currency,
            deals.c.probability,
            func.count(),
            func.sum(deals.c.amount),
        ).group_by(deals.c.bucket, deals.c.currency, deals.c.probability)
    )
    found: dict[str, dict[str, list[int]]] = defaultdict(dict)
    for label, deal_currency, probability, count, value in rows:
        totals = found[deal_currency].setdefault(label, [0, 0, 0])
        totals[0] += int(count)
        totals[1] += int(value)
        totals[2] += int(value) * int(probability)
    return schemas.Forecast(
        currency=currency,
        forecast=_currency_forecast(currency, labels, found.get(currency, {})),
        other_currencies=[
            _currency_forecast(other, labels, found[other])
            for other in sorted(found)
            if other != currency
        ],
    )
