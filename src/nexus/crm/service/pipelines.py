"""Pipelines and their ordered stages (open, won, lost), and the per-stage summary.

A business has one default pipeline: the first one made, or the one last marked default.
Every pipeline has at least one open, one won and one lost stage.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from nexus.core.audit import record
from nexus.core.concurrency import check_version, expected_version
from nexus.core.context import RequestContext
from nexus.core.errors import invalid
from nexus.core.pagination import paginate
from nexus.crm import schemas_deals as schemas
from nexus.crm.errors_deals import PipelineInUse, PipelineKeyTaken, PipelineNotFound, StageInUse
from nexus.crm.models import Deal, Pipeline, Stage
from nexus.crm.service.common import visible_to
from nexus.identity.service import tenant_profile


def key_from(name: str) -> str:
    """`Proposal sent` → `proposal_sent`: a key for a record named without one."""
    words = re.sub(r"[^a-z0-9]+", "_", name.casefold()).strip("_")
    key = words if words[:1].isalpha() else f"s_{words}"
    return key[:50].rstrip("_") or "stage"


def weighted(value_minor: int, probability: int) -> int:
    """`value x probability / 100`, rounded half-up, in whole minor units."""
    return (value_minor * probability + 50) // 100


async def tenant_currency(session: AsyncSession, ctx: RequestContext) -> str:
    """The business's currency."""
    return (await tenant_profile.locale_of(session, ctx)).currency


def stage_view(stage: Stage) -> schemas.Stage:
    return schemas.Stage.model_validate(stage)


def _view(pipeline: Pipeline, stages: Sequence[Stage]) -> schemas.Pipeline:
    return schemas.Pipeline(
        id=pipeline.id,
        key=pipeline.key,
        name=pipeline.name,
        is_default=pipeline.is_default,
        position=pipeline.position,
        stages=[stage_view(stage) for stage in stages],
        version=pipeline.version,
        created_at=pipeline.created_at,
    )


async def stages_of(
    session: AsyncSession, pipeline_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Stage]]:
    """The stages of each pipeline in order, in one query."""
    found: dict[uuid.UUID, list[Stage]] = defaultdict(list)
    if pipeline_ids:
        rows = await session.scalars(
            select(Stage)
            .where(Stage.pipeline_id.in_(pipeline_ids))
            .order_by(Stage.pipeline_id, Stage.position, Stage.id)
        )
        for stage in rows:
            found[stage.pipeline_id].append(stage)
    return found


async def pipeline_row(session: AsyncSession, pipeline_id: uuid.UUID) -> Pipeline:
    pipeline = await session.scalar(select(Pipeline).where(Pipeline.id == pipeline_id))
    if pipeline is None:
        raise PipelineNotFound()
    return pipeline


async def default_pipeline(session: AsyncSession) -> Pipeline | None:
    return await session.scalar(
        select(Pipeline).order_by(Pipeline.is_default.desc(), Pipeline.position).limit(1)
    )


async def list_pipelines(
    session: AsyncSession, ctx: RequestContext, *, limit: int = 50, cursor: str | None = None
) -> schemas.Page[schemas.Pipeline]:
    """Pipelines in the order they were made, each with its stages (two queries)."""
    page = await paginate(
        session,
        select(Pipeline),
        sort=Pipeline.created_at,
        id_column=Pipeline.id,
        limit=limit,
        cursor=cursor,
    )
    stages = await stages_of(session, [pipeline.id for pipeline in page.items])
    items = [_view(pipeline, stages.get(pipeline.id, [])) for pipeline in page.items]
    return schemas.Page(items=items, next_cursor=page.next_cursor)


async def get_pipeline(
    session: AsyncSession, ctx: RequestContext, pipeline_id: uuid.UUID
) -> schemas.Pipeline:
    pipeline = await pipeline_row(session, pipeline_id)
    return _view(pipeline, (await stages_of(session, [pipeline.id])).get(pipeline.id, []))


def _check_stages(stages: Sequence[schemas.StageInput]) -> list[str]:
    """The stages' keys, once each; at least one open, one won and one lost stage."""
    keys: list[str] = []
    for index, stage in enumerate(stages):
        key = stage.key or key_from(stage.name)
        if key in keys:
            raise invalid(f"body.stages.{index}.key", f"Two stages have the key {key!r}")
        keys.append(key)
    kinds = {stage.kind for stage in stages}
    for kind in ("open", "won", "lost"):
        if kind not in kinds:
            raise invalid("body.stages", f"A pipeline needs at least one {kind} stage")
    return keys


