"""API shapes of pipelines and their stages, deals, forecasts and activities."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, JsonValue, StringConstraints

from nexus.identity.schemas import Schema
from nexus.identity.schemas.team import (
    NoNul,
    Page,
    Required100,
    Required200,
    Strip,
    Text500,
    UTCTime,
)

__all__ = ["Page"]

StageKind = Literal["open", "won", "lost"]
DealStatus = Literal["open", "won", "lost"]
Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,49}$")]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Required300 = Annotated[str, Strip, StringConstraints(min_length=1, max_length=300), NoNul]
ActivityKind = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
LongText = Annotated[str, StringConstraints(max_length=20000), NoNul]
#: The largest amount a deal may carry, in minor units (ten trillion naira in kobo).
MAX_AMOUNT_MINOR = 10**15


class Money(Schema):
    """An amount in minor units (kobo, cents) and its ISO 4217 currency."""

    amount_minor: int
    currency: str


class MoneyInput(Schema):
    amount_minor: int = Field(ge=0, le=MAX_AMOUNT_MINOR, description="Minor units (kobo)")
    currency: CurrencyCode | None = Field(
        default=None, description="ISO 4217; the business's currency when omitted"
    )


# --- pipelines and stages ------------------------------------------------------------------


class Stage(Schema):
    id: uuid.UUID
    key: str
    name: str
    position: int
    probability: int = Field(description="Chance (percent) that a deal here is won")
    kind: StageKind


class StageInput(Schema):
    """A stage, in the order of the list. With `id`, an existing stage (renamed, moved, …);
    without, a new one."""

    id: uuid.UUID | None = None
    key: Key | None = Field(default=None, description="Derived from the name when omitted")
    name: Required100
    probability: int | None = Field(
        default=None, ge=0, le=100, description="Percent; 100 for won and 0 otherwise if omitted"
    )
    kind: StageKind = "open"


Stages = Annotated[list[StageInput], Field(min_length=1, max_length=50)]


class Pipeline(Schema):
    id: uuid.UUID
    key: str
    name: str
    is_default: bool
    position: int
    stages: list[Stage]
    version: int
    created_at: dt.datetime


_STAGES_EXAMPLE: list[JsonValue] = [
    {"name": "Qualified", "probability": 20},
    {"name": "Proposal", "probability": 60},
    {"name": "Won", "kind": "won"},
    {"name": "Lost", "kind": "lost"},
]


class PipelineCreate(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Sales", "stages": _STAGES_EXAMPLE}]}
    )

    key: Key | None = Field(default=None, description="Derived from the name when omitted")
    name: Required100
    is_default: bool = Field(default=False, description="The first pipeline is the default")
    stages: Stages = Field(description="At least one open, one won and one lost stage")


class PipelineUpdate(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "New sales", "version": 1}]})

    name: Required100 | None = None
    is_default: Literal[True] | None = Field(
        default=None, description="Make this the default pipeline (another takes over by this)"
    )
    stages: Stages | None = Field(
        default=None,
        description="The whole ordered list; stages left out are removed (if no deal is there)",
    )
    version: int | None = Field(default=None, description="Or send it as If-Match")


class Totals(Schema):
    count: int
    value: Money
    weighted_value: Money = Field(description="Value x probability / 100, rounded half-up")


class StageSummary(Schema):
    stage: Stage
    count: int = Field(description="Deals in the stage, in any currency")
    value: Money = Field(description="In the business's currency")
    weighted_value: Money
    other_currencies: list[Totals] = Field(description="Deals in other currencies, per currency")


class PipelineSummary(Schema):
    pipeline_id: uuid.UUID
    currency: str
    stages: list[StageSummary]


# --- deals ---------------------------------------------------------------------------------


class Deal(Schema):
    id: uuid.UUID
    title: str
    pipeline_id: uuid.UUID
    stage_id: uuid.UUID
    amount: Money
    expected_close: dt.date | None
    status: DealStatus
    lost_reason: str | None
    contact_id: uuid.UUID | None
    company_id: uuid.UUID | None
    owner_id: uuid.UUID | None
    custom: dict[str, Any]
    stage_changed_at: dt.datetime
    closed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class DealCreate(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "50 school uniforms",
                    "amount": {"amount_minor": 45000000, "currency": "NGN"},
                    "expected_close": "2026-12-15",
                }
            ]
        }
    )

    title: Required200
    pipeline_id: uuid.UUID | None = Field(default=None, description="The default when omitted")
    stage_id: uuid.UUID | None = Field(default=None, description="The first open stage if omitted")
    amount: MoneyInput | None = None
    expected_close: dt.date | None = None
    owner_id: uuid.UUID | None = Field(default=None, description="The creator when omitted")
    contact_id: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    lost_reason: Text500 | None = Field(default=None, description="Required in a lost stage")
    custom: dict[str, Any] = Field(
        default_factory=dict,
        description="Values of the business's deal fields (`/crm/fields`), by key; sensitive "
        "fields are not kept on deals",
    )


class DealUpdate(Schema):
    """Fields to change; `expected_close`, `contact_id`, `company_id` and `lost_reason` may be
    cleared with null."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"stage_id": "0193a0e4-…", "version": 2}]}
    )

    title: Required200 | None = None
    pipeline_id: uuid.UUID | None = Field(
        default=None, description="Another pipeline (its first open stage unless `stage_id`)"
    )
    stage_id: uuid.UUID | None = None
    amount: MoneyInput | None = None
    expected_close: dt.date | None = None
    owner_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    lost_reason: Text500 | None = None
    custom: dict[str, Any] | None = Field(
        default=None, description="Merged into the values held; `null` clears a key"
    )
    version: int | None = Field(default=None, description="Or send it as If-Match")


