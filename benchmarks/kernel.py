"""Kernel benchmark: what one authenticated request and one sign-in cost, on SQLite and on
PostgreSQL, against a floor measured in the same run on the same machine.

    make bench            # or: .venv/bin/python -m benchmarks.kernel [--seconds 10]

For each engine: a fresh database migrated by `nexus.cli.upgrade_database`, a tenant with its
owner and an API key, `nexus serve --workers 2`, and the floor app (benchmarks/floor_app.py,
2 uvicorn workers reading the tenant row through the same engine settings). wrk measures the
floor and `GET /api/v1/me` (1 connection, then 16); httpx times 50 sequential logins. Only
loopback addresses are used. The load generator shares the machine's cores with the servers,
so the ratio to the floor is the figure to compare across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from rich.console import Console
from sqlalchemy import event

from benchmarks.report import Row, guarded, print_table
from nexus.app import create_app
from nexus.cli import upgrade_database
from nexus.core.context import RequestContext
from nexus.core.db import Database
from nexus.core.security import Keyring
from nexus.core.settings import Settings
from nexus.identity.service import api_keys, tenants, users
from nexus.modules import load_modules

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
RESULTS = ROOT / "benchmarks" / "results" / "kernel.md"
AUTH_SCRIPT = ROOT / "benchmarks" / "auth.lua"
HOST = "127.0.0.1"
PASSWORD = "correct horse battery staple"
LOGINS = 50
ME_TARGET_RATIO = 2.0
ME_TARGET_RPS = 1000.0
LOGIN_TARGET_MS = 150.0
console = Console()


@dataclass(frozen=True)
class Seed:
    tenant_id: uuid.UUID
    slug: str
    email: str
    api_key: str


@dataclass(frozen=True)
class Load:
    """One wrk run: latency percentiles in milliseconds, requests per second."""

    p50_ms: float
    p99_ms: float
    rps: float
    requests: int
    failed: int


@dataclass(frozen=True)
class Login:
    p50_ms: float | None
    note: str | None = None


@dataclass(frozen=True)
class EngineResult:
    floor: Load
    floor_16: Load
    me_1: Load
    me_16: Load
    login: Login
    me_statements: list[str]

    @property
    def failed(self) -> int:
        return self.floor.failed + self.floor_16.failed + self.me_1.failed + self.me_16.failed

    @property
    def me_ratio(self) -> float:
        return self.me_1.p50_ms / self.floor.p50_ms


# --- wrk -------------------------------------------------------------------------------------

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def duration_ms(text: str) -> float:
    """wrk's durations (`812.00us`, `1.23ms`, `1.02s`, `2.00m`) in milliseconds."""
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> Load:
    """Read p50/p99 from `--latency`'s distribution, requests/sec and failures."""
    p50 = re.search(r"^\s*50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s*99%\s+(\S+)", output, re.MULTILINE)
    rps = re.search(r"^Requests/sec:\s+([0-9.]+)", output, re.MULTILINE)
    total = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    if not (p50 and p99 and rps and total):
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    failed = int(non_2xx.group(1)) if non_2xx else 0
    if errors:
        failed += sum(int(part) for part in errors.groups())
    return Load(
        duration_ms(p50.group(1)),
        duration_ms(p99.group(1)),
        float(rps.group(1)),
        int(total.group(1)),
        failed,
    )


def wrk(url: str, *, connections: int, seconds: int, api_key: str | None = None) -> Load:
    threads = min(connections, 2)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    env = dict(os.environ)
    if api_key is not None:
        command += ["-s", str(AUTH_SCRIPT)]
        env["NEXUS_BENCH_API_KEY"] = api_key
    done = subprocess.run(
        [*command, url], env=env, capture_output=True, text=True, check=True, timeout=seconds + 30
    )
    return parse_wrk(done.stdout)


def measure(
    url: str, *, connections: int, seconds: int, warmup: int, api_key: str | None = None
) -> Load:
    wrk(url, connections=connections, seconds=warmup, api_key=api_key)
    return wrk(url, connections=connections, seconds=seconds, api_key=api_key)


