"""CRM: contacts, companies, leads, deals on pipelines, activities, consent."""

from __future__ import annotations

from nexus.core.registry import Module, NavEntry
from nexus.crm.console import router as console_router
from nexus.crm.endpoints import router
from nexus.crm.permissions import PERMISSIONS
from nexus.crm.provision import provision
from nexus.crm.service import imports

module = Module(
    name="crm",
    title="CRM",
    depends_on=("identity",),
    router=router,
    permissions=PERMISSIONS,
    provision=provision,
    console_router=console_router,
    nav=(
        NavEntry("Contacts", "/crm/contacts", "crm.contact.read", order=100),
        NavEntry("Companies", "/crm/companies", "crm.company.read", order=110),
        NavEntry("Deals", "/crm/pipelines", "crm.deal.read", order=120),
        NavEntry("Leads", "/crm/leads", "crm.lead.read", order=115),
    ),
    jobs={imports.IMPORT_JOB: imports.import_job},
)
