"""The console shell and identity's pages on it. Not a business module a tenant enables:
its pages are gated by the permissions of the module they belong to."""

from __future__ import annotations

from fastapi import APIRouter

from nexus.console.pages import account, audit, auth, home, keys, operator, roles, team
from nexus.core.registry import Module, NavEntry

console_router = APIRouter(include_in_schema=False)
for pages in (auth, home, account, team, roles, keys, audit, operator):
    console_router.include_router(pages.router)

module = Module(
    name="console",
    title="Console",
    depends_on=("identity",),
    console_router=console_router,
    nav=(
        NavEntry("Team", "/team", "identity.user.read", order=900),
        NavEntry("Roles", "/roles", "identity.role.read", order=910),
        NavEntry("API keys", "/api-keys", "identity.api_key.read", order=920),
        NavEntry("Audit log", "/audit", "identity.audit.read", order=930),
        NavEntry("Businesses", "/platform/tenants", "platform.tenant.read", area="platform"),
    ),
)
