"""What activation answers: the plan (a dry run) and the report of a business brought to life."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PlannedModule(Schema):
    name: str = Field(examples=["identity"])
    status: Literal["active", "unavailable"] = Field(
        description="`unavailable`: this build does not have the module; it is not enabled"
    )
    source: str = Field(description="Why it is enabled: `always`, `spec` or `preset:<name>`")
    section: dict[str, object] | None = Field(
        default=None, description="The settings the module's step receives"
    )


class PlannedOwner(Schema):
    email: str
    name: str
    existing_user: bool = Field(
        description="The e-mail already belongs to a user: they are invited (or, for an"
        " operator, made owner) instead of getting a new account"
    )


class Plan(Schema):
    """Everything activation would do, and where each value came from; nothing is written."""

    name: str = Field(examples=["Ada Stores"])
    slug: str = Field(examples=["ada-stores"])
    industry: str = Field(examples=["ecommerce"])
    preset: str = Field(examples=["ecommerce"])
    country: str = Field(examples=["NG"])
    currency: str = Field(examples=["NGN"])
    timezone: str = Field(examples=["Africa/Lagos"])
    languages: list[str]
    owner: PlannedOwner
    modules: list[PlannedModule]
    locations: int = Field(description="Branches to create")
    integrations: list[str] = Field(description="Integrations to configure (secrets hidden)")
    origins: dict[str, str] = Field(
        description="Where each derived value came from: `spec`, `country`, `business.name`,"
        " `preset:<name>`"
    )
    warnings: list[str]


class ModuleOutcome(Schema):
    name: str
    status: Literal["active", "unavailable"]
    created: dict[str, int] = Field(
        default_factory=dict, description="What the module's step created, by kind"
    )


class OwnerOutcome(Schema):
    email: str
    invited: bool = Field(
        description="The e-mail belonged to an existing user, who was invited by e-mail: no"
        " setup link and no key are given"
    )
    setup_url: str | None = Field(
        default=None,
        description="One-time link to choose a password (also e-mailed); absent when the spec"
        " gave a password or the owner was invited",
    )
    api_key: str | None = Field(
        default=None, description="The owner's API key, shown once; absent when invited"
    )


class StepTiming(Schema):
    step: str = Field(examples=["identity"])
    ms: float = Field(examples=[12.5])


class ActivationReport(Schema):
    """The business is live."""

    tenant_id: uuid.UUID
    slug: str
    name: str
    owner: OwnerOutcome
    modules: list[ModuleOutcome]
    timings: list[StepTiming]
    total_ms: float
    warnings: list[str]
    console_url: str = Field(examples=["http://127.0.0.1:8080/sign-in"])