def _probability(stage: schemas.StageInput) -> int:
    if stage.probability is not None:
        return stage.probability
    return 100 if stage.kind == "won" else 0


async def _make_default(session: AsyncSession, pipeline: Pipeline) -> None:
    await session.execute(
        update(Pipeline)
        .where(Pipeline.id != pipeline.id, Pipeline.is_default.is_(True))
        .values(is_default=False, version=Pipeline.version + 1)
        .execution_options(synchronize_session=False)
    )
    pipeline.is_default = True


async def create_pipeline(
    session: AsyncSession, ctx: RequestContext, data: schemas.PipelineCreate
) -> schemas.Pipeline:
    """A pipeline with its stages in the order given; the first one is the default."""
    keys = _check_stages(data.stages)
    key = data.key or key_from(data.name)
    if await session.scalar(select(Pipeline.id).where(Pipeline.key == key)):
        raise PipelineKeyTaken(detail=f"The key {key!r} is taken")
    count = await session.scalar(select(func.count()).select_from(Pipeline)) or 0
    pipeline = Pipeline(key=key, name=data.name, position=count, is_default=count == 0)
    session.add(pipeline)
    await session.flush()
    if data.is_default and count:
        await _make_default(session, pipeline)
    stages = [
        Stage(
            pipeline_id=pipeline.id,
            key=stage_key,
            name=stage.name,
            position=index,
            probability=_probability(stage),
            kind=stage.kind,
        )
        for index, (stage, stage_key) in enumerate(zip(data.stages, keys, strict=True))
    ]
    session.add_all(stages)
    await session.flush()
    record(
        session,
        ctx,
        "crm.pipeline.created",
        target_type="crm_pipeline",
        target_id=pipeline.id,
        changes=["key", "name", "is_default", "stages"],
    )
    return _view(pipeline, stages)


