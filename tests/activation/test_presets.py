import pytest

from nexus.activation.industries import PRESET_OF, Industry, Preset, preset_for
from nexus.activation.presets import (
    IndustryPreset,
    PresetInvalid,
    load_preset,
    parse_preset,
    preset_problems,
)
from nexus.activation.sections import section_names
from nexus.core.registry import registry


def test_there_are_at_least_30_industries_and_12_presets() -> None:
    assert len(Industry) >= 30
    assert len(Preset) >= 12


@pytest.mark.parametrize("industry", list(Industry))
def test_every_industry_maps_to_a_preset(industry: Industry) -> None:
    assert preset_for(industry) in Preset


def test_every_preset_is_used_by_an_industry() -> None:
    assert set(PRESET_OF.values()) == set(Preset)


@pytest.mark.parametrize("name", list(Preset))
def test_every_preset_loads_with_existing_permissions_and_modules(name: Preset) -> None:
    preset = load_preset(name)

    assert preset.name == name
    assert preset_problems(preset) == []
    assert preset.sections.model_fields_set <= set(registry.modules)
    assert preset.sections.identity is not None
    assert len(preset.sections.identity.roles) >= 3
    assert "identity" in preset.modules


def test_every_section_is_a_module_this_build_has() -> None:
    assert section_names() <= set(registry.modules)


@pytest.mark.parametrize(
    ("name", "roles"),
    [
        (Preset.HEALTHCARE, {"doctor", "nurse", "pharmacist", "receptionist"}),
        (Preset.RESTAURANT, {"manager", "cashier", "chef", "waiter"}),
    ],
)
def test_presets_carry_the_roles_of_their_trade(name: Preset, roles: set[str]) -> None:
    identity = load_preset(name).sections.identity
    assert identity is not None
    assert roles <= {role.key for role in identity.roles}


def test_healthcare_marks_its_sensitive_fields() -> None:
    assert "contact.date_of_birth" in load_preset(Preset.HEALTHCARE).sensitive_fields
    assert load_preset(Preset.ECOMMERCE).sensitive_fields == []


def test_a_role_with_an_unknown_permission_is_a_problem() -> None:
    preset = IndustryPreset.model_validate(
        {
            "name": "nonprofit",
            "title": "t",
            "description": "d",
            "modules": ["identity"],
            "sections": {
                "identity": {
                    "roles": [
                        {"key": "x_role", "name": "X", "permissions": ["telepathy.mind.read"]}
                    ]
                }
            },
        }
    )
    assert preset_problems(preset) == ["role 'x_role': unknown permission 'telepathy.mind.read'"]


def test_a_section_for_a_module_that_does_not_exist_is_refused() -> None:
    text = (
        "name: nonprofit\ntitle: t\ndescription: d\nmodules: [identity]\nsections: {finance: {}}\n"
    )
    with pytest.raises(PresetInvalid, match="finance"):
        parse_preset(Preset.NONPROFIT, text)


def test_a_preset_file_under_another_name_is_refused() -> None:
    text = "name: nonprofit\ntitle: t\ndescription: d\nmodules: [identity]\n"
    with pytest.raises(PresetInvalid, match="named 'nonprofit'"):
        parse_preset(Preset.HEALTHCARE, text)
