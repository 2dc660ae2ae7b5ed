"""Industry presets: package data (`presets/<name>.yaml`), validated when loaded."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Annotated

import yaml
from pydantic import Field, StringConstraints, ValidationError

from nexus.activation.industries import Preset
from nexus.activation.sections import ModuleSettings, Strict
from nexus.core.registry import registry

ModuleName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,31}$")]
FieldPath = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")]


class PresetInvalid(ValueError):
    """A preset file that does not load, or names permissions or modules that do not exist."""


class IndustryPreset(Strict):
    name: Preset
    title: str
    description: str
    modules: list[ModuleName] = Field(
        description="Modules to enable; those this build lacks are reported as unavailable"
    )
    sensitive_fields: list[FieldPath] = Field(
        default_factory=list,
        description="Fields (`resource.field`) the CRM must protect as sensitive personal data",
    )
    sections: ModuleSettings = Field(default_factory=ModuleSettings)


def _permission_exists(name: str, known: frozenset[str]) -> bool:
    if name == "*" or name in known:
        return True
    return name.endswith(".*") and any(k.startswith(name[:-1]) for k in known)


def preset_problems(preset: IndustryPreset) -> list[str]:
    """What a preset names that this build does not have (empty when it is sound).

    Needs the registry filled (`nexus.modules.load_modules()`).
    """
    known = registry.permission_names()
    problems = [
        f"section {name!r} names a module this build does not have"
        for name in preset.sections.model_fields_set
        if name not in registry.modules
    ]
    roles = preset.sections.identity.roles if preset.sections.identity else []
    for role in roles:
        problems += [
            f"role {role.key!r}: unknown permission {permission!r}"
            for permission in role.permissions
            if not _permission_exists(permission, known)
        ]
    fields = preset.sections.crm.fields if preset.sections.crm else []
    problems += [
        f"CRM field {field.entity}.{field.key} is listed in sensitive_fields but not sensitive"
        for field in fields
        if f"{field.entity}.{field.key}" in preset.sensitive_fields and not field.sensitive
    ]
    keys = [role.key for role in roles]
    if len(keys) != len(set(keys)):
        problems.append("role keys repeat")
    return problems


def parse_preset(name: Preset, text: str) -> IndustryPreset:
    try:
        preset = IndustryPreset.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        raise PresetInvalid(f"preset {name.value}: {exc}") from exc
    if preset.name != name:
        raise PresetInvalid(f"preset file {name.value}.yaml is named {preset.name.value!r}")
    return preset


@cache
def load_preset(name: Preset) -> IndustryPreset:
    """The preset, checked against the registry when the registry is filled."""
    text = resources.files("nexus.activation").joinpath(f"presets/{name.value}.yaml").read_text()
    preset = parse_preset(name, text)
    problems = preset_problems(preset) if registry.modules else []
    if problems:
        raise PresetInvalid(f"preset {name.value}: " + "; ".join(problems))
    return preset
