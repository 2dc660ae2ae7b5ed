"""Activation benchmark: what bringing a business to life through `POST /api/v1/activate` costs,
on SQLite and on PostgreSQL, and whether it stays flat over 1,000 businesses in one database.

    make bench      # after the console benchmark; or: python -m benchmarks.activation

For each engine: a fresh database migrated by `nexus.cli.upgrade_database`, a platform operator
with an API key, and `nexus serve` with one server process (the app runs in the process started
here, so its RSS is the server's), no in-server worker (mail jobs wait in the queue) and
WARNING logs. httpx activates `examples/ecommerce-nigeria.json` sequentially on one keep-alive
connection, each with its own slug and owner e-mail: `WARMUP` warm-up activations (the last one
also counts the rows it writes, table by table), then `MEASURED` measured ones. The first 100
give p50/p95 and are compared with the last 100; the server's RSS is read from
/proc/<pid>/status after the warm-up and after the measured run. Then, with the server
stopped, `PROFILED` activations in-process (ASGI transport) count and time their SQL; with
`--profile` as many more run under cProfile, whose top functions are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import secrets
import signal
import statistics
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from sqlalchemy import event, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from benchmarks.kernel import (
    HOST,
    _commit,
    _machine,
    _wait_until_listening,
    free_port,
    postgres_database,
)
from benchmarks.report import Row, guarded, print_table
from nexus.app import create_app
from nexus.cli import upgrade_database
from nexus.core.context import RequestContext
from nexus.core.db import Database
from nexus.core.security import Keyring
from nexus.core.settings import Settings
from nexus.identity.service import api_keys, users
from nexus.modules import load_modules

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
RESULTS = ROOT / "benchmarks" / "results" / "activation.md"
EXAMPLE = ROOT / "examples" / "ecommerce-nigeria.json"
ACTIVATE = "/api/v1/activate"
WARMUP = 10
MEASURED = 1000
WINDOW = 100
TARGET_P50_MS = 150.0
TARGET_P95_MS = 300.0
TARGET_DRIFT = 1.25
TARGET_GROWTH_MB = 50.0
PROFILE_TOP = 15
PROFILED = 20
ENGINES = ("SQLite", "PostgreSQL")
console = Console()


@dataclass
class Run:
    """One engine's figures: client-side timings (ms) of the measured activations in order, the
    server-reported `total_ms` and step timings, RSS (kB) and the rows of one activation."""

    timings_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    steps_ms: dict[str, list[float]] = field(default_factory=dict)
    rss_after_warmup_kb: int = 0
    rss_after_kb: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    modules: dict[str, list[str]] = field(default_factory=dict)
    server_note: str = ""
    sql: InProcess | None = None
    cpu_ms: list[float] = field(default_factory=list)

    def window(self, which: str) -> list[float]:
        return self.timings_ms[:WINDOW] if which == "first" else self.timings_ms[-WINDOW:]

    def percentile(self, values: list[float], p: int) -> float:
        return statistics.quantiles(values, n=100, method="inclusive")[p - 1]

    @property
    def p50(self) -> float:
        return statistics.median(self.window("first"))

    @property
    def p95(self) -> float:
        return self.percentile(self.window("first"), 95)

    @property
    def last_p50(self) -> float:
        return statistics.median(self.window("last"))

    @property
    def drift(self) -> float:
        return self.last_p50 / self.p50

    @property
    def growth_mb(self) -> float:
        return (self.rss_after_kb - self.rss_after_warmup_kb) / 1024


# --- data ------------------------------------------------------------------------------------


async def make_operator(database_url: str, secret_key: str) -> str:
    """A platform operator and its API key, committed; returns the key."""
    load_modules()
    database = Database(database_url, keyring=Keyring([secret_key]), pool_size=1)
    try:
        async with database.transaction() as session:
            user = await users.create_user(
                session,
                email=f"operator-{uuid.uuid4().hex[:8]}@example.com",
                name="Bench Operator",
                platform_role="operator",
            )
            ctx = RequestContext(
                tenant_id=None,
                actor_type="user",
                actor_id=user.id,
                user_id=user.id,
                platform_role="operator",
            )
            key = await api_keys.create_api_key(
                session,
                ctx,
                name="bench",
                scopes=[],
                platform_role="operator",
                check_scopes=False,
            )
        return key.secret
    finally:
        await database.dispose()


def make_spec(template: dict[str, Any], number: int, run: str) -> dict[str, Any]:
    """The example with its own slug and owner e-mail."""
    body = copy.deepcopy(template)
    body["business"]["slug"] = f"ada-{run}-{number}"
    body["owner"]["email"] = f"ada-{run}-{number}@adastores.example"
    return body


async def count_rows(database_url: str) -> dict[str, int]:
    """Rows of every table in the database, by table."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda c: inspect(c).get_table_names())
            counts = {}
            for name in names:
                found = await connection.scalar(text(f'SELECT count(*) FROM "{name}"'))
                counts[name] = int(found or 0)
            return counts
    finally:
        await engine.dispose()


