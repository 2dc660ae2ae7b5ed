"""Custom field definitions, and the custom values of records checked against them.

Values of sensitive fields never reach `custom`: they are kept in `sensitive_encrypted` (the
JSON of those keys, encrypted with the process keyring), shown only to callers holding
`crm.sensitive.read`, and every read that shows them is audited, naming the fields.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.audit import record
from nexus.core.concurrency import check_version, expected_version
from nexus.core.context import RequestContext
from nexus.core.db import database_of
from nexus.core.errors import FieldError, ValidationFailed, invalid
from nexus.core.pagination import paginate
from nexus.core.tenant_config import cached
from nexus.crm import schemas
from nexus.crm.errors import FieldKeyTaken, FieldNotFound
from nexus.crm.models import FieldDefinition

SENSITIVE_READ = "crm.sensitive.read"
MAX_TEXT = 2000


# --- definitions ---------------------------------------------------------------------------


def _check_choices(kind: str, choices: Sequence[str], *, field: str = "body.choices") -> list[str]:
    unique = list(dict.fromkeys(choices))
    if kind == "choice" and not unique:
        raise invalid(field, "A choice field needs at least one choice", "choices_required")
    if kind != "choice" and unique:
        raise invalid(field, "Only choice fields have choices", "choices_not_allowed")
    return unique


async def _definition(session: AsyncSession, field_id: uuid.UUID) -> FieldDefinition:
    found = await session.scalar(select(FieldDefinition).where(FieldDefinition.id == field_id))
    if found is None:
        raise FieldNotFound()
    return found


async def list_fields(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    entity: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> schemas.Page[schemas.FieldDefinition]:
    """Definitions oldest first, optionally of one entity; one query."""
    statement = select(FieldDefinition)
    if entity:
        statement = statement.where(FieldDefinition.entity == entity)
    page = await paginate(
        session,
        statement,
        sort=FieldDefinition.created_at,
        id_column=FieldDefinition.id,
        limit=limit,
        cursor=cursor,
    )
    items = [schemas.FieldDefinition.model_validate(row) for row in page.items]
    return schemas.Page(items=items, next_cursor=page.next_cursor)


async def get_field(
    session: AsyncSession, ctx: RequestContext, field_id: uuid.UUID
) -> schemas.FieldDefinition:
    return schemas.FieldDefinition.model_validate(await _definition(session, field_id))


async def create_field(
    session: AsyncSession, ctx: RequestContext, data: schemas.FieldDefinitionCreate
) -> schemas.FieldDefinition:
    """A new field; its key is unique per entity (409 `field_key_taken`)."""
    choices = _check_choices(data.kind, data.choices)
    taken = await session.scalar(
        select(FieldDefinition.id).where(
            FieldDefinition.entity == data.entity, FieldDefinition.key == data.key
        )
    )
    if taken is not None:
        raise FieldKeyTaken(
            detail=f"The {data.entity} field {data.key!r} exists",
            errors=[FieldError("body.key", "This key is taken", "taken")],
            extra={"existing_id": str(taken)},
        )
    row = FieldDefinition(
        entity=data.entity,
        key=data.key,
        label=data.label,
        kind=data.kind,
        choices=choices,
        required=data.required,
        sensitive=data.sensitive,
        position=data.position,
    )
    session.add(row)
    await session.flush()
    record(
        session,
        ctx,
        "crm.field.created",
        target_type="crm_field",
        target_id=row.id,
        changes=["entity", "key", "label", "kind", "choices", "required", "sensitive"],
    )
    return schemas.FieldDefinition.model_validate(row)


async def update_field(
    session: AsyncSession,
    ctx: RequestContext,
    field_id: uuid.UUID,
    data: schemas.FieldDefinitionUpdate,
    *,
    if_match: str | None = None,
) -> schemas.FieldDefinition:
    """Change the label, choices, required flag or position (key, kind and sensitivity stay,
    so values already held keep their meaning). Values held outside new choices stay until the
    record is next changed."""
    row = await _definition(session, field_id)
    check_version(row.version, expected_version(data.version, if_match))
    wanted: dict[str, Any] = data.model_dump(exclude_unset=True, exclude={"version"})
    for name, value in wanted.items():
        if value is None:
            raise invalid(f"body.{name}", f"{name} cannot be cleared", "not_nullable")
    if "choices" in wanted:
        wanted["choices"] = _check_choices(row.kind, wanted["choices"])
    changed = [name for name, value in wanted.items() if value != getattr(row, name)]
    for name in changed:
        setattr(row, name, wanted[name])
    if changed:
        await session.flush()
        record(
            session,
            ctx,
            "crm.field.updated",
            target_type="crm_field",
            target_id=row.id,
            changes=changed,
        )
    return schemas.FieldDefinition.model_validate(row)


async def delete_field(session: AsyncSession, ctx: RequestContext, field_id: uuid.UUID) -> None:
    """Remove a definition; records drop its value when they are next changed."""
    row = await _definition(session, field_id)
    await session.delete(row)
    await session.flush()
    record(session, ctx, "crm.field.deleted", target_type="crm_field", target_id=field_id)


# --- record values -------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomValues:
    """A record's custom values split by where they are kept."""

    plain: dict[str, Any]
    sensitive: dict[str, Any]


@dataclass(frozen=True)
class FieldSpec:
    """What checking and showing a value needs of its field's definition. Immutable: the
    definitions of a business are shared by the requests of a process (`tenant_config`)."""

    key: str
    label: str
    kind: str
    choices: tuple[str, ...]
    required: bool
    sensitive: bool


_DEFINITIONS = select(
    FieldDefinition.key,
    FieldDefinition.label,
    FieldDefinition.kind,
    FieldDefinition.choices,
    FieldDefinition.required,
    FieldDefinition.sensitive,
).where(FieldDefinition.entity == bindparam("entity"))


