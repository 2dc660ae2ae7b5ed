import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nexus.activation.resolve import derive_slug, resolve
from nexus.activation.schema import SCHEMA_PATH, activation_schema_text
from nexus.activation.spec import ActivationSpec, env_reference
from nexus.activation.validation import parse_spec
from nexus.core.errors import ValidationFailed

ROOT = Path(__file__).resolve().parents[2]


def spec_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "business": {"name": "Ada Stores", "industry": "ecommerce"},
        "country": "NG",
        "owner": {"name": "Ada Obi", "email": "ada@example.com"},
    }
    data.update(copy.deepcopy(changes))
    return data


@pytest.mark.parametrize(
    ("country", "currency", "timezone"),
    [
        ("NG", "NGN", "Africa/Lagos"),
        ("KE", "KES", "Africa/Nairobi"),
        ("GB", "GBP", "Europe/London"),
        ("US", "USD", "America/New_York"),
    ],
)
def test_currency_and_timezone_come_from_the_country(
    country: str, currency: str, timezone: str
) -> None:
    resolved = resolve(parse_spec(spec_data(country=country)))

    assert (resolved.currency, resolved.timezone) == (currency, timezone)
    assert resolved.origins["currency"] == resolved.origins["timezone"] == "country"


def test_given_currency_and_timezone_win_over_the_country() -> None:
    resolved = resolve(parse_spec(spec_data(currency="usd", timezone="Europe/London")))

    assert (resolved.currency, resolved.timezone) == ("USD", "Europe/London")
    assert resolved.origins["currency"] == "spec"


def test_a_country_without_a_currency_asks_for_one() -> None:
    with pytest.raises(ValidationFailed) as caught:
        resolve(parse_spec(spec_data(country="AQ")))
    assert [e.field for e in caught.value.errors] == ["body.currency"]


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Ada Stores", "ada-stores"),
        ("Café Ñandú & Sons", "cafe-nandu-sons"),
        ("  --Mama Put!!  ", "mama-put"),
        ("Jo", "jo-business"),
        ("API", "api-business"),
        ("小店", "business"),
        ("x" * 80, "x" * 63),
    ],
)
def test_slug_is_derived_from_the_name(name: str, slug: str) -> None:
    assert derive_slug(name) == slug


def test_a_given_slug_is_kept_and_a_bad_one_refused() -> None:
    data = spec_data(business={"name": "Ada", "industry": "retail", "slug": "ada-ng"})
    assert resolve(parse_spec(data)).slug == "ada-ng"

    for bad in ("Ada_NG", "ab", "admin", "-ada"):
        data["business"]["slug"] = bad
        with pytest.raises(ValidationFailed) as caught:
            parse_spec(data)
        assert [e.field for e in caught.value.errors] == ["body.business.slug"]


def test_modules_and_roles_come_from_the_industry_preset() -> None:
    data = spec_data(business={"name": "Good Health", "industry": "pharmacy"})
    resolved = resolve(parse_spec(data))

    assert resolved.preset.name == "healthcare"
    assert resolved.modules == resolved.preset.modules
    assert resolved.origins["modules"] == "preset:healthcare"
    assert resolved.settings.identity is not None
    assert {"doctor", "pharmacist"} <= {r.key for r in resolved.settings.identity.roles}


def test_the_spec_overrides_the_preset() -> None:
    role = {"key": "pharmacist", "name": "Chief pharmacist", "permissions": ["identity.*"]}
    data = spec_data(
        business={"name": "Good Health", "industry": "pharmacy"},
        modules={
            "enabled": ["crm", "crm", "telepathy"],
            "settings": {"identity": {"roles": [role]}},
        },
    )
    resolved = resolve(parse_spec(data))

    assert resolved.modules == ["crm", "telepathy"]
    assert resolved.origins["modules"] == "spec"
    assert resolved.origins["settings"] == "preset:healthcare, overridden by spec"
    assert resolved.settings.identity is not None
    roles = {r.key: r for r in resolved.settings.identity.roles}
    assert roles["pharmacist"].name == "Chief pharmacist"
    assert "doctor" in roles