def rows_written(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    changed = {name: after.get(name, 0) - before.get(name, 0) for name in after}
    return dict(sorted(((n, d) for n, d in changed.items() if d), key=lambda i: (-i[1], i[0])))


# --- the server ------------------------------------------------------------------------------


def server_env(database_url: str, secret_key: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUS_")}
    env.update(
        {
            "NEXUS_DATABASE_URL": database_url,
            "NEXUS_SECRET_KEYS": secret_key,
            "NEXUS_LOG_LEVEL": "WARNING",
            "NEXUS_RUN_WORKER_IN_SERVER": "false",
            "NEXUS_PUBLIC_BASE_URL": f"http://{HOST}:{port}",
        }
    )
    return env


@contextlib.contextmanager
def nexus_server(env: dict[str, str], port: int, log: Path) -> Iterator[tuple[str, int]]:
    """`nexus serve` with one server process; yields its base URL and pid, stops it after."""
    command = [str(BIN / "nexus"), "serve", "--host", HOST, "--port", str(port)]
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
        yield f"http://{HOST}:{port}", process.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def serves_itself(pid: int, port: int) -> str:
    """Check that the process started runs the app: no child processes, and it holds the
    listening socket."""
    kids = children(pid)
    if kids:
        raise RuntimeError(f"the server {pid} has child processes {kids}: RSS would miss them")
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    listening = False
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            parts = line.split()
            if int(parts[1].split(":")[1], 16) == port and parts[3] == "0A":
                listening = parts[9] in inodes
    if not listening:
        raise RuntimeError(f"the server {pid} does not hold the socket on port {port}")
    return f"pid {pid}: no child processes, holds the listening socket"


# --- the measurement -------------------------------------------------------------------------


def activate(http: httpx.Client, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = http.post(ACTIVATE, json=body)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 201:
        raise RuntimeError(f"activation answered {response.status_code}: {response.text[:500]}")
    report: dict[str, Any] = response.json()
    return elapsed, report


def bench_engine(database_url: str, folder: Path, *, measured: int, profile: bool) -> Run:
    upgrade_database(database_url)
    secret_key = secrets.token_urlsafe(48)
    api_key = asyncio.run(make_operator(database_url, secret_key))
    template = json.loads(EXAMPLE.read_text())
    run_id = uuid.uuid4().hex[:6]
    port = free_port()
    result = Run()
    with nexus_server(server_env(database_url, secret_key, port), port, folder / "nexus.log") as (
        base,
        pid,
    ):
        result.server_note = serves_itself(pid, port)
        headers = {"Authorization": f"Bearer {api_key}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            console.print(f"  {WARMUP} warm-up activations (the last one counts its rows)")
            for number in range(WARMUP - 1):
                activate(http, make_spec(template, number, run_id))
            before = asyncio.run(count_rows(database_url))
            _, report = activate(http, make_spec(template, WARMUP - 1, run_id))
            for module in report["modules"]:
                result.modules.setdefault(module["status"], []).append(module["name"])
            result.rows = rows_written(before, asyncio.run(count_rows(database_url)))
            result.rss_after_warmup_kb = rss_kb(pid)
            console.print(f"  {measured} measured activations")
            cpu = cpu_seconds(pid)
            for number in range(WARMUP, WARMUP + measured):
                elapsed, report = activate(http, make_spec(template, number, run_id))
                result.timings_ms.append(elapsed)
                result.server_ms.append(float(report["total_ms"]))
                for timing in report["timings"]:
                    result.steps_ms.setdefault(timing["step"], []).append(float(timing["ms"]))
                done = number - WARMUP + 1
                if done % WINDOW == 0:
                    now = cpu_seconds(pid)
                    result.cpu_ms.append((now - cpu) * 1000 / WINDOW)
                    cpu = now
                    recent = statistics.median(result.timings_ms[-WINDOW:])
                    console.print(
                        f"    {done}: p50 of the last {WINDOW} {recent:.0f} ms, server CPU "
                        f"{result.cpu_ms[-1]:.1f} ms per activation"
                    )
            result.rss_after_kb = rss_kb(pid)
    console.print(f"  in-process: SQL of {PROFILED} activations" + (", cProfile" * profile))
    result.sql = asyncio.run(in_process(database_url, profile=profile))
    if result.sql.profile:
        print(result.sql.profile)  # plain: Rich would wrap pstats' columns
    return result


@dataclass(frozen=True)
class InProcess:
    """Per activation, in-process: SQL statements by kind, their wall time (ms, thread hop or
    network round trip included); and, when asked, the profile of `PROFILED` activations."""

    statements: dict[str, float]
    sql_ms: float
    profile: str | None


def _statement_kind(statement: str) -> str:
    words = statement.split()
    return words[0].upper() if words else "?"


async def in_process(database_url: str, *, profile: bool) -> InProcess:
    """Activations through the ASGI app in this process (httpx ASGITransport, no network):
    warm-ups, then `PROFILED` with every statement counted and timed, then (`profile`) the same
    number again under cProfile."""
    secret_key = secrets.token_urlsafe(48)
    api_key = await make_operator(database_url, secret_key)
    database = Database(database_url, keyring=Keyring([secret_key]), pool_size=2)
    settings = Settings(
        database_url=database_url,
        secret_keys=[secret_key],
        log_level="WARNING",
        run_worker_in_server=False,
        public_base_url="http://bench.test",
    )
    template = json.loads(EXAMPLE.read_text())
    run_id = "in" + uuid.uuid4().hex[:6]
    transport = httpx.ASGITransport(app=create_app(settings, database))
    headers = {"Authorization": f"Bearer {api_key}"}
    kinds: Counter[str] = Counter()
    spent = [0.0]

    def before(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()
        kinds[_statement_kind(statement)] += 1

    def after(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        spent[0] += time.perf_counter() - conn.info.pop("bench_started", time.perf_counter())

    def on_commit(conn: Any) -> None:
        kinds["COMMIT"] += 1

    engines = {database.engine.sync_engine, database.read_engine.sync_engine}
    profiler = cProfile.Profile()
    number = 0

    async def activate_some(http: httpx.AsyncClient, count: int) -> None:
        nonlocal number
        for _ in range(count):
            done = await http.post(ACTIVATE, json=make_spec(template, number, run_id))
            number += 1
            if done.status_code != 201:
                raise RuntimeError(f"activation answered {done.status_code}: {done.text}")

    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench.test", headers=headers
        ) as http:
            await activate_some(http, WARMUP)
            for engine in engines:
                event.listen(engine, "before_cursor_execute", before)
                event.listen(engine, "after_cursor_execute", after)
                event.listen(engine, "commit", on_commit)
            await activate_some(http, PROFILED)
            for engine in engines:
                event.remove(engine, "before_cursor_execute", before)
                event.remove(engine, "after_cursor_execute", after)
                event.remove(engine, "commit", on_commit)
            if profile:
                profiler.enable()
                await activate_some(http, PROFILED)
                profiler.disable()
    finally:
        await database.dispose()
    statements = {kind: count / PROFILED for kind, count in kinds.most_common()}
    text_out = None
    if profile:
        out = io.StringIO()
        out.write(
            f"cProfile of {PROFILED} in-process activations (event-loop thread only: SQLite's "
            "statements run on aiosqlite's thread and show as waits)\n"
        )
        stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
        out.write(f"Top {PROFILE_TOP} functions of NEXUS by cumulative time:\n")
        stats.print_stats("/nexus/", PROFILE_TOP)
        out.write(f"Top {PROFILE_TOP} functions by cumulative time:\n")
        stats.strip_dirs().sort_stats("cumulative").print_stats(PROFILE_TOP)
        out.write(f"Top {PROFILE_TOP} functions by own time:\n")
        stats.sort_stats("tottime").print_stats(PROFILE_TOP)
        text_out = out.getvalue()
    return InProcess(statements, spent[0] * 1000 / PROFILED, text_out)


# --- the report ------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"


def _verdict(passes: dict[str, bool], engines: list[str]) -> str:
    if not passes:
        return "not measured"
    missed = [e for e in engines if e in passes and not passes[e]]
    if missed:
        return "MISS (" + ", ".join(missed) + ")"
    return "pass" if len(passes) == len(engines) else "pass (" + ", ".join(passes) + ")"


def _steps(r: Run) -> str:
    medians = {step: statistics.median(ms[:WINDOW]) for step, ms in r.steps_ms.items()}
    return ", ".join(f"{step} {ms:.1f}" for step, ms in medians.items())


def _sql_cell(r: Run) -> str:
    if r.sql is None:
        return "-"
    kinds = ", ".join(f"{kind} {count:g}" for kind, count in r.sql.statements.items())
    total = sum(count for kind, count in r.sql.statements.items() if kind != "COMMIT")
    return f"{total:g} statements, {_ms(r.sql.sql_ms)} in them: {kinds}"


def _rows_cell(r: Run) -> str:
    total = sum(r.rows.values())
    return f"{total}: " + ", ".join(f"{name} {count}" for name, count in r.rows.items())


def report_rows(results: dict[str, Run | str]) -> list[Row]:
    """(metric, target, SQLite, PostgreSQL, verdict) rows. The targets bind SQLite; PostgreSQL
    is reported against the same figures (its misses are shown, not counted as the verdict's)."""

    def row(
        metric: str,
        target: str,
        show: Callable[[Run], str],
        check: Callable[[Run], bool] | None = None,
        engines: tuple[str, ...] = ENGINES,
    ) -> Row:
        cells = []
        passes: dict[str, bool] = {}
        for engine in ENGINES:
            result = results.get(engine, "not run")
            if isinstance(result, str):
                cells.append(result)
                continue
            cells.append(show(result))
            if check is not None and engine in engines:
                passes[engine] = check(result)
        verdict = _verdict(passes, list(engines)) if check else "(reference)"
        if check is not None and engines != ENGINES:
            others = [
                engine
                for engine, result in results.items()
                if engine not in engines and isinstance(result, Run) and not check(result)
            ]
            if others:
                verdict += " (reported: over on " + ", ".join(others) + ")"
        return (metric, target, cells[0], cells[1], verdict)

    first = f"first {WINDOW}"
    return [
        row(
            f"activation p50, {first}",
            f"<= {TARGET_P50_MS:.0f} ms (SQLite)",
            lambda r: _ms(r.p50),
            lambda r: r.p50 <= TARGET_P50_MS,
            ("SQLite",),
        ),
        row(
            f"activation p95, {first}",
            f"<= {TARGET_P95_MS:.0f} ms (SQLite)",
            lambda r: _ms(r.p95),
            lambda r: r.p95 <= TARGET_P95_MS,
            ("SQLite",),
        ),
        row(
            f"p50 last {WINDOW} / first {WINDOW}",
            f"<= {TARGET_DRIFT:g}x",
            lambda r: (
                f"{_ms(r.last_p50)} / {_ms(r.p50)} ({r.drift:.2f}x, "
                f"{len(r.timings_ms)} activations)"
            ),
            lambda r: r.drift <= TARGET_DRIFT,
        ),
        row(
            "server RSS growth over them",
            f"<= {TARGET_GROWTH_MB:.0f} MB",
            lambda r: (
                f"{r.growth_mb:+.1f} MB ({r.rss_after_warmup_kb / 1024:.0f} -> "
                f"{r.rss_after_kb / 1024:.0f} MB)"
            ),
            lambda r: r.growth_mb <= TARGET_GROWTH_MB,
        ),
        row(
            f"server-reported total_ms p50, first / last {WINDOW}",
            "-",
            lambda r: (
                f"{_ms(statistics.median(r.server_ms[:WINDOW]))} / "
                f"{_ms(statistics.median(r.server_ms[-WINDOW:]))}"
            ),
        ),
        row(
            f"p50 of each {WINDOW} in turn (ms)",
            "-",
            lambda r: " ".join(
                f"{statistics.median(r.timings_ms[i : i + WINDOW]):.0f}"
                for i in range(0, len(r.timings_ms) - WINDOW + 1, WINDOW)
            ),
        ),
        row(
            f"server CPU per activation, each {WINDOW} in turn (ms)",
            "-",
            lambda r: " ".join(f"{ms:.1f}" for ms in r.cpu_ms),
        ),
        row(f"server step p50 (ms), {first}", "-", _steps),
        row(
            f"activation p99 / max, {first}",
            "-",
            lambda r: f"{_ms(r.percentile(r.window('first'), 99))} / {_ms(max(r.window('first')))}",
        ),
        row("rows written per activation", "-", _rows_cell),
        row("SQL per activation (in-process)", "-", _sql_cell),
        row(
            "modules: active / not in this build",
            "-",
            lambda r: (
                ", ".join(r.modules.get("active", []))
                + " / "
                + (", ".join(r.modules.get("unavailable", [])) or "none")
            ),
        ),
        row("server process", "1 process", lambda r: r.server_note),
    ]


def _load() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def write_markdown(rows: list[Row], *, machine: str, measured: int) -> None:
    header = ("metric", "target", "SQLite", "PostgreSQL", "verdict")
    lines = [
        "# Activation benchmark",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {machine} (load average before "
        f"the run; {_load()} after it), commit {_commit()}.",
        f"`make bench`: `POST /api/v1/activate` of `examples/ecommerce-nigeria.json` (own slug "
        f"and owner e-mail each time) by a platform operator's API key, against `nexus serve` "
        f"(1 server process, no in-server worker, WARNING logs) over loopback with httpx, one "
        f"at a time: {WARMUP} warm-up activations, then {measured} measured into the same "
        f"database. Times are client-side unless marked server-reported (`total_ms`, the "
        f"engine's own clock: it excludes validation, the commit and the HTTP layer).",
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
    parser.add_argument(
        "--measured", type=int, default=MEASURED, help="measured activations (at least 200)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="print a cProfile of in-process activations"
    )
    args = parser.parse_args()
    if args.measured < 2 * WINDOW:
        parser.error(f"--measured must be at least {2 * WINDOW}")
    machine = _machine()
    console.print(machine)
    results: dict[str, Run | str] = {}
    with tempfile.TemporaryDirectory(prefix="nexus-bench-activation-") as tmp:
        folder = Path(tmp)
        if args.engine in ("sqlite", "both"):
            console.print("[bold]SQLite[/bold]: POST /api/v1/activate")
            url = f"sqlite+aiosqlite:///{folder / 'activation.db'}"
            results["SQLite"] = guarded(
                lambda: bench_engine(url, folder, measured=args.measured, profile=args.profile)
            )
        if args.engine in ("postgresql", "both"):
            console.print("[bold]PostgreSQL[/bold]: POST /api/v1/activate")

            def on_postgres() -> Run:
                with postgres_database() as url:
                    return bench_engine(url, folder, measured=args.measured, profile=args.profile)

            results["PostgreSQL"] = guarded(on_postgres)
    rows = report_rows(results)
    print_table(rows, title="NEXUS activation")
    write_markdown(rows, machine=machine, measured=args.measured)
    console.print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