# --- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def server(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    """Start a server in its own process group; yield its base URL once /healthz-like probing
    answers; stop the whole group (the supervisor and its workers) afterwards."""
    base = f"http://{HOST}:{port}"
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_listening(process, port, log)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def _wait_until_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                # Both workers bind the same socket; give the second one a moment to import.
                time.sleep(1.5)
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server did not listen on {port} within 60 s:\n{log.read_text()}")


def server_env(
    database_url: str, secret_key: str, tenant_id: uuid.UUID, port: int
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUS_")}
    env.update(
        {
            "NEXUS_DATABASE_URL": database_url,
            "NEXUS_SECRET_KEYS": secret_key,
            "NEXUS_LOG_LEVEL": "WARNING",
            "NEXUS_RUN_WORKER_IN_SERVER": "false",
            "NEXUS_PUBLIC_BASE_URL": f"http://{HOST}:{port}",
            "NEXUS_BENCH_TENANT_ID": str(tenant_id),
        }
    )
    return env


# --- data ------------------------------------------------------------------------------------


async def seed(database_url: str, secret_key: str) -> Seed:
    """A tenant, its owner (with a password, for login) and an owner API key, committed."""
    load_modules()
    database = Database(database_url, keyring=Keyring([secret_key]), pool_size=1)
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    email = f"owner-{slug}@example.com"
    try:
        async with database.transaction() as session:
            owner = await users.create_user(
                session, email=email, name="Bench Owner", password=PASSWORD
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
        return Seed(created.tenant.id, slug, email, key.secret)
    finally:
        await database.dispose()


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A private PostgreSQL cluster (scripts/pgcluster.py) with one database for the bench.

    Its data folder sits directly in the temp folder: the `postgres` user must reach it."""
    data = Path(tempfile.mkdtemp(prefix="nexus-bench-pg-"))
    pgcluster = [sys.executable, str(ROOT / "scripts" / "pgcluster.py")]
    try:
        started = subprocess.run(
            [*pgcluster, "start", str(data)], capture_output=True, text=True, timeout=300
        )
        if started.returncode != 0:
            raise RuntimeError(f"could not start PostgreSQL:\n{started.stderr}")
        base = started.stdout.strip().splitlines()[-1]
        asyncio.run(_create_database(base, "nexus_bench"))
        yield base.rsplit("/", 1)[0] + "/nexus_bench"
    finally:
        subprocess.run([*pgcluster, "stop", str(data)], capture_output=True, timeout=120)
        shutil.rmtree(data, ignore_errors=True)
        data.with_name(f"{data.name}.port").unlink(missing_ok=True)