def test_a_section_for_a_module_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_spec(spec_data(modules={"settings": {"finance": {}}}))
    assert [e.field for e in caught.value.errors] == ["body.modules.settings.finance"]


def test_phone_is_normalised_to_e164() -> None:
    owner = {"name": "Ada", "email": "ada@example.com", "phone": "+234 801 234 5678"}
    assert parse_spec(spec_data(owner=owner)).owner.phone == "+2348012345678"


def test_secrets_inline_or_from_the_environment_are_never_echoed() -> None:
    data = spec_data(
        integrations={
            "paystack": {"secret_key": "env:PAYSTACK_SECRET_KEY"},
            "stripe": {"secret_key": "sk_live_abc"},
        }
    )
    spec = parse_spec(data)

    assert spec.integrations.paystack is not None and spec.integrations.stripe is not None
    assert env_reference(spec.integrations.paystack.secret_key) == "PAYSTACK_SECRET_KEY"
    assert env_reference(spec.integrations.stripe.secret_key) is None
    assert "sk_live_abc" not in spec.model_dump_json()
    assert "sk_live_abc" not in repr(spec)


def test_a_malformed_environment_reference_is_refused_without_echo() -> None:
    data = spec_data(integrations={"paystack": {"secret_key": "env:lower-case"}})
    with pytest.raises(ValidationFailed) as caught:
        parse_spec(data)
    assert [e.field for e in caught.value.errors] == ["body.integrations.paystack.secret_key"]
    assert "lower-case" not in str(caught.value.problem())


@pytest.mark.parametrize(
    "where", [(), ("business",), ("owner",), ("compliance",), ("integrations",)]
)
def test_extra_fields_are_refused_everywhere(where: tuple[str, ...]) -> None:
    data = spec_data(compliance={}, integrations={})
    target = data
    for key in where:
        target = target[key]
    target["surprise"] = 1

    with pytest.raises(ValidationFailed) as caught:
        parse_spec(data)
    assert [e.field for e in caught.value.errors] == [".".join(("body", *where, "surprise"))]


def test_every_bad_field_is_listed_with_its_path_in_one_error() -> None:
    data = {
        "business": {"name": "", "industry": "alchemy"},
        "country": "XX",
        "currency": "ZZZ",
        "timezone": "Mars/Olympus",
        "languages": ["english"],
        "owner": {"name": "Ada", "email": "not-an-email", "phone": "12", "password": "short"},
        "locations": [{"name": "Shop", "address": {"line1": "1 Road"}}],
        "deployment": {"mode": "cloudy"},
    }
    with pytest.raises(ValidationFailed) as caught:
        parse_spec(data)

    assert sorted(e.field for e in caught.value.errors) == sorted(
        [
            "body.business.name",
            "body.business.industry",
            "body.country",
            "body.currency",
            "body.timezone",
            "body.languages.0",
            "body.owner.email",
            "body.owner.phone",
            "body.owner.password",
            "body.locations.0.address.city",
            "body.deployment.mode",
        ]
    )
    assert caught.value.status == 422
    assert len(caught.value.problem()["errors"]) == 11


def test_at_most_one_headquarters() -> None:
    address = {"line1": "1 Road", "city": "Lagos"}
    locations = [{"name": n, "address": address, "is_headquarters": True} for n in ("A", "B")]
    with pytest.raises(ValidationFailed) as caught:
        parse_spec(spec_data(locations=locations))
    assert [e.field for e in caught.value.errors] == ["body.locations"]


def test_the_example_in_the_schema_is_a_valid_spec() -> None:
    schema = ActivationSpec.model_json_schema()
    for example in schema["examples"]:
        assert resolve(ActivationSpec.model_validate(example)).slug == "ada-stores"


def test_the_published_schema_is_up_to_date() -> None:
    assert (ROOT / SCHEMA_PATH).read_text(encoding="utf-8") == activation_schema_text(), (
        "run: python scripts/activation_schema.py"
    )


def test_the_schema_script_check_mode_passes_on_the_committed_file() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts/activation_schema.py"), "--check"],
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    assert result.returncode == 0, result.stdout
