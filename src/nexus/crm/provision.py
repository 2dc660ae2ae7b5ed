"""What activation sets up in the CRM: the section's pipelines with their stages (the first
pipeline is the default; a sales pipeline when the section names none), its activity types
and its custom field definitions.

Idempotent: whatever exists already (by key) is left as it is, so running it twice creates
nothing new. Returns how many of each it created.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.audit import record
from nexus.core.context import RequestContext
from nexus.crm.models import ActivityType, FieldDefinition, Pipeline, Stage

#: The pipeline a business gets when its section names none.
DEFAULT_PIPELINE: dict[str, Any] = {
    "key": "sales",
    "name": "Sales",
    "stages": [
        {"key": "lead", "name": "Lead", "probability": 10, "kind": "open"},
        {"key": "qualified", "name": "Qualified", "probability": 25, "kind": "open"},
        {"key": "proposal", "name": "Proposal", "probability": 50, "kind": "open"},
        {"key": "negotiation", "name": "Negotiation", "probability": 75, "kind": "open"},
        {"key": "won", "name": "Won", "probability": 100, "kind": "won"},
        {"key": "lost", "name": "Lost", "probability": 0, "kind": "lost"},
    ],
}


async def provision(
    session: AsyncSession, ctx: RequestContext, section: dict[str, Any]
) -> dict[str, int]:
    """Create what `section` (a `CrmSection` as JSON) describes and is not there yet."""
    pipelines, stages = await _pipelines(session, section.get("pipelines") or [DEFAULT_PIPELINE])
    created = {
        "pipelines": pipelines,
        "stages": stages,
        "activity_types": await _activity_types(session, section.get("activity_types") or []),
        "fields": await _fields(session, section.get("fields") or []),
    }
    await session.flush()
    if any(created.values()):
        record(
            session,
            ctx,
            "crm.provisioned",
            target_type="tenant",
            target_id=ctx.tenant_id,
            changes=[name for name, count in created.items() if count],
        )
    return created


async def _pipelines(session: AsyncSession, specs: list[dict[str, Any]]) -> tuple[int, int]:
    existing = {p.key: p for p in (await session.scalars(select(Pipeline))).all()}
    has_default = any(p.is_default for p in existing.values())
    known_stages = {(s.pipeline_id, s.key) for s in (await session.scalars(select(Stage))).all()}
    pipelines = stages = 0
    for position, spec in enumerate(specs):
        pipeline = existing.get(spec["key"])
        if pipeline is None:
            pipeline = Pipeline(
                key=spec["key"],
                name=spec["name"],
                is_default=not has_default and position == 0,
                position=len(existing) + pipelines,
            )
            session.add(pipeline)
            await session.flush()
            pipelines += 1
        for order, stage in enumerate(spec["stages"]):
            if (pipeline.id, stage["key"]) in known_stages:
                continue
            session.add(
                Stage(
                    pipeline_id=pipeline.id,
                    key=stage["key"],
                    name=stage["name"],
                    position=order,
                    probability=stage["probability"],
                    kind=stage.get("kind", "open"),
                )
            )
            stages += 1
    return pipelines, stages


async def _activity_types(session: AsyncSession, specs: list[dict[str, Any]]) -> int:
    existing = set((await session.scalars(select(ActivityType.key))).all())
    created = 0
    for spec in specs:
        if spec["key"] not in existing:
            session.add(ActivityType(key=spec["key"], name=spec["name"]))
            existing.add(spec["key"])
            created += 1
    return created


async def _fields(session: AsyncSession, specs: list[dict[str, Any]]) -> int:
    rows = await session.execute(select(FieldDefinition.entity, FieldDefinition.key))
    existing = {(entity, key) for entity, key in rows}
    created = 0
    for position, spec in enumerate(specs):
        if (spec["entity"], spec["key"]) in existing:
            continue
        session.add(
            FieldDefinition(
                entity=spec["entity"],
                key=spec["key"],
                label=spec["label"],
                kind=spec.get("kind", "text"),
                choices=list(spec.get("choices") or []),
                required=bool(spec.get("required", False)),
                sensitive=bool(spec.get("sensitive", False)),
                position=position,
            )
        )
        existing.add((spec["entity"], spec["key"]))
        created += 1
    return created
