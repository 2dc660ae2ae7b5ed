"""Every example in `examples/` activates, and the draft endpoint reads a sentence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from nexus.core.db import Database
from tests.activation.test_activate_api import ACTIVATE
from tests.identity.factories import unique
from tests.identity.test_platform import make_operator

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.json"))


def _unique_copy(path: Path) -> dict[str, Any]:
    """The example with its own slug and owner, so it can be activated again."""
    spec: dict[str, Any] = json.loads(path.read_text())
    slug = unique(path.stem)[:40]
    spec["business"]["slug"] = slug
    spec["owner"]["email"] = f"{slug}@example.com"
    return spec


def test_there_are_the_examples_the_readme_shows() -> None:
    names = {p.name for p in EXAMPLES}

    assert {"ecommerce-nigeria.json", "healthcare-nigeria.json"} <= names
    assert len(names) >= 5


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
async def test_each_example_activates(
    client: httpx.AsyncClient, database: Database, path: Path
) -> None:
    operator = await make_operator(database)
    spec = _unique_copy(path)

    response = await client.post(ACTIVATE, json=spec, headers=operator.headers)

    assert response.status_code == 201, response.text
    report = response.json()
    assert report["slug"] == spec["business"]["slug"]
    identity = next(m for m in report["modules"] if m["name"] == "identity")
    assert identity["status"] == "active"
    assert identity["created"]["branches"] == len(spec.get("locations", []))
    assert identity["created"]["integrations"] == len(spec.get("integrations", {}))


async def test_the_examples_derive_their_money_and_time_from_the_country(
    client: httpx.AsyncClient, database: Database
) -> None:
    operator = await make_operator(database)
    found = {}
    for name in ("ecommerce-nigeria", "school-nairobi", "consultancy-london"):
        spec = _unique_copy(next(p for p in EXAMPLES if p.stem == name))
        plan = await client.post(
            ACTIVATE, params={"dry_run": "true"}, json=spec, headers=operator.headers
        )
        found[name] = (plan.json()["currency"], plan.json()["timezone"])

    assert found == {
        "ecommerce-nigeria": ("NGN", "Africa/Lagos"),
        "school-nairobi": ("KES", "Africa/Nairobi"),
        "consultancy-london": ("GBP", "Europe/London"),
    }


async def test_a_sentence_becomes_a_draft(client: httpx.AsyncClient, database: Database) -> None:
    operator = await make_operator(database)
    prompt = "I run a pharmacy with 3 branches in Abuja and take Paystack"

    response = await client.post(
        f"{ACTIVATE}/draft", json={"prompt": prompt}, headers=operator.headers
    )

    assert response.status_code == 200, response.text
    draft = response.json()
    assert draft["spec"]["business"]["industry"] == "pharmacy"
    assert draft["spec"]["country"] == "NG"
    assert len(draft["spec"]["locations"]) == 3
    assert draft["spec"]["integrations"]["paystack"]["secret_key"] == "env:PAYSTACK_SECRET_KEY"
    assert "owner.email" in {u["field"] for u in draft["undecided"]}


async def test_drafting_needs_an_operator_while_sign_up_is_closed(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(f"{ACTIVATE}/draft", json={"prompt": "a pharmacy in Abuja"})

    assert response.status_code == 401


async def test_an_overlong_sentence_is_a_422_naming_the_prompt(
    client: httpx.AsyncClient, database: Database
) -> None:
    operator = await make_operator(database)

    response = await client.post(
        f"{ACTIVATE}/draft", json={"prompt": "x" * 2001}, headers=operator.headers
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.prompt"
