"""CRM benchmark: contact read, create, an 80/20 mix, a 50-row list over many tenants and a
100,000-row CSV import, on SQLite and on PostgreSQL, beside the floor measured in the same run.

    make bench            # or: .venv/bin/python -m benchmarks.crm [--seconds 5] [--contacts N]

For each engine: a fresh database migrated by `nexus.cli.upgrade_database`, a tenant with the
CRM module, its owner and an API key; `--contacts` contacts (1,000 per tenant) inserted
set-based straight into the database across `contacts / 1,000` tenants; `nexus serve
--workers 2` and the floor app (benchmarks/floor_app.py). wrk measures the floor, `GET` one
contact and `POST` a new one (1 connection), then 16 connections mixing 80 % reads and 20 %
writes (benchmarks/crm_create.lua); the list of 50 is timed with wrk too. Then a 100,000-row
CSV goes through `POST /api/v1/crm/imports` with `nexus worker` running, polled until done.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, text

from benchmarks.kernel import (
    BIN,
    HOST,
    ROOT,
    Load,
    _commit,
    _machine,
    _verdict,
    console,
    free_port,
    measure,
    parse_wrk,
    postgres_database,
    server,
    server_env,
)
from benchmarks.report import Row, guarded, print_table
from nexus.cli import upgrade_database
from nexus.core.context import RequestContext
from nexus.core.db import Database
from nexus.core.security import Keyring
from nexus.crm.models import Contact
from nexus.crm.service.common import email_key, search_key
from nexus.identity.models import Tenant
from nexus.identity.service import api_keys, tenants, users
from nexus.modules import load_modules

RESULTS = ROOT / "benchmarks" / "results" / "crm.md"
CONTACT_SCRIPT = ROOT / "benchmarks" / "crm_create.lua"
PER_TENANT = 1_000
CHUNK = 10_000
IMPORT_ROWS = 100_000
GET_TARGET_MS = 2.0
CREATE_TARGET_MS = 4.0
MIX_TARGET_RPS = 1000.0
MIX_TARGET_P99_MS = 50.0
LIST_TARGET_MS = 10.0
IMPORT_TARGET_S = 20.0


@dataclass(frozen=True)
class Seed:
    tenant_id: uuid.UUID
    owner_id: uuid.UUID
    api_key: str
    contact_id: uuid.UUID


@dataclass(frozen=True)
class EngineResult:
    contacts: int
    tenants: int
    seed_s: float
    floor: Load
    get_1: Load
    create_1: Load
    mix_16: Load
    list_1: Load
    import_s: float | None
    import_note: str | None

    @property
    def failed(self) -> int:
        loads = (self.floor, self.get_1, self.create_1, self.mix_16, self.list_1)
        return sum(load.failed for load in loads)


# --- data ------------------------------------------------------------------------------------


async def seed(database_url: str, secret_key: str, contacts: int) -> tuple[Seed, float]:
    """The queried tenant (CRM enabled, owner, API key), then `contacts / 1,000` tenants of
    1,000 contacts each (the queried one among them), inserted set-based in chunks."""
    load_modules()
    database = Database(database_url, keyring=Keyring([secret_key]), pool_size=1)
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        async with database.transaction() as session:
            owner = await users.create_user(
                session, email=f"owner-{slug}@example.com", name="Bench Owner", password=None
            )
            created = await tenants.create_tenant(
                session,
                RequestContext.system(),
                name="Bench Stores",
                slug=slug,
                country="NG",
                currency="NGN",
                timezone="Africa/Lagos",
                owner=owner,
                modules=["crm"],
            )
            owner_ctx = RequestContext(
                tenant_id=created.tenant.id,
                actor_type="user",
                actor_id=owner.id,
                user_id=owner.id,
                permissions=frozenset({"*"}),
            )
            key = await api_keys.create_api_key(
                session, owner_ctx, name="bench", scopes=["*"], check_scopes=False
            )
        started = time.perf_counter()
        tenant_ids = [created.tenant.id]
        async with database.engine.begin() as connection:
            others = [
                {
                    "id": uuid.uuid4(),
                    "name": f"Other {n}",
                    "slug": f"{slug}-{n}",
                    "country": "NG",
                    "currency": "NGN",
                    "timezone": "Africa/Lagos",
                    "enabled_modules": ["crm"],
                }
                for n in range(1, max(1, contacts // PER_TENANT))
            ]
            if others:
                await connection.execute(insert(Tenant.__table__), others)
            tenant_ids += [row["id"] for row in others]
        first: uuid.UUID | None = None
        rows: list[dict[str, Any]] = []
        now = dt.datetime.now(dt.UTC)
        for t, tenant_id in enumerate(tenant_ids):
            for n in range(PER_TENANT):
                contact_id = uuid.uuid4()
                first = first or contact_id
                email = f"seed-{t}-{n}@example.com"
                rows.append(
                    {
                        "tenant_id": tenant_id,
                        "id": contact_id,
                        "version": 1,
                        "first_name": "Seed",
                        "last_name": f"Person {t} {n}",
                        "search_name": search_key(f"Seed Person {t} {n}"),
                        "email": email,
                        "email_key": email_key(email),
                        "tags": [],
                        "custom": {},
                        "owner_id": owner.id if t == 0 else None,
                        "created_at": now - dt.timedelta(seconds=n),
                        "updated_at": now,
                    }
                )
                if len(rows) == CHUNK:
                    await _insert_contacts(database, rows)
                    rows = []
        if rows:
            await _insert_contacts(database, rows)
        assert first is not None
        elapsed = time.perf_counter() - started
        await _analyze(database)
        return Seed(created.tenant.id, owner.id, key.secret, first), elapsed
    finally:
        await database.dispose()


ANALYZED = ("tenants", "users", "memberships", "api_keys", "crm_contacts")


async def _analyze(database: Database) -> None:
    """PostgreSQL: statistics for the freshly loaded tables, as autovacuum gathers them within
    a minute of a bulk load. Measured without them, the planner has no row counts, and the
    generic plan of a contact read by id may walk another index over all of the tenant's
    contacts (about 100 µs of server CPU per read, instead of 12). SQLite keeps no statistics
    unless told to, so it is measured as it runs."""
    if database.is_sqlite:
        return
    async with database.engine.connect() as connection:
        for table in ANALYZED:
            await connection.execute(text(f"ANALYZE {table}"))
        await connection.commit()


async def _insert_contacts(database: Database, rows: list[dict[str, Any]]) -> None:
    async with database.engine.begin() as connection:
        await connection.execute(insert(Contact.__table__), rows)


def import_csv(rows: int) -> bytes:
    lines = ["first_name,last_name,email,phone"]
    lines += [f"Imported,Person {n},import-{n}@example.com,+234805{n:07d}" for n in range(rows)]
    return ("\n".join(lines) + "\n").encode()


# --- wrk with the contact script -------------------------------------------------------------


def wrk_contacts(
    base: str,
    seed_: Seed,
    *,
    connections: int,
    seconds: int,
    run: int,
    write_every: int,
) -> Load:
    threads = min(connections, 2)
    env = dict(os.environ)
    env |= {
        "NEXUS_BENCH_API_KEY": seed_.api_key,
        "NEXUS_BENCH_RUN": str(run % 10),
        "NEXUS_BENCH_CONTACT_ID": str(seed_.contact_id),
        "NEXUS_BENCH_WRITE_EVERY": str(write_every),
    }
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    command += ["-s", str(CONTACT_SCRIPT), base]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, check=True, timeout=seconds + 30
    )
    return parse_wrk(done.stdout)


# --- the import ------------------------------------------------------------------------------


def time_import(
    base: str, seed_: Seed, env: dict[str, str], log: Path
) -> tuple[float | None, str | None]:
    """Seconds from the upload to the import's `done`, with one `nexus worker` running."""
    content = import_csv(IMPORT_ROWS)
    headers = {"Authorization": f"Bearer {seed_.api_key}", "Content-Type": "text/csv"}
    with log.open("w") as output:
        worker = subprocess.Popen(
            [str(BIN / "nexus"), "worker"],
            env=env,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        with httpx.Client(base_url=base, timeout=120, headers=headers) as http:
            started = time.perf_counter()
            response = http.post("/api/v1/crm/imports", content=content)
            if response.status_code != 201:
                return None, f"HTTP {response.status_code}: {response.text[:200]}"
            body = response.json()
            if body["status"] == "invalid":
                return None, f"invalid: {body['report'][:3]}"
            import_id = body["id"]
            deadline = started + 300
            while body["status"] != "done":
                if time.perf_counter() > deadline:
                    return None, f"not done after 300 s ({body['status']})"
                time.sleep(0.1)
                body = http.get(f"/api/v1/crm/imports/{import_id}").json()
            elapsed = time.perf_counter() - started
            if body["written_rows"] != IMPORT_ROWS:
                return elapsed, f"{body['written_rows']} rows written"
            return elapsed, None
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=5)


