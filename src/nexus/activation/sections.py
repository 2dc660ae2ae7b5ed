"""Settings sections: one per module that exists, shared by the spec and the presets.

A module added later adds its own section here; a section for a module this build does not
have is refused, so a preset or a spec can only say what the modules understand.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

RoleKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,49}$")]
PermissionName = Annotated[
    str, StringConstraints(pattern=r"^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){0,2}\.(\*|[a-z_]+))$")
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RoleSpec(Strict):
    """A role created in the new business, with the permissions of the modules that exist."""

    key: RoleKey = Field(description="Stable key of the role", examples=["pharmacist"])
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="Name shown to people", examples=["Pharmacist"]
    )
    description: Annotated[str, StringConstraints(max_length=500)] = Field(
        default="", description="What people in this role do", examples=["Dispenses medicines"]
    )
    permissions: list[PermissionName] = Field(
        default_factory=list,
        description="Permission names (`module.resource.action`) or patterns (`identity.*`)",
        examples=[["identity.user.read", "identity.tenant.read"]],
    )


class IdentitySection(Strict):
    """What identity sets up: the business's own roles, beside the built-in ones."""

    roles: list[RoleSpec] = Field(
        default_factory=list,
        description="Roles to create; a role with the key of a preset role replaces it",
    )


Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Label = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class StageSpec(Strict):
    """A step of a pipeline, in the order listed."""

    key: Key = Field(description="Stable key of the stage", examples=["qualified"])
    name: Label = Field(description="Name shown on the board", examples=["Qualified"])
    probability: int = Field(
        ge=0, le=100, description="Chance, in percent, that a deal here is won", examples=[25]
    )
    kind: Literal["open", "won", "lost"] = Field(
        default="open", description="`won` and `lost` stages close the deal"
    )


class PipelineSpec(Strict):
    """A sales process: stages a deal moves through, with at least one won and one lost."""

    key: Key = Field(description="Stable key of the pipeline", examples=["sales"])
    name: Label = Field(description="Name shown to people", examples=["Sales"])
    stages: list[StageSpec] = Field(min_length=2, max_length=30)

    @model_validator(mode="after")
    def _sound(self) -> PipelineSpec:
        keys = [stage.key for stage in self.stages]
        if len(keys) != len(set(keys)):
            raise ValueError("stage keys repeat")
        kinds = {stage.kind for stage in self.stages}
        if not {"open", "won"} <= kinds:
            raise ValueError("a pipeline needs an open stage and a won stage")
        return self


class ActivityTypeSpec(Strict):
    """An activity kind beside the built-in ones (call, meeting, task, note, email)."""

    key: Key = Field(examples=["consultation"])
    name: Label = Field(examples=["Consultation"])


class CustomFieldSpec(Strict):
    """A custom field of contacts, companies, deals or leads."""

    entity: Literal["contact", "company", "deal", "lead"] = Field(examples=["contact"])
    key: Key = Field(examples=["allergies"])
    label: Label = Field(examples=["Allergies"])
    kind: Literal["text", "number", "date", "choice", "boolean"] = Field(
        default="text", examples=["text"]
    )
    choices: list[Label] = Field(
        default_factory=list, description="The allowed values of a `choice` field"
    )
    required: bool = False
    sensitive: bool = Field(
        default=False,
        description="Encrypted at rest, shown only to roles allowed to, every read audited",
    )

    @model_validator(mode="after")
    def _choices_fit(self) -> CustomFieldSpec:
        if self.kind == "choice" and not self.choices:
            raise ValueError("a choice field needs its choices")
        if self.kind != "choice" and self.choices:
            raise ValueError("only a choice field has choices")
        return self


class CrmSection(Strict):
    """What the CRM sets up: pipelines (the first is the default; a sales pipeline when none
    is given), the business's activity types and custom fields."""

    pipelines: list[PipelineSpec] = Field(default_factory=list, max_length=20)
    activity_types: list[ActivityTypeSpec] = Field(default_factory=list, max_length=50)
    fields: list[CustomFieldSpec] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _unique_keys(self) -> CrmSection:
        for what, keys in (
            ("pipeline", [p.key for p in self.pipelines]),
            ("activity type", [a.key for a in self.activity_types]),
            ("field", [f"{f.entity}.{f.key}" for f in self.fields]),
        ):
            if len(keys) != len(set(keys)):
                raise ValueError(f"{what} keys repeat")
        return self


class ModuleSettings(Strict):
    """One optional section per module this build has."""

    identity: IdentitySection | None = Field(
        default=None, description="Team roles of the new business"
    )
    crm: CrmSection | None = Field(
        default=None, description="Pipelines, activity types and custom fields of the CRM"
    )


def section_names() -> frozenset[str]:
    """The modules that have a section (each must be a module this build registers)."""
    return frozenset(ModuleSettings.model_fields)
