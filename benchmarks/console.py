"""Console benchmark: what the server spends drawing the business's home page, on SQLite and on
PostgreSQL.

    make bench            # after the kernel benchmark; or: .venv/bin/python -m benchmarks.console

For each engine: a fresh database migrated by `nexus.cli.upgrade_database`, a business with its
owner, a few members and a page of audit events; the owner signs in to the console through the
app, then `GET /` is timed in-process through the ASGI app (httpx's ASGITransport, no network,
one request at a time): 50 warm-up requests, then 500 measured. The figure is the server's
render time (session lookup, the queries of the page and the layout, Jinja), not a browser's.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import re
import secrets
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from sqlalchemy import event, select

from benchmarks.kernel import _commit, _machine, postgres_database
from benchmarks.report import Row, guarded, print_table
from nexus.app import create_app
from nexus.cli import upgrade_database
from nexus.core.audit import record
from nexus.core.context import RequestContext
from nexus.core.db import Database, bind_tenant
from nexus.core.security import Keyring
from nexus.core.settings import Settings
from nexus.identity.models import ACTIVE, Membership, Role
from nexus.identity.service import tenants, users
from nexus.modules import load_modules

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "console.md"
PASSWORD = "correct horse battery staple"
MEMBERS = 5
AUDIT_EVENTS = 40
WARMUP = 50
MEASURED = 500
TARGET_P50_MS = 20.0
ENGINES = ("SQLite", "PostgreSQL")
_CSRF = re.compile(r'name="csrf-token" content="([0-9a-f]+)"')
console = Console()


@dataclass(frozen=True)
class Seed:
    tenant_id: uuid.UUID
    email: str


@dataclass(frozen=True)
class Render:
    """Timings of the measured requests, in milliseconds, and the SQL of one warm render."""

    timings_ms: list[float]
    statements: list[str]

    def percentile(self, p: int) -> float:
        return statistics.quantiles(self.timings_ms, n=100, method="inclusive")[p - 1]


# --- data ------------------------------------------------------------------------------------


async def seed(database: Database) -> Seed:
    """A business, its owner (with a password), `MEMBERS - 1` staff and `AUDIT_EVENTS` audit
    rows, committed."""
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    email = f"owner-{slug}@example.com"
    async with database.transaction() as session:
        owner = await users.create_user(session, email=email, name="Bench Owner", password=PASSWORD)
        created = await tenants.create_tenant(
            session,
            RequestContext.system(),
            name="Bench Stores",
            slug=slug,
            country="NG",
            currency="NGN",
            timezone="Africa/Lagos",
            owner=owner,
        )
    tenant_id = created.tenant.id
    async with database.transaction(tenant_id=tenant_id) as session:
        await bind_tenant(session, tenant_id)
        staff = (await session.scalars(select(Role).where(Role.key == "staff"))).one()
        for number in range(MEMBERS - 1):
            member = await users.create_user(
                session, email=f"staff-{number}-{slug}@example.com", name=f"Staff {number}"
            )
            session.add(
                Membership(tenant_id=tenant_id, user_id=member.id, role_id=staff.id, status=ACTIVE)
            )
        ctx = RequestContext(
            tenant_id=tenant_id, actor_type="user", actor_id=owner.id, user_id=owner.id
        )
        for number in range(AUDIT_EVENTS):
            record(
                session,
                ctx,
                "identity.user.updated",
                target_type="user",
                target_id=owner.id,
                changes=[f"field_{number % 3}"],
                tenant_id=tenant_id,
            )
    return Seed(tenant_id, email)


# --- the measurement -------------------------------------------------------------------------


async def sign_in(http: httpx.AsyncClient, email: str) -> None:
    page = await http.get("/sign-in")
    token = _CSRF.search(page.text)
    if token is None:
        raise RuntimeError("the sign-in page carries no CSRF token")
    done = await http.post(
        "/sign-in", data={"csrf_token": token.group(1), "email": email, "password": PASSWORD}
    )
    if done.status_code != 303:
        raise RuntimeError(f"sign-in answered {done.status_code}: {done.text[:300]}")


def _statement_words(statement: str) -> str:
    words = statement.split()
    first = words[1].split("(")[0] if len(words) > 1 else ""
    target = next((w for i, w in enumerate(words) if i and words[i - 1] == "FROM"), first)
    return " ".join([*words[:1], target]).strip()


async def measure(database_url: str) -> Render:
    """Sign the owner in, warm up, then time `MEASURED` sequential renders of `/`."""
    secret_key = secrets.token_urlsafe(48)
    load_modules()
    database = Database(database_url, keyring=Keyring([secret_key]), pool_size=5)
    settings = Settings(
        database_url=database_url,
        secret_keys=[secret_key],
        log_level="WARNING",
        run_worker_in_server=False,
        public_base_url="https://bench.test",
    )
    sent: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        sent.append(_statement_words(statement))

    try:
        data = await seed(database)
        transport = httpx.ASGITransport(app=create_app(settings, database))
        async with httpx.AsyncClient(transport=transport, base_url="https://bench.test") as http:
            await sign_in(http, data.email)
            for _ in range(WARMUP):
                _check(await http.get("/"))
            for engine in {database.engine, database.read_engine}:
                event.listen(engine.sync_engine, "before_cursor_execute", note)
            _check(await http.get("/"))
            statements = list(sent)
            for engine in {database.engine, database.read_engine}:
                event.remove(engine.sync_engine, "before_cursor_execute", note)
            timings = []
            for _ in range(MEASURED):
                started = time.perf_counter()
                response = await http.get("/")
                timings.append((time.perf_counter() - started) * 1000)
                _check(response)
    finally:
        await database.dispose()
    return Render(timings, statements)


def _check(response: httpx.Response) -> None:
    if response.status_code != 200 or f'data-testid="team-size">{MEMBERS}<' not in response.text:
        raise RuntimeError(f"GET / answered {response.status_code}: {response.text[:300]}")


def bench_engine(database_url: str) -> Render:
    upgrade_database(database_url)
    return asyncio.run(measure(database_url))


# --- the report ------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"


def report_rows(results: dict[str, Render | str]) -> list[Row]:
    """(metric, target, SQLite, PostgreSQL, verdict) rows; an engine that failed shows why."""

    def cells(show: Callable[[Render], str]) -> list[str]:
        return [
            show(r) if isinstance(r, Render) else r
            for r in (results.get(e, "not run") for e in ENGINES)
        ]

    measured = {e: r for e, r in results.items() if isinstance(r, Render)}
    missed = [e for e, r in measured.items() if r.percentile(50) > TARGET_P50_MS]
    if not measured:
        verdict = "not measured"
    elif missed:
        verdict = "MISS (" + ", ".join(missed) + ")"
    else:
        verdict = "pass" if len(measured) == len(ENGINES) else "pass (" + ", ".join(measured) + ")"
    sqlite, postgres = cells(lambda r: _ms(r.percentile(50)))
    rows: list[Row] = [("home p50", f"<= {TARGET_P50_MS:.0f} ms", sqlite, postgres, verdict)]
    for label, show in (
        ("home p95", lambda r: _ms(r.percentile(95))),
        ("home p99", lambda r: _ms(r.percentile(99))),
        ("home max", lambda r: _ms(max(r.timings_ms))),
        ("SQL per render", lambda r: f"{len(r.statements)}: " + ", ".join(r.statements)),
    ):
        sqlite, postgres = cells(show)
        rows.append((label, "-", sqlite, postgres, "(reference)"))
    return rows


def write_markdown(rows: list[Row], *, machine: str) -> None:
    header = ("metric", "target", "SQLite", "PostgreSQL", "verdict")
    lines = [
        "# Console benchmark",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {machine} (load average before "
        f"the run), commit {_commit()}.",
        f"`make bench`: the business's home page `/` for its signed-in owner ({MEMBERS} members, "
        f"{AUDIT_EVENTS} audit events), rendered server-side in-process through the ASGI app "
        f"(httpx ASGITransport, no network), one request at a time: {WARMUP} warm-up requests, "
        f"then {MEASURED} measured.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    machine = _machine()
    console.print(machine)
    results: dict[str, Render | str] = {}
    with tempfile.TemporaryDirectory(prefix="nexus-bench-console-") as tmp:
        if args.engine in ("sqlite", "both"):
            console.print("[bold]SQLite[/bold]: GET / for a signed-in owner")
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'console.db'}"
            results["SQLite"] = guarded(lambda: bench_engine(url))
        if args.engine in ("postgresql", "both"):
            console.print("[bold]PostgreSQL[/bold]: GET / for a signed-in owner")

            def on_postgres() -> Render:
                with postgres_database() as url:
                    return bench_engine(url)

            results["PostgreSQL"] = guarded(on_postgres)
    rows = report_rows(results)
    print_table(rows, title="NEXUS console")
    write_markdown(rows, machine=machine)
    console.print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
