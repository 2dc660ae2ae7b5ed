import asyncio
import copy
from typing import Any

import pytest

from nexus.activation import gazetteer
from nexus.activation.draft import (
    DRAFTER_HOOK,
    MAX_PROMPT_CHARS,
    Draft,
    RulesDrafter,
    draft_from_prompt,
    get_drafter,
)
from nexus.activation.validation import parse_spec
from nexus.core.registry import registry

ISSUE_SENTENCE = "I run a pharmacy with 3 branches in Abuja and take Paystack"
RESTAURANT = (
    "I'm Ada Obi and I run a restaurant in Lagos. Reach me at ada@example.com or 0803 123 4567."
)
SCHOOL = "We are a school in Nairobi"
CONSULTANCY = 'My consultancy "Thames Advisory" works from London'

#: Test values for undecided fields, by JSON path or by its last part.
FILL = {
    "business.name": "Test Business",
    "business.industry": "retail",
    "country": "NG",
    "owner.name": "Test Owner",
    "owner.email": "owner@example.com",
    "line1": "1 Test Street",
    "city": "Testville",
    "phone_number_id": "1234567890",
    "provider": "termii",
    "host": "smtp.example.com",
    "from_address": "hello@example.com",
}


def undecided_fields(draft: Draft) -> list[str]:
    return [item.field for item in draft.undecided]


def filled(draft: Draft) -> dict[str, Any]:
    """The draft's spec with every undecided field set to a test value."""
    spec = copy.deepcopy(draft.spec)
    for path in undecided_fields(draft):
        *parents, last = path.split(".")
        node: Any = spec
        for part in parents:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        node[last] = FILL.get(path, FILL.get(last))
    return spec


def test_the_issue_sentence_drafts_a_pharmacy_with_three_branches_in_abuja() -> None:
    draft = draft_from_prompt(ISSUE_SENTENCE)

    assert draft.drafter == "rules"
    assert draft.spec["business"]["industry"] == "pharmacy"
    assert draft.spec["country"] == "NG"
    assert "currency" not in draft.spec
    assert "timezone" not in draft.spec
    assert [location["name"] for location in draft.spec["locations"]] == [
        "Abuja branch 1",
        "Abuja branch 2",
        "Abuja branch 3",
    ]
    assert {location["address"]["city"] for location in draft.spec["locations"]} == {"Abuja"}
    assert draft.spec["integrations"] == {"paystack": {"secret_key": "env:PAYSTACK_SECRET_KEY"}}
    assert "owner" not in draft.spec
    assert undecided_fields(draft) == [
        "business.name",
        "owner.name",
        "owner.email",
        "locations.0.address.line1",
        "locations.1.address.line1",
        "locations.2.address.line1",
    ]
    assert draft.spec["business"]["name"] == "Abuja Pharmacy"
    assert 'industry "pharmacy" from the word "pharmacy"' in draft.notes
    assert any("PAYSTACK_SECRET_KEY" in note for note in draft.notes)


def test_a_restaurant_in_lagos_takes_the_owner_from_the_sentence() -> None:
    draft = draft_from_prompt(RESTAURANT)

    assert draft.spec["business"]["industry"] == "restaurant"
    assert draft.spec["country"] == "NG"
    assert draft.spec["owner"] == {
        "name": "Ada Obi",
        "email": "ada@example.com",
        "phone": "+2348031234567",
    }
    assert [location["name"] for location in draft.spec["locations"]] == ["Lagos branch"]
    assert "owner.email" not in undecided_fields(draft)
    assert "owner.name" not in undecided_fields(draft)
    assert "integrations" not in draft.spec


def test_a_school_in_nairobi_is_in_kenya() -> None:
    draft = draft_from_prompt(SCHOOL)

    assert draft.spec["business"] == {"industry": "school", "name": "Nairobi School"}
    assert draft.spec["country"] == "KE"
    assert draft.spec["locations"][0]["address"] == {
        "city": "Nairobi",
        "region": "Nairobi",
        "country": "KE",
    }


def test_a_consultancy_in_london_takes_its_name_from_the_quotes() -> None:
    draft = draft_from_prompt(CONSULTANCY)

    assert draft.spec["business"] == {
        "industry": "professional_services",
        "name": "Thames Advisory",
    }
    assert draft.spec["country"] == "GB"
    assert "business.name" not in undecided_fields(draft)


def test_a_name_after_called_is_the_business_name() -> None:
    draft = draft_from_prompt("a bakery called Sweet Crumbs and Co in Accra")

    assert draft.spec["business"]["name"] == "Sweet Crumbs and Co"
    assert draft.spec["country"] == "GH"


