"""Settings sections: one per module that exists, shared by the spec and the presets.

A module added later adds its own section here; a section for a module this build does not
have is refused, so a preset or a spec can only say what the modules understand.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

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


class ModuleSettings(Strict):
    """One optional section per module this build has."""

    identity: IdentitySection | None = Field(
        default=None, description="Team roles of the new business"
    )


def section_names() -> frozenset[str]:
    """The modules that have a section (each must be a module this build registers)."""
    return frozenset(ModuleSettings.model_fields)