async def _create_database(base_url: str, name: str) -> None:
    connection = await asyncpg.connect(base_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def me_statements(database_url: str, secret_key: str, api_key: str) -> list[str]:
    """The SQL one warm `GET /api/v1/me` sends (first words of each statement), in-process."""
    settings = Settings(
        database_url=database_url,
        secret_keys=[secret_key],
        log_level="WARNING",
        run_worker_in_server=False,
    )
    database = Database(database_url, keyring=Keyring([secret_key]), pool_size=1)
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        words = statement.split()
        target = words[1].split("(")[0] if len(words) > 1 else ""
        target = next((w for i, w in enumerate(words) if i and words[i - 1] == "FROM"), target)
        sent.append(" ".join([*words[:1], target]).strip())

    for engine in {database.engine, database.read_engine}:
        event.listen(engine.sync_engine, "before_cursor_execute", record)
        event.listen(engine.sync_engine, "commit", lambda conn: sent.append("COMMIT"))
    transport = httpx.ASGITransport(app=create_app(settings, database))
    headers = {"Authorization": f"Bearer {api_key}"}
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            await http.get("/api/v1/me", headers=headers)
            sent.clear()
            await http.get("/api/v1/me", headers=headers)
    finally:
        await database.dispose()
    return sent


# --- one engine ------------------------------------------------------------------------------


def login_p50(base: str, seed: Seed) -> Login:
    """p50 of sequential `POST /api/v1/auth/login` calls, each on a new connection."""
    timings: list[float] = []
    body = {"email": seed.email, "password": PASSWORD, "tenant": seed.slug}
    with httpx.Client(base_url=base, timeout=30) as http:
        for _ in range(LOGINS):
            started = time.perf_counter()
            response = http.post("/api/v1/auth/login", json=body)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code == 404 and not timings:
                return Login(None, "endpoint missing")
            if response.status_code != 200:
                return Login(
                    statistics.median(timings) if timings else None,
                    f"HTTP {response.status_code} after {len(timings)} logins "
                    f"({response.json().get('code', '?')})",
                )
            timings.append(elapsed)
    return Login(statistics.median(timings))


def bench_engine(database_url: str, folder: Path, *, seconds: int, warmup: int) -> EngineResult:
    upgrade_database(database_url)
    secret_key = secrets.token_urlsafe(48)
    data = asyncio.run(seed(database_url, secret_key))
    statements = asyncio.run(me_statements(database_url, secret_key, data.api_key))
    nexus_port, floor_port = free_port(), free_port()
    nexus_env = server_env(database_url, secret_key, data.tenant_id, nexus_port)
    floor_env = server_env(database_url, secret_key, data.tenant_id, floor_port)
    nexus_command = [str(BIN / "nexus"), "serve", "--workers", "2", "--host", HOST]
    floor_command = [
        *(str(BIN / "uvicorn"), "benchmarks.floor_app:create_app", "--factory"),
        *("--host", HOST, "--port", str(floor_port), "--workers", "2"),
        *("--log-level", "warning", "--no-access-log"),
    ]
    with server(floor_command, floor_env, floor_port, folder / "floor.log") as floor_base:
        console.print(f"  floor: GET {floor_base}/tenant, 1 connection")
        floor = measure(f"{floor_base}/tenant", connections=1, seconds=seconds, warmup=warmup)
        console.print("  floor: 16 connections")
        floor_16 = measure(f"{floor_base}/tenant", connections=16, seconds=seconds, warmup=warmup)
    nexus_command += ["--port", str(nexus_port)]
    with server(nexus_command, nexus_env, nexus_port, folder / "nexus.log") as base:
        me_url = f"{base}/api/v1/me"
        check = httpx.get(me_url, headers={"Authorization": f"Bearer {data.api_key}"})
        if check.status_code != 200:
            raise RuntimeError(f"/api/v1/me answered {check.status_code}: {check.text}")
        console.print("  nexus: GET /api/v1/me with an API key, 1 connection")
        me_1 = measure(me_url, connections=1, seconds=seconds, warmup=warmup, api_key=data.api_key)
        console.print("  nexus: GET /api/v1/me with an API key, 16 connections")
        me_16 = measure(
            me_url, connections=16, seconds=seconds, warmup=warmup, api_key=data.api_key
        )
        console.print(f"  nexus: {LOGINS} sequential logins")
        login = login_p50(base, data)
    return EngineResult(floor, floor_16, me_1, me_16, login, statements)


# --- the report ------------------------------------------------------------------------------


ENGINES = ("SQLite", "PostgreSQL")


def _ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 10 else f"{value:.0f} ms"


def _verdict(passes: dict[str, bool | None]) -> str:
    known = {engine: ok for engine, ok in passes.items() if ok is not None}
    if not known:
        return "not measured"
    missed = [engine for engine, ok in known.items() if not ok]
    if not missed:
        return "pass" if len(known) == len(passes) else "pass (" + ", ".join(known) + ")"
    return "MISS (" + ", ".join(missed) + ")"


Show = Callable[[EngineResult], str]
Check = Callable[[EngineResult], bool | None]


def _login_cell(r: EngineResult) -> str:
    if r.login.p50_ms is None:
        return f"login: {r.login.note}"
    text = _ms(r.login.p50_ms)
    return f"{text} ({r.login.note})" if r.login.note else text


def _login_ok(r: EngineResult) -> bool | None:
    if r.login.p50_ms is None or r.login.note:
        return None
    return r.login.p50_ms <= LOGIN_TARGET_MS


def _row(
    results: dict[str, EngineResult | str],
    metric: str,
    target: str,
    show: Show,
    check: Check | None,
) -> Row:
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
    return (metric, target, cells[0], cells[1], _verdict(passes) if check else "(reference)")


def report_rows(results: dict[str, EngineResult | str]) -> list[Row]:
    """(metric, target, SQLite, PostgreSQL, verdict) rows; an engine that failed shows why."""
    specs: list[tuple[str, str, Show, Check | None]] = [
        ("floor p50, 1 conn (one-row read)", "baseline", lambda r: _ms(r.floor.p50_ms), None),
        ("floor p99, 1 conn", "-", lambda r: _ms(r.floor.p99_ms), None),
        (
            "/me p50, 1 conn (API key)",
            f"<= {ME_TARGET_RATIO:g}x floor p50",
            lambda r: f"{_ms(r.me_1.p50_ms)} ({r.me_ratio:.2f}x)",
            lambda r: r.me_ratio <= ME_TARGET_RATIO,
        ),
        ("/me p99, 1 conn", "-", lambda r: _ms(r.me_1.p99_ms), None),
        (
            "/me throughput, 16 conn",
            f">= {ME_TARGET_RPS:,.0f} req/s",
            lambda r: f"{r.me_16.rps:,.0f} req/s",
            lambda r: r.me_16.rps >= ME_TARGET_RPS,
        ),
        (
            "floor throughput, 16 conn",
            "(ceiling)",
            lambda r: f"{r.floor_16.rps:,.0f} req/s",
            None,
        ),
        (
            "/me p50 / p99, 16 conn",
            "-",
            lambda r: f"{_ms(r.me_16.p50_ms)} / {_ms(r.me_16.p99_ms)}",
            None,
        ),
        (
            "SQL per /me (floor: 1 SELECT)",
            "-",
            lambda r: f"{len(r.me_statements)}: " + ", ".join(r.me_statements),
            None,
        ),
        (f"login p50, {LOGINS} sequential", f"<= {LOGIN_TARGET_MS:.0f} ms", _login_cell, _login_ok),
        (
            "failed requests (all runs)",
            "0",
            lambda r: str(r.failed),
            lambda r: r.failed == 0,
        ),
    ]
    return [_row(results, *spec) for spec in specs]


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"{os.cpu_count()} CPU ({cpu}), Python {platform.python_version()}, load average {load}"


def _commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def write_markdown(rows: list[Row], *, seconds: int, machine: str) -> None:
    header = ("metric", "target", "SQLite", "PostgreSQL", "verdict")
    lines = [
        "# Kernel benchmark",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {machine} (load average before "
        f"the run), commit {_commit()}.",
        f"`make bench`: `nexus serve --workers 2` and the floor app (2 uvicorn workers), wrk "
        f"for {seconds} s per figure after a warm-up, on loopback. wrk shares the cores with the "
        "servers, so compare the ratio to the floor rather than absolute figures.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per figure")
    parser.add_argument("--warmup", type=int, default=2, help="wrk warm-up per figure")
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: run `make bench` (it installs wrk) or apt-get install wrk")
    machine = _machine()
    console.print(machine)
    results: dict[str, EngineResult | str] = {}
    with tempfile.TemporaryDirectory(prefix="nexus-bench-") as tmp:
        folder = Path(tmp)
        if args.engine in ("sqlite", "both"):
            console.print("[bold]SQLite[/bold]")
            url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
            results["SQLite"] = guarded(
                lambda: bench_engine(url, folder, seconds=args.seconds, warmup=args.warmup)
            )
        if args.engine in ("postgresql", "both"):
            console.print("[bold]PostgreSQL[/bold]")

            def on_postgres() -> EngineResult:
                with postgres_database() as url:
                    return bench_engine(url, folder, seconds=args.seconds, warmup=args.warmup)

            results["PostgreSQL"] = guarded(on_postgres)
    rows = report_rows(results)
    print_table(rows, title="NEXUS kernel")
    write_markdown(rows, seconds=args.seconds, machine=machine)
    console.print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
