"""Who is acting, for which tenant: the first argument after the session of every service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

ActorType = Literal["user", "api_key", "system"]


def permission_matches(granted: str, wanted: str) -> bool:
    """`*` grants everything, `crm.*` every permission of the CRM, otherwise exact names."""
    if granted == "*" or granted == wanted:
        return True
    return granted.endswith(".*") and wanted.startswith(granted[:-1])


@dataclass(frozen=True)
class RequestContext:
    """The caller of a request, job or command, resolved from its credential (never its body)."""

    tenant_id: uuid.UUID | None
    actor_type: ActorType
    actor_id: uuid.UUID | None
    user_id: uuid.UUID | None = None
    permissions: frozenset[str] = frozenset()
    enabled_modules: frozenset[str] = frozenset()
    platform_role: str | None = None
    session_id: uuid.UUID | None = None
    request_id: str | None = None
    client_address: str | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    def can(self, permission: str) -> bool:
        return any(permission_matches(granted, permission) for granted in self.permissions)

    @property
    def is_operator(self) -> bool:
        return self.platform_role == "operator"

    @classmethod
    def system(
        cls, tenant_id: uuid.UUID | None = None, *, request_id: str | None = None
    ) -> RequestContext:
        """NEXUS itself acting (jobs, activation, the CLI): every permission, no user."""
        return cls(
            tenant_id=tenant_id,
            actor_type="system",
            actor_id=None,
            permissions=frozenset({"*"}),
            request_id=request_id,
        )
