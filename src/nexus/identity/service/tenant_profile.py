"""The business's own profile (legal name, tax id, address, time zone), its branches, and a
read-only view of its integrations. Needs the tenant bound to the session."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.audit import record
from nexus.core.concurrency import check_version, expected_version
from nexus.core.context import RequestContext
from nexus.core.errors import FieldError, invalid
from nexus.core.integrations import list_integrations
from nexus.core.pagination import paginate
from nexus.core.registry import registry
from nexus.core.tenant_config import cached
from nexus.core.types import utcnow
from nexus.identity.errors import BranchCodeTaken, BranchNotFound
from nexus.identity.models import Branch, Tenant
from nexus.identity.schemas import team as schemas
from nexus.identity.service.team import tenant_of

#: Profile fields that may be cleared with `null`.
CLEARABLE = frozenset({"legal_name", "tax_id", "address"})


def _apply(row: Any, changes: dict[str, Any]) -> list[str]:
    """Set the fields whose value differs; return their names."""
    changed = []
    for field, value in changes.items():
        if value != getattr(row, field):
            setattr(row, field, value)
            changed.append(field)
    return changed


def _requested(model: Any, *, clearable: frozenset[str]) -> dict[str, Any]:
    """The fields the caller sent; `null` is refused for a field that cannot be cleared."""
    sent: dict[str, Any] = model.model_dump(exclude_unset=True, exclude={"version"})
    for field, value in sent.items():
        if value is None and field not in clearable:
            raise invalid(f"body.{field}", f"{field} cannot be cleared", "not_nullable")
    return sent


# --- the profile ---------------------------------------------------------------------------


async def _tenant(session: AsyncSession, ctx: RequestContext) -> Tenant:
    # The caller's tenant is usually already loaded (the credential's lookup joins it): the
    # identity map answers without a query.
    tenant = await session.get(Tenant, tenant_of(ctx))
    if tenant is None:
        raise LookupError(f"tenant {tenant_of(ctx)} of the caller does not exist")
    return tenant


def _profile(tenant: Tenant) -> schemas.TenantProfile:
    modules = sorted(set(tenant.enabled_modules) | registry.always_enabled())
    return schemas.TenantProfile(
        id=tenant.id,
        name=tenant.name,
        slug=tenant.slug,
        country=tenant.country,
        currency=tenant.currency,
        timezone=tenant.timezone,
        legal_name=tenant.legal_name,
        tax_id=tenant.tax_id,
        address=tenant.address,
        enabled_modules=modules,
        status=tenant.status,
        version=tenant.version,
    )


@dataclass(frozen=True)
class Locale:
    """What a business cannot change once created: its country and currency."""

    country: str
    currency: str


async def locale_of(session: AsyncSession, ctx: RequestContext) -> Locale:
    """The caller's business's country and currency, kept in memory per process (no endpoint
    changes them): phone numbers and amounts read them on every write."""

    async def load() -> Locale:
        tenant = await _tenant(session, ctx)
        return Locale(tenant.country, tenant.currency)

    return await cached(session, "identity.locale", load)


async def get_profile(session: AsyncSession, ctx: RequestContext) -> schemas.TenantProfile:
    return _profile(await _tenant(session, ctx))


async def update_profile(
    session: AsyncSession,
    ctx: RequestContext,
    data: schemas.TenantProfileUpdate,
    *,
    if_match: str | None = None,
) -> schemas.TenantProfile:
    """Change the profile; `legal_name`, `tax_id` and `address` may be cleared with null."""
    tenant = await _tenant(session, ctx)
    check_version(tenant.version, expected_version(data.version, if_match))
    requested = _requested(data, clearable=CLEARABLE)
    if "timezone" in requested:
        try:
            ZoneInfo(requested["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise invalid("body.timezone", f"{requested['timezone']!r} is not an IANA time zone")
    changed = _apply(tenant, requested)
    if changed:
        await session.flush()
        record(
            session,
            ctx,
            "identity.tenant.updated",
            target_type="tenant",
            target_id=tenant.id,
            changes=changed,
        )
    return _profile(tenant)


# --- branches ------------------------------------------------------------------------------


async def _branch(session: AsyncSession, branch_id: uuid.UUID) -> Branch:
    branch = await session.scalar(
        select(Branch).where(Branch.id == branch_id, Branch.deleted_at.is_(None))
    )
    if branch is None:
        raise BranchNotFound()
    return branch


async def _check_code_free(
    session: AsyncSession, code: str, *, field: str, except_id: uuid.UUID | None = None
) -> None:
    """Codes stay reserved by deleted branches too (they identify the branch in old records)."""
    statement = select(Branch.id, Branch.deleted_at).where(Branch.code == code)
    if except_id is not None:
        statement = statement.where(Branch.id != except_id)
    found = (await session.execute(statement)).first()
    if found is not None:
        deleted = " (by a deleted branch)" if found.deleted_at is not None else ""
        raise BranchCodeTaken(
            detail=f"The code {code!r} is taken{deleted}",
            errors=[FieldError(field, "This code is taken", "taken")],
        )


async def _single_headquarters(session: AsyncSession, keep: Branch) -> None:
    others = await session.scalars(
        select(Branch)
        .where(Branch.is_headquarters.is_(True), Branch.id != keep.id)
        .order_by(Branch.id)
    )
    for other in others:
        other.is_headquarters = False


async def list_branches(
    session: AsyncSession, *, limit: int = 50, cursor: str | None = None
) -> schemas.Page[schemas.Branch]:
    page = await paginate(
        session,
        select(Branch).where(Branch.deleted_at.is_(None)),
        sort=Branch.created_at,
        id_column=Branch.id,
        limit=limit,
        cursor=cursor,
    )
    items = [schemas.Branch.model_validate(branch) for branch in page.items]
    return schemas.Page(items=items, next_cursor=page.next_cursor)


async def get_branch(session: AsyncSession, branch_id: uuid.UUID) -> schemas.Branch:
    return schemas.Branch.model_validate(await _branch(session, branch_id))


async def create_branch(
    session: AsyncSession, ctx: RequestContext, data: schemas.BranchCreate
) -> schemas.Branch:
    """A new branch; its code is unique in the business. At most one is the headquarters."""
    await _check_code_free(session, data.code, field="body.code")
    values = data.model_dump(exclude_none=True)
    branch = Branch(**values)
    session.add(branch)
    await session.flush()
    if branch.is_headquarters:
        await _single_headquarters(session, branch)
        await session.flush()
    record(
        session,
        ctx,
        "identity.branch.created",
        target_type="branch",
        target_id=branch.id,
        changes=sorted(values),
    )
    return schemas.Branch.model_validate(branch)


async def update_branch(
    session: AsyncSession,
    ctx: RequestContext,
    branch_id: uuid.UUID,
    data: schemas.BranchUpdate,
    *,
    if_match: str | None = None,
) -> schemas.Branch:
    """Change a branch; `address` and `phone` may be cleared with null."""
    branch = await _branch(session, branch_id)
    check_version(branch.version, expected_version(data.version, if_match))
    requested = _requested(data, clearable=frozenset({"address", "phone"}))
    if "code" in requested and requested["code"] != branch.code:
        await _check_code_free(session, requested["code"], field="body.code", except_id=branch.id)
    changed = _apply(branch, requested)
    if changed:
        if branch.is_headquarters and "is_headquarters" in changed:
            await _single_headquarters(session, branch)
        await session.flush()
        record(
            session,
            ctx,
            "identity.branch.updated",
            target_type="branch",
            target_id=branch.id,
            changes=changed,
        )
    return schemas.Branch.model_validate(branch)


async def delete_branch(session: AsyncSession, ctx: RequestContext, branch_id: uuid.UUID) -> None:
    """Soft delete: the branch disappears from the API; its code stays reserved."""
    branch = await _branch(session, branch_id)
    branch.deleted_at = utcnow()
    await session.flush()
    record(
        session,
        ctx,
        "identity.branch.deleted",
        target_type="branch",
        target_id=branch.id,
        changes=["deleted_at"],
    )


# --- integrations --------------------------------------------------------------------------


async def list_integration_settings(session: AsyncSession) -> schemas.Page[schemas.Integration]:
    """Every integration of the business on one page (never their secrets)."""
    items = [
        schemas.Integration(
            provider=view.provider,
            category=view.category,
            options=view.options,
            secret_names=view.secret_names,
            is_enabled=view.is_enabled,
        )
        for view in await list_integrations(session)
    ]
    return schemas.Page(items=items, next_cursor=None)