@pytest.mark.parametrize(
    ("prompt", "industry"),
    [
        ("We are a chemist in Kano", "pharmacy"),
        ("a small drug store", "pharmacy"),
        ("I own an eatery", "restaurant"),
        ("my buka in Ibadan", "restaurant"),
        ("a staff CANTEEN", "restaurant"),
        ("I shop online for customers", "ecommerce"),
        ("we run an online store", "ecommerce"),
        ("a coffee shop", "cafe"),
        ("two dental clinics", "dental"),
        ("a law firm in Enugu", "legal"),
    ],
)
def test_synonyms_name_the_industry(prompt: str, industry: str) -> None:
    assert draft_from_prompt(prompt).spec["business"]["industry"] == industry


def test_words_inside_other_words_are_not_read() -> None:
    draft = draft_from_prompt("Spartan bakers from Abujaville")

    assert "business" not in draft.spec
    assert "country" not in draft.spec


@pytest.mark.parametrize(
    ("prompt", "count"),
    [("two shops in Kano", 2), ("three outlets in Kano", 3), ("12 branches in Kano", 12)],
)
def test_counted_branches_become_that_many_locations(prompt: str, count: int) -> None:
    locations = draft_from_prompt(prompt).spec["locations"]

    assert len(locations) == count
    assert locations[-1]["name"] == f"Kano branch {count}"


def test_a_country_by_name_or_demonym_without_a_city() -> None:
    assert draft_from_prompt("a farm in Nigeria").spec["country"] == "NG"
    assert draft_from_prompt("a Kenyan hotel").spec["country"] == "KE"
    assert draft_from_prompt("a Nigerian restaurant in London").spec["country"] == "GB"
    assert "locations" not in draft_from_prompt("a farm in Nigeria").spec


def test_us_in_lowercase_is_not_a_country() -> None:
    assert "country" not in draft_from_prompt("call us about the gym").spec


def test_integrations_are_env_references_and_owner_email_is_not_one() -> None:
    draft = draft_from_prompt(
        "My email is ada@example.com. We take Flutterwave and Stripe, chat on WhatsApp and send SMS"
    )

    assert draft.spec["integrations"] == {
        "flutterwave": {"secret_key": "env:FLUTTERWAVE_SECRET_KEY"},
        "stripe": {"secret_key": "env:STRIPE_SECRET_KEY"},
        "whatsapp": {"access_token": "env:WHATSAPP_ACCESS_TOKEN"},
        "sms": {"api_key": "env:SMS_API_KEY"},
    }
    assert "integrations.whatsapp.phone_number_id" in undecided_fields(draft)
    assert "integrations.sms.provider" in undecided_fields(draft)


@pytest.mark.parametrize("prompt", ["", "   ", "blorp zzz 42 !!", "¿¿¿ ☃ ???"])
def test_an_empty_or_nonsense_prompt_leaves_everything_undecided(prompt: str) -> None:
    draft = draft_from_prompt(prompt)

    assert draft.spec == {}
    assert undecided_fields(draft) == [
        "business.industry",
        "country",
        "business.name",
        "owner.name",
        "owner.email",
    ]
    assert draft.notes == []


def test_a_prompt_over_the_limit_is_refused() -> None:
    with pytest.raises(ValueError, match=f"at most {MAX_PROMPT_CHARS}"):
        draft_from_prompt("a" * (MAX_PROMPT_CHARS + 1))


def test_a_prompt_at_the_limit_is_read() -> None:
    prompt = ISSUE_SENTENCE + " " * (MAX_PROMPT_CHARS - len(ISSUE_SENTENCE))

    assert draft_from_prompt(prompt).spec["country"] == "NG"


@pytest.mark.parametrize(
    "prompt",
    [
        ISSUE_SENTENCE,
        RESTAURANT,
        SCHOOL,
        CONSULTANCY,
        "",
        "two shops",
        "A salon in Dubai, UAE with WhatsApp, Termii and receipts sent by email",
        "I am Kofi Mensah, kofi@example.com, +233 24 123 4567, a farm in Kumasi",
    ],
)
def test_a_filled_draft_is_a_valid_spec(prompt: str) -> None:
    spec = parse_spec(filled(draft_from_prompt(prompt)))

    assert spec.business.name


def test_the_gazetteer_knows_every_nigerian_state_capital_and_sixty_cities() -> None:
    assert len(gazetteer.CITIES) >= 60
    assert len({city.region for city in gazetteer.NIGERIA}) == 37


class _EchoDrafter:
    async def draft(self, prompt: str) -> Draft:
        return Draft(spec={}, drafter="echo")


def test_a_registered_drafter_replaces_the_rules() -> None:
    assert isinstance(get_drafter(), RulesDrafter)
    registry.provide(DRAFTER_HOOK, _EchoDrafter())
    try:
        assert asyncio.run(get_drafter().draft(ISSUE_SENTENCE)).drafter == "echo"
    finally:
        del registry.hooks[DRAFTER_HOOK]
    assert asyncio.run(get_drafter().draft(ISSUE_SENTENCE)).drafter == "rules"
