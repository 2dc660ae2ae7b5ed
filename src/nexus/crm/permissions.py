"""The CRM's permissions (`crm.resource.action`)."""

from __future__ import annotations

from nexus.core.registry import Permission

PERMISSIONS = (
    Permission("crm.contact.read", "See contacts"),
    Permission("crm.contact.create", "Add contacts"),
    Permission("crm.contact.update", "Change and merge contacts"),
    Permission("crm.contact.delete", "Delete contacts"),
    Permission("crm.company.read", "See companies"),
    Permission("crm.company.create", "Add companies"),
    Permission("crm.company.update", "Change and merge companies"),
    Permission("crm.company.delete", "Delete companies"),
    Permission("crm.lead.read", "See leads"),
    Permission("crm.lead.create", "Add leads"),
    Permission("crm.lead.update", "Change leads"),
    Permission("crm.lead.convert", "Convert leads into contacts, companies and deals"),
    Permission("crm.deal.read", "See deals, pipelines and forecasts"),
    Permission("crm.deal.create", "Add deals"),
    Permission("crm.deal.update", "Change deals and move them between stages"),
    Permission("crm.deal.delete", "Delete deals"),
    Permission("crm.pipeline.manage", "Create and change pipelines and their stages"),
    Permission("crm.activity.read", "See activities and timelines"),
    Permission("crm.activity.create", "Log calls, meetings, tasks and notes"),
    Permission("crm.activity.update", "Change and complete activities"),
    Permission("crm.field.manage", "Define custom fields"),
    Permission("crm.record.all", "See and change every record, not only one's own"),
    Permission("crm.sensitive.read", "See sensitive fields (each read is audited)"),
    Permission("crm.consent.manage", "Record and withdraw a contact's consent"),
    Permission("crm.data.export", "Export a contact's data and CSV lists"),
    Permission("crm.data.erase", "Erase a contact (anonymise)"),
    Permission("crm.import.run", "Import contacts from CSV"),
)
