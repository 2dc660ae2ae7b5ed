"""Errors of pipelines, deals and activities."""

from __future__ import annotations

from nexus.core.errors import Conflict, NotFound


class PipelineNotFound(NotFound):
    code, title = "pipeline_not_found", "No such pipeline"


class DealNotFound(NotFound):
    code, title = "deal_not_found", "No such deal"


class ActivityNotFound(NotFound):
    code, title = "activity_not_found", "No such activity"


class ContactNotFound(NotFound):
    code, title = "contact_not_found", "No such contact"


class PipelineInUse(Conflict):
    code, title = "pipeline_in_use", "The pipeline still has deals"


class StageInUse(Conflict):
    code, title = "stage_in_use", "The stage still has deals"


class PipelineKeyTaken(Conflict):
    code, title = "pipeline_key_taken", "Another pipeline has this key"
