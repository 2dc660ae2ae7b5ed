"""Small factories for identity: committed tenants and users with credentials."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from nexus.core.context import RequestContext
from nexus.core.db import Database, bind_tenant
from nexus.identity.models import ACTIVE, Membership, Role
from nexus.identity.service import api_keys, credentials, tenants, users

PASSWORD = "correct horse battery staple"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass(frozen=True)
class Person:
    user_id: uuid.UUID
    email: str
    password: str
    access_token: str
    refresh_token: str
    session_id: uuid.UUID

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@dataclass(frozen=True)
class TenantFixture:
    tenant_id: uuid.UUID
    slug: str
    owner: Person
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return self.owner.headers


async def make_tenant(
    database: Database,
    *,
    modules: list[str] | None = None,
    country: str = "NG",
    currency: str = "NGN",
    timezone: str = "Africa/Lagos",
) -> TenantFixture:
    """A committed tenant with an owner who has a password, an access token and an API key."""
    slug = unique("biz")
    email = f"{unique('owner')}@example.com"
    async with database.transaction() as session:
        owner = await users.create_user(session, email=email, name="Ada Owner", password=PASSWORD)
        created = await tenants.create_tenant(
            session,
            RequestContext.system(),
            name=f"Biz {slug}",
            slug=slug,
            country=country,
            currency=currency,
            timezone=timezone,
            owner=owner,
            modules=modules,
        )
        tokens = await credentials.issue_tokens(
            session,
            user_id=owner.id,
            tenant_id=created.tenant.id,
            access_minutes=15,
            refresh_days=30,
        )
        owner_ctx = RequestContext(
            tenant_id=created.tenant.id,
            actor_type="user",
            actor_id=owner.id,
            user_id=owner.id,
            permissions=frozenset({"*"}),
        )
        key = await api_keys.create_api_key(session, owner_ctx, name="test", scopes=["*"])
    person = Person(
        owner.id, email, PASSWORD, tokens.access_token, tokens.refresh_token, tokens.session_id
    )
    return TenantFixture(created.tenant.id, slug, person, key.secret)


async def add_member(
    database: Database,
    tenant: TenantFixture,
    *,
    role: str = "staff",
    permissions: list[str] | None = None,
) -> Person:
    """A committed member with a password and an access token. With `permissions`, the
    member gets a custom role holding exactly those."""
    email = f"{unique('member')}@example.com"
    async with database.transaction(tenant_id=tenant.tenant_id) as session:
        await bind_tenant(session, tenant.tenant_id)
        user = await users.create_user(session, email=email, name="Bola Member", password=PASSWORD)
        if permissions is not None:
            role_row = Role(key=unique("custom"), name="Custom", permissions=permissions)
            session.add(role_row)
            await session.flush()
        else:
            role_row = (await session.scalars(select(Role).where(Role.key == role))).one()
        session.add(
            Membership(
                tenant_id=tenant.tenant_id, user_id=user.id, role_id=role_row.id, status=ACTIVE
            )
        )
        await session.flush()
        tokens = await credentials.issue_tokens(
            session,
            user_id=user.id,
            tenant_id=tenant.tenant_id,
            access_minutes=15,
            refresh_days=30,
        )
    return Person(
        user.id, email, PASSWORD, tokens.access_token, tokens.refresh_token, tokens.session_id
    )
