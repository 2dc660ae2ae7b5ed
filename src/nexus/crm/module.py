"""CRM: contacts, companies, leads, deals on pipelines, activities, consent."""

from __future__ import annotations

from nexus.core.registry import Module
from nexus.crm.endpoints import router
from nexus.crm.permissions import PERMISSIONS
from nexus.crm.provision import provision

module = Module(
    name="crm",
    title="CRM",
    depends_on=("identity",),
    router=router,
    permissions=PERMISSIONS,
    provision=provision,
)
