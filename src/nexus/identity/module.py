"""Identity: tenants, users, memberships, roles, credentials. Always enabled."""

from __future__ import annotations

from nexus.core.registry import Module
from nexus.identity.endpoints import router
from nexus.identity.endpoints.deps import request_caller
from nexus.identity.permissions import PERMISSIONS
from nexus.identity.provision import provision
from nexus.identity.service.tenants import raise_config_version

module = Module(
    name="identity",
    title="Team & access",
    depends_on=("core",),
    always_enabled=True,
    router=router,
    permissions=PERMISSIONS,
    provision=provision,
)

#: Hooks identity offers the layers below it.
hooks = {"caller_resolver": request_caller, "configuration_changed": raise_config_version}
