"""A new business and its owner, as activation and `nexus tenants create` make them.

Never hands a caller control of an account it has not proven: when the owner's e-mail
already belongs to a user, that user is invited to the new business by e-mail (no setup link,
no owner key) unless the caller is trusted (a platform operator, the command line).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.context import RequestContext
from nexus.core.errors import invalid
from nexus.core.mail import send_mail
from nexus.identity.models import ACTIVE, INVITED, Role, Tenant, User
from nexus.identity.service import api_keys, team, tokens, users
from nexus.identity.service.tenants import create_tenant


@dataclass(frozen=True)
class Established:
    tenant: Tenant
    owner: User
    #: The owner's account was made here (False: an existing user).
    owner_is_new: bool
    #: The existing owner was invited by e-mail and must accept before the business is theirs.
    invited: bool
    #: The owner's API key (shown once) and one-time password-setup link, when given.
    api_key: str | None
    setup_url: str | None
    roles: dict[str, Role]

    def owner_context(self, request_id: str | None = None) -> RequestContext:
        """The owner acting in the new business (what activation's steps run as)."""
        return RequestContext(
            tenant_id=self.tenant.id,
            actor_type="user",
            actor_id=self.owner.id,
            user_id=self.owner.id,
            permissions=frozenset({"*"}),
            request_id=request_id,
        )


async def establish_business(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    name: str,
    slug: str,
    country: str,
    currency: str,
    timezone: str,
    owner_email: str,
    owner_name: str,
    public_base_url: str,
    trusted: bool,
    owner_password: str | None = None,
    modules: list[str] | None = None,
    profile: dict[str, Any] | None = None,
    field_prefix: str = "body.owner",
) -> Established:
    """Create the tenant, its built-in roles and its owner (new, or an existing user who is
    made owner when `trusted` and invited otherwise); the session ends bound to the tenant."""
    owner = await users.find_user_by_email(session, owner_email)
    is_new = owner is None
    if owner is not None and owner_password is not None:
        raise invalid(
            f"{field_prefix}.password",
            "This e-mail already has an account: leave the password out; the person keeps theirs",
        )
    if owner is None:
        owner = await users.create_user(
            session,
            email=owner_email,
            name=owner_name,
            password=owner_password,
            password_field=f"{field_prefix}.password",
        )
    invite = not is_new and not trusted
    created = await create_tenant(
        session,
        ctx,
        name=name,
        slug=slug,
        country=country,
        currency=currency,
        timezone=timezone,
        owner=owner,
        modules=modules,
        profile=profile,
        owner_status=INVITED if invite else ACTIVE,
    )
    tenant = created.tenant
    if invite:
        owner_ctx = RequestContext(
            tenant_id=tenant.id, actor_type=ctx.actor_type, actor_id=ctx.actor_id
        )
        await team.send_invitation(session, owner_ctx, owner, public_base_url=public_base_url)
        return Established(tenant, owner, False, True, None, None, created.roles)
    established = Established(tenant, owner, is_new, False, None, None, created.roles)
    key = await api_keys.create_api_key(
        session,
        established.owner_context(ctx.request_id),
        name="owner key",
        scopes=["*"],
        check_scopes=False,
    )
    setup_url = None
    if is_new and owner_password is None:
        token = await tokens.issue_user_token(
            session, user_id=owner.id, purpose=tokens.RESET_PASSWORD, lifetime=tokens.SETUP_LIFETIME
        )
        setup_url = f"{public_base_url}/reset-password?token={token}"
        send_mail(
            session,
            to=owner.email,
            subject=f"{tenant.name} is ready on NEXUS: choose your password",
            text=(
                f"Hello{' ' + owner.name if owner.name else ''},\n\n"
                f"{tenant.name} is set up on NEXUS and you are its owner.\n\n"
                f"Choose your password (the link works once, for 7 days): {setup_url}\n\n"
                f"Then sign in at {public_base_url}/sign-in\n"
            ),
        )
    return Established(tenant, owner, is_new, False, key.secret, setup_url, created.roles)
