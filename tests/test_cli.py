"""The `nexus` command, run in-process with Typer's runner against a real database."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from nexus import cli
from nexus.app import create_app
from nexus.core.db import Database
from nexus.core.security import Keyring
from nexus.core.settings import Settings, get_settings
from nexus.identity.models import Tenant
from tests.conftest import ENGINE, SECRET_KEYS, fresh_database_url

runner = CliRunner()
API_KEY = re.compile(r"nxk_[A-Za-z0-9_-]+")
SETUP_URL = re.compile(r"http://nexus\.test/reset-password\?token=[A-Za-z0-9_.~-]+")


def _environment(database_url: str) -> dict[str, str]:
    # 80 columns: links and keys must still come out on one line each.
    return {
        "NEXUS_DATABASE_URL": database_url,
        "NEXUS_SECRET_KEYS": ",".join(SECRET_KEYS),
        "NEXUS_PUBLIC_BASE_URL": "http://nexus.test",
        "NEXUS_LOG_LEVEL": "WARNING",
        "COLUMNS": "80",
    }


def invoke(args: list[str], database_url: str | None = None) -> Result:
    """Run `nexus <args>`; settings are read afresh from the runner's environment."""
    get_settings.cache_clear()
    try:
        env = _environment(database_url) if database_url else None
        return runner.invoke(cli.app, args, env=env)
    finally:
        get_settings.cache_clear()


def _settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        secret_keys=SECRET_KEYS,
        public_base_url="http://nexus.test",
        log_format="console",
        log_level="WARNING",
        run_worker_in_server=False,
    )


def get_me(database_url: str, api_key: str) -> httpx.Response:
    """`GET /api/v1/me` with the key, through the app built on the same settings."""

    async def call() -> httpx.Response:
        settings = _settings(database_url)
        database = Database(database_url, keyring=Keyring(settings.secret_keys), pool_size=1)
        transport = httpx.ASGITransport(app=create_app(settings, database))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://nexus.test") as http:
                return await http.get("/api/v1/me", headers={"Authorization": f"Bearer {api_key}"})
        finally:
            await database.dispose()

    return asyncio.run(call())