async def _deal_counts(
    session: AsyncSession, stage_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Deals (deleted ones too: they still refer to their stage) per stage."""
    if not stage_ids:
        return {}
    rows = await session.execute(
        select(Deal.stage_id, func.count())
        .where(Deal.stage_id.in_(stage_ids))
        .group_by(Deal.stage_id)
    )
    return {stage_id: int(count) for stage_id, count in rows}


async def _replace_stages(
    session: AsyncSession,
    pipeline: Pipeline,
    current: list[Stage],
    wanted: list[schemas.StageInput],
) -> list[Stage]:
    """Rename, move, re-weigh, add and remove stages so they become `wanted`, in its order."""
    keys = _check_stages(wanted)
    by_id = {stage.id: stage for stage in current}
    kept = {stage.id for stage in wanted if stage.id is not None}
    for index, item in enumerate(wanted):
        if item.id is not None and item.id not in by_id:
            raise invalid(f"body.stages.{index}.id", "No such stage in this pipeline")
    removed = [stage for stage in current if stage.id not in kept]
    in_use = await _deal_counts(session, [stage.id for stage in removed])
    for gone in removed:
        if in_use.get(gone.id):
            raise StageInUse(
                detail=f"The stage {gone.name!r} has {in_use[gone.id]} deal(s); move them first",
                extra={"stage_id": str(gone.id), "deal_count": in_use[gone.id]},
            )
        await session.delete(gone)
    # Keys are unique per pipeline: park the kept stages' keys before renaming them.
    for stage in current:
        if stage.id in kept:
            stage.key = f"~{stage.id.hex}"[:50]
    await session.flush()
    result: list[Stage] = []
    for index, (item, key) in enumerate(zip(wanted, keys, strict=True)):
        stage = by_id[item.id] if item.id is not None else Stage(pipeline_id=pipeline.id)
        if item.id is None:
            session.add(stage)
        stage.key, stage.name, stage.position = key, item.name, index
        stage.probability, stage.kind = _probability(item), item.kind
        result.append(stage)
    return result


async def update_pipeline(
    session: AsyncSession,
    ctx: RequestContext,
    pipeline_id: uuid.UUID,
    data: schemas.PipelineUpdate,
    *,
    if_match: str | None = None,
) -> schemas.Pipeline:
    """Rename a pipeline, make it the default, or change its stages (see `PipelineUpdate`).
    A stage with deals cannot be removed (409); its kind may change, but the deals keep their
    status until they move."""
    pipeline = await pipeline_row(session, pipeline_id)
    check_version(pipeline.version, expected_version(data.version, if_match))
    stages = (await stages_of(session, [pipeline.id])).get(pipeline.id, [])
    changed: list[str] = []
    if data.stages is not None:
        stages = await _replace_stages(session, pipeline, stages, data.stages)
        changed.append("stages")
    if data.name is not None and data.name != pipeline.name:
        pipeline.name = data.name
        changed.append("name")
    if data.is_default and not pipeline.is_default:
        await _make_default(session, pipeline)
        changed.append("is_default")
    if changed:
        if changed == ["stages"]:
            flag_modified(pipeline, "name")  # the stages are part of the pipeline's version
        await session.flush()
        record(
            session,
            ctx,
            "crm.pipeline.updated",
            target_type="crm_pipeline",
            target_id=pipeline.id,
            changes=changed,
        )
    return _view(pipeline, stages)


async def delete_pipeline(
    session: AsyncSession, ctx: RequestContext, pipeline_id: uuid.UUID
) -> None:
    """Delete a pipeline no deal was ever on (deleted deals still count: they keep their
    stage). Deleting the default hands the role to the next pipeline."""
    pipeline = await pipeline_row(session, pipeline_id)
    deals = await session.scalar(
        select(func.count()).select_from(Deal).where(Deal.pipeline_id == pipeline.id)
    )
    if deals:
        raise PipelineInUse(
            detail=f"The pipeline has {deals} deal(s), deleted ones included",
            extra={"deal_count": int(deals)},
        )
    was_default = pipeline.is_default
    await session.delete(pipeline)
    await session.flush()
    if was_default:
        successor = await default_pipeline(session)
        if successor is not None:
            successor.is_default = True
            await session.flush()
    record(session, ctx, "crm.pipeline.deleted", target_type="crm_pipeline", target_id=pipeline_id)


def _money(amount: int, currency: str) -> schemas.Money:
    return schemas.Money(amount_minor=amount, currency=currency)


async def pipeline_summary(
    session: AsyncSession, ctx: RequestContext, pipeline_id: uuid.UUID
) -> schemas.PipelineSummary:
    """Per stage: how many deals one may see, their value and weighted value in the
    business's currency, and per other currency apart. One GROUP BY query."""
    pipeline = await pipeline_row(session, pipeline_id)
    currency = await tenant_currency(session, ctx)
    stages = (await stages_of(session, [pipeline.id])).get(pipeline.id, [])
    rows = await session.execute(
        select(
            Deal.stage_id,
            Deal.currency,
            func.count(),
            func.coalesce(func.sum(Deal.amount_minor), 0),
        )
        .where(
            Deal.pipeline_id == pipeline.id,
            Deal.deleted_at.is_(None),
            visible_to(ctx, Deal.owner_id.expression),
        )
        .group_by(Deal.stage_id, Deal.currency)
        .order_by(Deal.stage_id, Deal.currency)
    )
    totals: dict[uuid.UUID, dict[str, tuple[int, int]]] = defaultdict(dict)
    for stage_id, deal_currency, count, value in rows:
        totals[stage_id][deal_currency] = (int(count), int(value))
    return schemas.PipelineSummary(
        pipeline_id=pipeline.id,
        currency=currency,
        stages=[_stage_summary(stage, totals.get(stage.id, {}), currency) for stage in stages],
    )


def _stage_summary(
    stage: Stage, by_currency: dict[str, tuple[int, int]], currency: str
) -> schemas.StageSummary:
    value = by_currency.get(currency, (0, 0))[1]
    others = [
        schemas.Totals(
            count=other_count,
            value=_money(other_value, other),
            weighted_value=_money(weighted(other_value, stage.probability), other),
        )
        for other, (other_count, other_value) in sorted(by_currency.items())
        if other != currency
    ]
    return schemas.StageSummary(
        stage=stage_view(stage),
        count=sum(found for found, _ in by_currency.values()),
        value=_money(value, currency),
        weighted_value=_money(weighted(value, stage.probability), currency),
        other_currencies=others,
    )
