"""Fill what a spec leaves out, and say where every derived value came from."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from babel.core import get_global
from babel.numbers import get_territory_currencies

from nexus.activation.industries import Preset, preset_for
from nexus.activation.presets import IndustryPreset, load_preset
from nexus.activation.sections import IdentitySection, ModuleSettings, RoleSpec
from nexus.activation.spec import ActivationSpec
from nexus.core.errors import ValidationFailed, invalid
from nexus.identity.service.tenants import RESERVED_SLUGS, slugify

#: The zone most people of a country with several zones live in (CLDR lists them unordered).
MAIN_ZONES = {
    "US": "America/New_York",
    "CA": "America/Toronto",
    "BR": "America/Sao_Paulo",
    "MX": "America/Mexico_City",
    "AR": "America/Argentina/Buenos_Aires",
    "AU": "Australia/Sydney",
    "RU": "Europe/Moscow",
    "CN": "Asia/Shanghai",
    "ID": "Asia/Jakarta",
    "KZ": "Asia/Almaty",
    "DE": "Europe/Berlin",
    "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon",
    "CD": "Africa/Kinshasa",
    "CL": "America/Santiago",
    "EC": "America/Guayaquil",
    "MN": "Asia/Ulaanbaatar",
    "NZ": "Pacific/Auckland",
    "UA": "Europe/Kyiv",
    "MY": "Asia/Kuala_Lumpur",
}


@dataclass(frozen=True)
class ResolvedSpec:
    """A spec with nothing left to derive. `origins` names where each derived field came from:
    `spec`, `country`, `business.name` or `preset:<name>`."""

    spec: ActivationSpec
    preset: IndustryPreset
    slug: str
    currency: str
    timezone: str
    modules: list[str]
    settings: ModuleSettings
    origins: dict[str, str]
    warnings: list[str] = field(default_factory=list)


def currency_of(country: str) -> str | None:
    currencies = get_territory_currencies(country, tender=True)
    return str(currencies[0]) if currencies else None


def timezone_of(country: str) -> str | None:
    zones: list[str] = get_global("territory_zones").get(country, [])
    if country in MAIN_ZONES:
        return MAIN_ZONES[country]
    return zones[0] if zones else None


def derive_slug(name: str) -> str:
    """The identity slug of a name, spelled in ASCII, 3 to 63 characters, never reserved."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = slugify(ascii_name)
    if len(slug) < 3 or slug in RESERVED_SLUGS:
        slug = f"{slug}-business".strip("-")[:63]
    return slug


def merge_settings(
    preset: ModuleSettings, spec: ModuleSettings, sensitive_fields: Sequence[str] = ()
) -> ModuleSettings:
    """The spec's sections override the preset's; roles are merged by key. A CRM field the
    preset lists among its `sensitive_fields` stays sensitive whichever section defines it."""
    roles: dict[str, RoleSpec] = {}
    for section in (preset.identity, spec.identity):
        for role in section.roles if section else []:
            roles[role.key] = role
    crm = spec.crm if spec.crm is not None else preset.crm
    if crm is not None:
        protected = set(sensitive_fields)
        crm = crm.model_copy(
            update={
                "fields": [
                    field.model_copy(update={"sensitive": True})
                    if f"{field.entity}.{field.key}" in protected
                    else field
                    for field in crm.fields
                ]
            }
        )
    return ModuleSettings(identity=IdentitySection(roles=list(roles.values())), crm=crm)


def resolve(spec: ActivationSpec) -> ResolvedSpec:
    """Derive currency, timezone, slug and modules; 422 when the country gives no answer."""
    preset_name: Preset = preset_for(spec.business.industry)
    preset = load_preset(preset_name)
    origins: dict[str, str] = {"preset": f"business.industry ({spec.business.industry.value})"}
    warnings: list[str] = []
    currency = _given_or(spec.currency, currency_of(spec.country), "currency", origins)
    timezone = _given_or(spec.timezone, timezone_of(spec.country), "timezone", origins)
    if spec.timezone is None and len(get_global("territory_zones").get(spec.country, [])) > 1:
        warnings.append(f"{spec.country} has several time zones; {timezone} was chosen")
    slug = spec.business.slug or derive_slug(spec.business.name)
    origins["slug"] = "spec" if spec.business.slug else "business.name"
    enabled = spec.modules.enabled
    modules = list(dict.fromkeys(enabled if enabled is not None else preset.modules))
    origins["modules"] = "spec" if enabled is not None else f"preset:{preset_name.value}"
    settings = merge_settings(preset.sections, spec.modules.settings, preset.sensitive_fields)
    origins["settings"] = _settings_origin(preset_name, spec.modules.settings)
    return ResolvedSpec(
        spec, preset, slug, currency, timezone, modules, settings, origins, warnings
    )


def _given_or(given: str | None, derived: str | None, name: str, origins: dict[str, str]) -> str:
    if given is not None:
        origins[name] = "spec"
        return given
    if derived is None:
        raise _underivable(name)
    origins[name] = "country"
    return derived


def _underivable(name: str) -> ValidationFailed:
    return invalid(f"body.{name}", f"The country has no {name} of its own; give one", "missing")


def _settings_origin(preset: Preset, spec: ModuleSettings) -> str:
    if spec.model_fields_set:
        return f"preset:{preset.value}, overridden by spec"
    return f"preset:{preset.value}"
