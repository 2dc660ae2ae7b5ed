"""Console translations: the template catalog is current, French is complete, and pages follow
the visitor's language (the `nexus_locale` cookie, else Accept-Language)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from nexus.core.db import Database
from tests.console.browser_client import Console
from tests.console.test_operator_pages import make_operator
from tests.identity.factories import make_tenant

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "src" / "nexus" / "console" / "translations"
TEMPLATE = TRANSLATIONS / "messages.pot"
FRENCH = TRANSLATIONS / "fr" / "LC_MESSAGES" / "messages.po"
#: `%(name)s`-style placeholders and literal `%%`: Jinja's newstyle gettext formats every
#: translation with `%`, so a translation must carry exactly the placeholders of its source.
PLACEHOLDER = re.compile(r"%(?:\(\w+\))?[sdif%]")


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as file:
        return read_po(file)


def message_ids(catalog: Catalog) -> set[str]:
    return {str(message.id) for message in catalog if message.id}


@pytest.fixture(scope="module")
def french() -> Catalog:
    return read_catalog(FRENCH)


def test_the_message_template_is_up_to_date_with_the_sources(tmp_path: Path) -> None:
    extracted = tmp_path / "messages.pot"
    command = [
        sys.executable,
        "-c",
        "from babel.messages.frontend import main; main()",
        "--quiet",
        "extract",
        "-F",
        "babel.cfg",
        "--ignore-dirs",
        ".* ._ node_modules",
        "-o",
        str(extracted),
        ".",
    ]

    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=120)

    fresh, committed = message_ids(read_catalog(extracted)), message_ids(read_catalog(TEMPLATE))
    assert sorted(fresh - committed) == [], "new messages: run scripts/i18n.sh"
    assert sorted(committed - fresh) == [], "messages gone from the sources: run scripts/i18n.sh"
    assert len(fresh) >= 150


def test_every_message_has_a_reviewed_french_translation(french: Catalog) -> None:
    template = message_ids(read_catalog(TEMPLATE))

    missing = sorted(template - message_ids(french))
    empty = sorted(str(m.id) for m in french if m.id and not str(m.string or "").strip())
    fuzzy = sorted(str(m.id) for m in french if m.id and m.fuzzy)

    assert (missing, empty, fuzzy) == ([], [], [])
    assert not french.fuzzy  # a fuzzy header makes `pybabel compile` skip the whole catalog


def test_translations_keep_the_placeholders_of_their_source(french: Catalog) -> None:
    changed = [
        (str(m.id), str(m.string))
        for m in french
        if m.id
        and Counter(PLACEHOLDER.findall(str(m.id))) != Counter(PLACEHOLDER.findall(str(m.string)))
    ]

    assert changed == []


def test_the_french_catalog_says_it_is_machine_made(french: Catalog) -> None:
    assert "Machine-made" in french.header_comment


async def test_accept_language_picks_french(console: Console) -> None:
    response = await console.get("/sign-in", headers={"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"})

    assert '<html lang="fr">' in response.text
    assert "<h1>Se connecter</h1>" in response.text
    assert "Mot de passe oublié ?" in response.text


async def test_the_locale_cookie_wins_over_accept_language(console: Console) -> None:
    console.http.cookies.set("nexus_locale", "fr", domain="nexus.test")

    response = await console.get("/sign-in", headers={"Accept-Language": "en-GB"})

    assert '<html lang="fr">' in response.text
    assert "<h1>Se connecter</h1>" in response.text


async def test_an_unknown_language_falls_back_to_english(console: Console) -> None:
    response = await console.get("/sign-in", headers={"Accept-Language": "xx, de;q=0.8"})

    assert '<html lang="en">' in response.text
    assert "<h1>Sign in</h1>" in response.text


async def test_choosing_a_language_keeps_it_in_a_cookie(console: Console) -> None:
    await console.get("/sign-in")

    response = await console.post(
        "/locale", {"locale": "fr"}, headers={"Referer": "https://nexus.test/sign-in"}
    )
    page = await console.get("/sign-in")

    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in"
    assert console.http.cookies.get("nexus_locale") == "fr"
    assert "<h1>Se connecter</h1>" in page.text


async def test_pages_and_flash_messages_of_a_signed_in_user_are_in_french(
    console: Console, database: Database
) -> None:
    tenant = await make_tenant(database)
    console.http.cookies.set("nexus_locale", "fr", domain="nexus.test")
    await console.sign_in(tenant.owner.email)

    home = await console.get("/")
    await console.post("/sign-out")
    signed_out = await console.get("/sign-in")

    assert "Activité récente" in home.text and "Se déconnecter" in home.text
    assert 'data-testid="flash">Vous êtes déconnecté(e).<' in signed_out.text


async def test_the_operator_pages_are_in_french(console: Console, database: Database) -> None:
    operator = await make_operator(database)
    console.http.cookies.set("nexus_locale", "fr", domain="nexus.test")
    await console.sign_in(operator.email)

    page = await console.get("/platform/tenants")

    assert "<h1>Entreprises</h1>" in page.text
    assert "Tous les statuts" in page.text