# --- one engine ------------------------------------------------------------------------------


def bench_engine(
    database_url: str, folder: Path, *, seconds: int, warmup: int, contacts: int
) -> EngineResult:
    upgrade_database(database_url)
    secret_key = secrets.token_urlsafe(48)
    console.print(
        f"  seeding {contacts:,} contacts across {max(1, contacts // PER_TENANT):,} tenants"
    )
    data, seed_s = asyncio.run(seed(database_url, secret_key, contacts))
    console.print(f"  seeded in {seed_s:.1f} s")
    nexus_port, floor_port = free_port(), free_port()
    nexus_env = server_env(database_url, secret_key, data.tenant_id, nexus_port)
    floor_env = server_env(database_url, secret_key, data.tenant_id, floor_port)
    floor_command = [
        *(str(BIN / "uvicorn"), "benchmarks.floor_app:create_app", "--factory"),
        *("--host", HOST, "--port", str(floor_port), "--workers", "2"),
        *("--log-level", "warning", "--no-access-log"),
    ]
    with server(floor_command, floor_env, floor_port, folder / "floor.log") as floor_base:
        console.print("  floor: GET /tenant, 1 connection")
        floor = measure(f"{floor_base}/tenant", connections=1, seconds=seconds, warmup=warmup)
    nexus_command = [str(BIN / "nexus"), "serve", "--workers", "2", "--host", HOST]
    nexus_command += ["--port", str(nexus_port)]
    with server(nexus_command, nexus_env, nexus_port, folder / "nexus.log") as base:
        check = httpx.get(
            f"{base}/api/v1/crm/contacts/{data.contact_id}",
            headers={"Authorization": f"Bearer {data.api_key}"},
        )
        if check.status_code != 200:
            raise RuntimeError(f"GET contact answered {check.status_code}: {check.text}")
        runs = iter(range(10))

        def contacts_load(connections: int, write_every: int) -> Load:
            wrk_contacts(
                base,
                data,
                connections=connections,
                seconds=warmup,
                run=next(runs),
                write_every=write_every,
            )
            return wrk_contacts(
                base,
                data,
                connections=connections,
                seconds=seconds,
                run=next(runs),
                write_every=write_every,
            )

        console.print("  nexus: GET a contact, 1 connection")
        get_1 = measure(
            f"{base}/api/v1/crm/contacts/{data.contact_id}",
            connections=1,
            seconds=seconds,
            warmup=warmup,
            api_key=data.api_key,
        )
        console.print("  nexus: POST a contact, 1 connection")
        create_1 = contacts_load(1, 1)
        console.print("  nexus: 80/20 GET/POST, 16 connections")
        mix_16 = contacts_load(16, 5)
        console.print("  nexus: list 50, 1 connection")
        list_1 = measure(
            f"{base}/api/v1/crm/contacts?limit=50",
            connections=1,
            seconds=seconds,
            warmup=warmup,
            api_key=data.api_key,
        )
        console.print(f"  nexus: import {IMPORT_ROWS:,} contacts from CSV")
        import_s, note = time_import(base, data, nexus_env, folder / "worker.log")
    tenant_count = max(1, contacts // PER_TENANT)
    return EngineResult(
        tenant_count * PER_TENANT,
        tenant_count,
        seed_s,
        floor,
        get_1,
        create_1,
        mix_16,
        list_1,
        import_s,
        note,
    )


# --- the report ------------------------------------------------------------------------------

ENGINES = ("SQLite", "PostgreSQL")
Show = Callable[[EngineResult], str]
Check = Callable[[EngineResult], bool | None]


def _ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 10 else f"{value:.0f} ms"


def _import_cell(r: EngineResult) -> str:
    if r.import_s is None:
        return f"failed: {r.import_note}"
    return f"{r.import_s:.1f} s" + (f" ({r.import_note})" if r.import_note else "")


def _import_ok(r: EngineResult) -> bool | None:
    if r.import_s is None:
        return False
    return r.import_note is None and r.import_s <= IMPORT_TARGET_S


def report_rows(results: dict[str, EngineResult | str]) -> list[Row]:
    specs: list[tuple[str, str, Show, Check | None]] = [
        ("floor p50, 1 conn (one-row read)", "baseline", lambda r: _ms(r.floor.p50_ms), None),
        (
            "GET contact p50, 1 conn",
            f"<= {GET_TARGET_MS:g} ms",
            lambda r: f"{_ms(r.get_1.p50_ms)} ({r.get_1.p50_ms / r.floor.p50_ms:.1f}x floor)",
            lambda r: r.get_1.p50_ms <= GET_TARGET_MS,
        ),
        (
            "POST contact p50, 1 conn",
            f"<= {CREATE_TARGET_MS:g} ms",
            lambda r: f"{_ms(r.create_1.p50_ms)} ({r.create_1.p50_ms / r.floor.p50_ms:.1f}x floor)",
            lambda r: r.create_1.p50_ms <= CREATE_TARGET_MS,
        ),
        (
            "80/20 GET/POST, 16 conn, 2 workers",
            f">= {MIX_TARGET_RPS:,.0f} req/s",
            lambda r: f"{r.mix_16.rps:,.0f} req/s",
            lambda r: r.mix_16.rps >= MIX_TARGET_RPS,
        ),
        (
            "80/20 p99, 16 conn",
            f"<= {MIX_TARGET_P99_MS:g} ms",
            lambda r: _ms(r.mix_16.p99_ms),
            lambda r: r.mix_16.p99_ms <= MIX_TARGET_P99_MS,
        ),
        (
            "database size for the list",
            "1,000,000 / 1,000 tenants",
            lambda r: f"{r.contacts:,} / {r.tenants:,} tenants (seeded in {r.seed_s:.0f} s)",
            None,
        ),
        (
            "list 50 p50, 1 conn",
            f"<= {LIST_TARGET_MS:g} ms",
            lambda r: _ms(r.list_1.p50_ms),
            lambda r: r.list_1.p50_ms <= LIST_TARGET_MS,
        ),
        (
            f"import {IMPORT_ROWS:,} contacts (CSV to done)",
            f"<= {IMPORT_TARGET_S:g} s",
            _import_cell,
            _import_ok,
        ),
        ("failed requests (wrk runs)", "0", lambda r: str(r.failed), lambda r: r.failed == 0),
    ]
    rows: list[Row] = []
    for metric, target, show, check in specs:
        cells: list[str] = []
        passes: dict[str, bool | None] = {}
        for engine in ENGINES:
            result = results.get(engine, "not run")
            if isinstance(result, str):
                cells.append(result)
                passes[engine] = None
            else:
                cells.append(show(result))
                passes[engine] = check(result) if check else None
        verdict = _verdict(passes) if check else "(reference)"
        rows.append((metric, target, cells[0], cells[1], verdict))
    return rows


def write_markdown(rows: list[Row], *, seconds: int, machine: str, contacts: int) -> None:
    header = ("metric", "target", "SQLite", "PostgreSQL", "verdict")
    scaled = (
        ""
        if contacts >= 1_000_000
        else f" The list was measured over {contacts:,} contacts across "
        f"{max(1, contacts // PER_TENANT):,} tenants (scaled down from 1,000,000 across 1,000 "
        "to fit the run's time on this machine)."
    )
    lines = [
        "# CRM benchmark",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {machine} (load average before "
        f"the run), commit {_commit()}.",
        f"`make bench`: `nexus serve --workers 2` and the floor app (2 uvicorn workers), wrk "
        f"for {seconds} s per figure after a warm-up, on loopback; the import runs with one "
        "`nexus worker`. wrk shares the cores with the servers, and other work may have been "
        f"running on the machine (see the load average).{scaled}",
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
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per figure")
    parser.add_argument("--warmup", type=int, default=1, help="wrk warm-up per figure")
    parser.add_argument(
        "--contacts", type=int, default=1_000_000, help="contacts for the list (1,000 per tenant)"
    )
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: run `make bench` (it installs wrk) or apt-get install wrk")
    machine = _machine()
    console.print(machine)
    results: dict[str, EngineResult | str] = {}

    def run(url: str, folder: Path) -> EngineResult:
        return bench_engine(
            url, folder, seconds=args.seconds, warmup=args.warmup, contacts=args.contacts
        )

    with tempfile.TemporaryDirectory(prefix="nexus-bench-crm-") as tmp:
        folder = Path(tmp)
        if args.engine in ("sqlite", "both"):
            console.print("[bold]SQLite[/bold]")
            results["SQLite"] = guarded(
                lambda: run(f"sqlite+aiosqlite:///{folder / 'bench.db'}", folder)
            )
        if args.engine in ("postgresql", "both"):
            console.print("[bold]PostgreSQL[/bold]")

            def on_postgres() -> EngineResult:
                with postgres_database() as url:
                    return run(url, folder)

            results["PostgreSQL"] = guarded(on_postgres)
    rows = report_rows(results)
    print_table(rows, title="NEXUS CRM")
    write_markdown(rows, seconds=args.seconds, machine=machine, contacts=args.contacts)
    console.print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
