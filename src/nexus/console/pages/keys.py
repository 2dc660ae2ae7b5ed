"""The API keys pages: the business's keys (never their secrets), making one (its secret shown
once, on the answer to the form) and revoking one.

Every action calls the `api_keys` service with the schemas of `/api/v1/identity/api-keys`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.console.pages.common import Session, new_router, parse, require
from nexus.console.pages.roles import chosen_list, collapse_list_errors, permission_groups
from nexus.console.shell import Form, flash, form_with_error, gettext, read_form, redirect, render
from nexus.core.context import RequestContext
from nexus.core.errors import NexusError, invalid
from nexus.identity import models
from nexus.identity.schemas.team import ApiKey, ApiKeyCreate
from nexus.identity.service import api_keys, tenant_profile

router = new_router()

Reader = Annotated[RequestContext, require("identity.api_key.read")]
Manager = Annotated[RequestContext, require("identity.api_key.manage")]
PAGE_SIZE = 50


def view(key: models.ApiKey) -> ApiKey:
    """A key as the API shows it (without its secret)."""
    return ApiKey(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        scopes=sorted(key.scopes),
        created_by=key.user_id,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
    )


@router.get("/api-keys")
async def key_list(
    request: Request, session: Session, ctx: Reader, cursor: str | None = None
) -> Response:
    page = await api_keys.list_api_keys(session, ctx, limit=PAGE_SIZE, cursor=cursor or None)
    keys = [view(key) for key in page.items]
    context = {"keys": keys, "page": page}
    return await render(request, "identity/keys.html", context)


# --- a new key -----------------------------------------------------------------------------


async def start_of_day(session: AsyncSession, ctx: RequestContext, value: str) -> dt.datetime:
    """`2027-01-31` → the start of that day in the business's timezone, as an aware time."""
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise invalid("body.expires_at", "Enter a date like 2027-01-31") from None
    timezone = (await tenant_profile.get_profile(session, ctx)).timezone
    return dt.datetime.combine(day, dt.time(0), tzinfo=ZoneInfo(timezone))


async def _new_key_page(
    request: Request, ctx: RequestContext, form: Form, *, status: int = 200
) -> Response:
    chosen = chosen_list(form.value("scopes", []))
    context = {"form": form, "groups": permission_groups(request, ctx, chosen)}
    return await render(request, "identity/keys_new.html", context, status=status)


@router.get("/api-keys/new")
async def new_key(request: Request, ctx: Manager) -> Response:
    return await _new_key_page(request, ctx, Form.empty())


@router.post("/api-keys/new")
async def create_key(request: Request, session: Session, ctx: Manager) -> Response:
    values = await read_form(request)
    try:
        expiry = str(values.get("expires_at") or "")
        fields: dict[str, Any] = {
            "name": values.get("name", ""),
            "scopes": chosen_list(values.get("scopes")),
            "expires_at": await start_of_day(session, ctx, expiry) if expiry else None,
        }
        body = parse(ApiKeyCreate, fields)
        created = await api_keys.create_api_key(
            session, ctx, name=body.name, scopes=body.scopes, expires_at=body.expires_at
        )
    except NexusError as error:
        form = collapse_list_errors(form_with_error(values, error), "scopes")
        return await _new_key_page(request, ctx, form, status=error.status)
    # The secret is in this answer only: no redirect that would need to carry it, no caching.
    context = {"key": view(created.key), "secret": created.secret}
    return await render(
        request,
        "identity/keys_created.html",
        context,
        status=201,
        headers={"Cache-Control": "no-store"},
    )


# --- revoking ------------------------------------------------------------------------------


@router.post("/api-keys/{key_id}/revoke")
async def revoke_key(
    request: Request, session: Session, ctx: Manager, key_id: uuid.UUID
) -> Response:
    key = await api_keys.revoke_api_key(session, ctx, key_id)
    message = gettext(request, "The key %(name)s is revoked: it no longer works.", name=key.name)
    return flash(redirect(request, "/api-keys"), message)