async def definitions_of(session: AsyncSession, entity: str) -> Mapping[str, FieldSpec]:
    """The business's `entity` fields by key; kept in memory between transactions while the
    business's configuration is unchanged (field definitions are `@tenant_configuration`)."""

    async def load() -> Mapping[str, FieldSpec]:
        rows = await session.execute(_DEFINITIONS, {"entity": entity})
        return MappingProxyType(
            {
                key: FieldSpec(key, label, kind, tuple(choices or ()), required, sensitive)
                for key, label, kind, choices, required, sensitive in rows
            }
        )

    return await cached(session, f"crm.fields.{entity}", load)


def _bad(key: str, reason: str, code: str = "invalid") -> ValidationFailed:
    return invalid(f"body.custom.{key}", reason, code)


def _checked(definition: FieldSpec, value: Any) -> Any:
    """The value to store for `definition`, or a 422 naming `body.custom.<key>`."""
    key, kind = definition.key, definition.kind
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _bad(key, "Must be true or false", "wrong_type")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _bad(key, "Must be a number", "wrong_type")
        if isinstance(value, float) and not math.isfinite(value):
            raise _bad(key, "Must be a finite number", "wrong_type")
        if isinstance(value, int) and abs(value) > 2**53:
            raise _bad(key, "Is too large", "out_of_range")
        return value
    if not isinstance(value, str):
        raise _bad(key, "Must be text", "wrong_type")
    if "\x00" in value:
        raise _bad(key, "Must not contain the NUL character")
    text = value.strip()
    if kind == "date":
        try:
            return dt.date.fromisoformat(text).isoformat()
        except ValueError:
            raise _bad(key, "Must be a date, YYYY-MM-DD", "wrong_type") from None
    if kind == "choice":
        if text not in definition.choices:
            raise _bad(key, f"Must be one of {', '.join(definition.choices)}", "not_a_choice")
        return text
    if len(text) > MAX_TEXT:
        raise _bad(key, f"Must be at most {MAX_TEXT} characters", "too_long")
    return text


def _is_empty(value: Any) -> bool:
    return value is None or value == ""


async def check_values(
    session: AsyncSession,
    entity: str,
    sent: Mapping[str, Any],
    *,
    held: CustomValues | None = None,
) -> CustomValues:
    """The record's values after applying `sent` to those `held` (none for a new record).

    Keys sent must be defined for `entity` (422 `body.custom.<key>`), values must fit their
    kind (`null` clears one), and every required field must end up with a value. Held values of
    fields since deleted are dropped."""
    definitions = await definitions_of(session, entity)
    merged: dict[str, Any] = {}
    if held is not None:
        merged = {**held.plain, **held.sensitive}
    for key, value in sent.items():
        definition = definitions.get(key)
        if definition is None:
            raise _bad(key, f"No {entity} field has the key {key!r}", "unknown_field")
        if _is_empty(value):
            merged.pop(key, None)
        else:
            merged[key] = _checked(definition, value)
    for key, definition in sorted(definitions.items()):
        if definition.required and _is_empty(merged.get(key)):
            raise _bad(key, f"{definition.label} is required", "required")
    kept = {key: value for key, value in merged.items() if key in definitions}
    return CustomValues(
        plain={k: v for k, v in kept.items() if not definitions[k].sensitive},
        sensitive={k: v for k, v in kept.items() if definitions[k].sensitive},
    )


def seal(session: AsyncSession, sensitive: Mapping[str, Any]) -> bytes | None:
    """The encrypted JSON of sensitive values (None when there are none)."""
    if not sensitive:
        return None
    plaintext = json.dumps(dict(sensitive), sort_keys=True, separators=(",", ":"))
    return database_of(session).keyring.encrypt(plaintext.encode())


def unseal(session: AsyncSession, sealed: bytes | None) -> dict[str, Any]:
    if sealed is None:
        return {}
    values: dict[str, Any] = json.loads(database_of(session).keyring.decrypt(sealed))
    return values


def held_values(
    session: AsyncSession, plain: Mapping[str, Any], sealed: bytes | None
) -> CustomValues:
    return CustomValues(plain=dict(plain or {}), sensitive=unseal(session, sealed))


def reveal(
    session: AsyncSession, ctx: RequestContext, rows: Sequence[tuple[uuid.UUID, bytes | None]]
) -> dict[uuid.UUID, dict[str, Any]]:
    """The sensitive values of each record the caller may see (none without the permission)."""
    if not ctx.can(SENSITIVE_READ):
        return {}
    return {row_id: unseal(session, sealed) for row_id, sealed in rows if sealed is not None}


async def audit_reveal(
    session: AsyncSession,
    ctx: RequestContext,
    entity: str,
    revealed: Mapping[uuid.UUID, Mapping[str, Any]],
) -> None:
    """One audit event per record whose sensitive values a response shows, naming the fields.

    A read-only request (SQLite's reader, which may not take the write lock part-way) writes
    them in a short transaction of its own, committed before the values leave."""
    shown = [(row_id, sorted(values)) for row_id, values in revealed.items() if values]
    if not shown:
        return
    database = database_of(session)
    action = f"crm.{entity}.sensitive_read"
    if database.read_engine is not database.engine and session.bind is database.read_engine:
        async with database.transaction(ctx.tenant_id) as writer:
            for row_id, names in shown:
                record(
                    writer,
                    ctx,
                    action,
                    target_type=f"crm_{entity}",
                    target_id=row_id,
                    changes=names,
                )
        return
    for row_id, names in shown:
        record(session, ctx, action, target_type=f"crm_{entity}", target_id=row_id, changes=names)
