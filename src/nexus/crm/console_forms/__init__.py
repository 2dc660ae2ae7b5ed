"""The CRM's console forms: add, change and delete contacts, companies, deals, pipelines (with
their stages), leads, and the business's custom field definitions.

Every form calls the CRM service and schema the matching `/api/v1/crm/...` endpoint calls, so
rules, record-level access, optimistic concurrency (the record's `version` travels in a hidden
field: a stale one answers 412) and audit are those of the API. Custom fields are drawn from
the business's definitions by kind; sensitive ones are write-only for writers without
`crm.sensitive.read`.
"""

from __future__ import annotations

from nexus.console.pages.common import new_router
from nexus.crm.console_forms import deals, leads, records, settings

router = new_router()
for part in (records, deals, leads, settings):
    router.include_router(part.router)