def count_tenants(database_url: str) -> int:
    async def count() -> int:
        database = Database(database_url, keyring=Keyring(SECRET_KEYS), pool_size=1)
        try:
            async with database.transaction() as session:
                return int(await session.scalar(select(func.count()).select_from(Tenant)) or 0)
        finally:
            await database.dispose()

    return asyncio.run(count())


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh migrated database of its own on the engine under test."""
    yield from fresh_database_url(tmp_path, "cli")


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["worker"],
        ["db", "upgrade"],
        ["operator", "create"],
        ["tenants", "list"],
        ["tenants", "create"],
        ["activate"],
    ],
    ids=lambda command: " ".join(command) or "nexus",
)
def test_help_of_every_command_exits_0(command: list[str]) -> None:
    result = invoke([*command, "--help"])

    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


@pytest.mark.skipif(ENGINE != "sqlite", reason="a fresh file database is a SQLite matter")
def test_db_upgrade_migrates_a_fresh_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    url = f"sqlite+aiosqlite:///{path}"

    result = invoke(["db", "upgrade"], url)

    assert result.exit_code == 0, result.output
    assert "database is up to date" in result.output
    assert path.exists()
    assert count_tenants(url) == 0


def test_db_upgrade_twice_is_a_no_op(database_url: str) -> None:
    result = invoke(["db", "upgrade"], database_url)

    assert result.exit_code == 0, result.output
    assert count_tenants(database_url) == 0


def test_tenants_create_prints_a_setup_link_and_a_working_owner_key(database_url: str) -> None:
    result = invoke(
        ["tenants", "create", "--name", "Mama Put Kitchen", "--owner-email", "mama@example.com"],
        database_url,
    )

    assert result.exit_code == 0, result.output
    assert "tenant mama-put-kitchen created" in result.output
    assert len(SETUP_URL.findall(result.output)) == 1
    keys = API_KEY.findall(result.output)
    assert len(keys) == 1
    response = get_me(database_url, keys[0])
    assert response.status_code == 200, response.text
    me: dict[str, Any] = response.json()
    assert me["actor_type"] == "api_key"
    assert me["tenant_slug"] == "mama-put-kitchen"
    assert me["permissions"] == ["*"]
    assert me["platform_role"] is None


def test_tenants_list_shows_the_created_tenant(database_url: str) -> None:
    created = invoke(
        ["tenants", "create", "--name", "Mama Put Kitchen", "--owner-email", "mama@example.com"],
        database_url,
    )
    assert created.exit_code == 0, created.output

    result = invoke(["tenants", "list"], database_url)

    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if "mama-put-kitchen" in line]
    assert len(rows) == 1
    cells = [cell.strip() for cell in rows[0].split("│")[1:-1]]
    assert cells[0] == "mama-put-kitchen"
    assert cells[1].startswith("Mama")
    assert cells[2:6] == ["NG", "NGN", "active", "1"]


def test_tenants_create_twice_with_the_same_slug_fails_and_adds_nothing(
    database_url: str,
) -> None:
    args = ["tenants", "create", "--name", "Mama Put Kitchen", "--owner-email", "mama@example.com"]
    assert invoke(args, database_url).exit_code == 0

    result = invoke(args, database_url)

    assert result.exit_code == 1
    assert result.output == "error: The slug 'mama-put-kitchen' is taken\n"
    assert count_tenants(database_url) == 1


def test_operator_create_prints_a_setup_link_and_an_operator_key(database_url: str) -> None:
    result = invoke(["operator", "create", "--email", "ops@example.com"], database_url)

    assert result.exit_code == 0, result.output
    assert "operator ops@example.com created" in result.output
    assert len(SETUP_URL.findall(result.output)) == 1
    keys = API_KEY.findall(result.output)
    assert len(keys) == 1
    response = get_me(database_url, keys[0])
    assert response.status_code == 200, response.text
    me: dict[str, Any] = response.json()
    assert me["platform_role"] == "operator"
    assert me["tenant_id"] is None
    assert me["email"] == "ops@example.com"


def test_operator_create_for_an_operator_fails_with_one_line(database_url: str) -> None:
    args = ["operator", "create", "--email", "ops@example.com"]
    assert invoke(args, database_url).exit_code == 0

    result = invoke(args, database_url)

    assert result.exit_code == 1
    assert result.output == "error: ops@example.com is already an operator\n"


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_activate_brings_an_example_to_life_with_a_summary(database_url: str) -> None:
    result = invoke(["activate", str(EXAMPLES / "ecommerce-nigeria.json")], database_url)

    assert result.exit_code == 0, result.output
    assert "Ada Stores is live: ada-stores" in result.output
    identity = next(line for line in result.output.splitlines() if "│ identity" in line)
    assert "roles 3, branches 2, integrations 4" in identity
    assert "│ crm       │ active" in result.output
    assert "│ commerce  │ unavailable" in result.output
    keys = API_KEY.findall(result.output)
    assert len(keys) == 1 and len(SETUP_URL.findall(result.output)) == 1
    assert get_me(database_url, keys[0]).json()["tenant_slug"] == "ada-stores"


def test_activate_dry_run_prints_the_plan_and_writes_nothing(database_url: str) -> None:
    result = invoke(["activate", "--dry-run", str(EXAMPLES / "school-nairobi.json")], database_url)

    assert result.exit_code == 0, result.output
    assert '"currency": "KES"' in result.output
    assert '"timezone": "Africa/Nairobi"' in result.output
    assert count_tenants(database_url) == 0


def test_activate_lists_every_bad_field_and_writes_nothing(
    database_url: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"business": {"name": "X", "industry": "pharmacy"}, "country": "ZZ",'
        ' "owner": {"name": "Ada", "email": "not-an-email"}}'
    )

    result = invoke(["activate", str(bad)], database_url)

    assert result.exit_code == 1
    assert "spec.country: Value error, 'ZZ' is not an ISO 3166-1 alpha-2 country code" in (
        result.output
    )
    assert "spec.owner.email:" in result.output
    assert count_tenants(database_url) == 0


def test_activate_from_a_sentence_prints_and_saves_a_draft(tmp_path: Path) -> None:
    out = tmp_path / "draft.json"

    result = invoke(
        [
            "activate",
            "--prompt",
            "I run a pharmacy with 3 branches in Abuja and take Paystack",
            "--out",
            str(out),
        ]
    )

    assert result.exit_code == 0, result.output
    assert "undecided: owner.email:" in result.output
    draft = json.loads(out.read_text())
    assert draft["business"]["industry"] == "pharmacy" and len(draft["locations"]) == 3