DealSort = Literal[
    "created_at", "-created_at", "amount", "-amount", "expected_close", "-expected_close"
]


class ForecastBucket(Schema):
    month: str | None = Field(description="`2026-11`, or null for the buckets outside months")
    count: int
    value: Money
    weighted_value: Money


class CurrencyForecast(Schema):
    currency: str
    months: list[ForecastBucket] = Field(description="This month first")
    overdue: ForecastBucket = Field(description="Expected to close before this month")
    later: ForecastBucket = Field(description="Expected to close after the last month")
    no_date: ForecastBucket = Field(description="No expected close date")


class Forecast(Schema):
    """Open deals by month of expected close, in the business's currency; deals in other
    currencies are forecast apart (amounts are never added across currencies)."""

    currency: str
    forecast: CurrencyForecast
    other_currencies: list[CurrencyForecast]


# --- activities ----------------------------------------------------------------------------


class Activity(Schema):
    id: uuid.UUID
    kind: str
    subject: str
    body: str | None
    due_at: dt.datetime | None
    done_at: dt.datetime | None
    is_done: bool
    assignee_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    company_id: uuid.UUID | None
    deal_id: uuid.UUID | None
    created_by: uuid.UUID | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class ActivityCreate(Schema):
    """An activity linked to a contact, company or deal, or to none (a personal task)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"kind": "call", "subject": "Call about the quote", "due_at": "2026-12-01T09:00Z"}
            ]
        }
    )

    kind: ActivityKind = Field(description="`call`, `meeting`, `task`, `note`, `email` or a type")
    subject: Required300
    body: LongText | None = None
    due_at: UTCTime | None = None
    assignee_id: uuid.UUID | None = Field(default=None, description="The creator when omitted")
    contact_id: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    deal_id: uuid.UUID | None = None
    done: bool = False


class ActivityUpdate(Schema):
    """Fields to change; `done` true marks it done now, false reopens it. `body`, `due_at` and
    the links may be cleared with null."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"done": True, "version": 1}]})

    kind: ActivityKind | None = None
    subject: Required300 | None = None
    body: LongText | None = None
    due_at: UTCTime | None = None
    assignee_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    deal_id: uuid.UUID | None = None
    done: bool | None = None
    version: int | None = Field(default=None, description="Or send it as If-Match")


ActivityState = Literal["open", "done"]


class AuditEntry(Schema):
    id: uuid.UUID
    action: str
    actor_type: str
    actor_id: uuid.UUID | None
    changes: list[str]


class TimelineEntry(Schema):
    """One thing that happened to a contact: an activity or an audited change."""

    kind: Literal["activity", "audit"]
    occurred_at: dt.datetime
    activity: Activity | None = None
    audit: AuditEntry | None = None
