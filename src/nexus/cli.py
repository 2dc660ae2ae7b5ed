"""The `nexus` command."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Column, Table

from nexus.core.settings import Settings, get_settings

app = typer.Typer(help="NEXUS, the business operating system.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
operator_app = typer.Typer(help="Platform operators.", no_args_is_help=True)
tenants_app = typer.Typer(help="Tenants (businesses).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(operator_app, name="operator")
app.add_typer(tenants_app, name="tenants")
# Soft wrap: links and keys stay on one line whatever the terminal's width, so they copy whole.
console = Console(soft_wrap=True)


def migrations_dir() -> Path:
    configured = os.environ.get("NEXUS_MIGRATIONS_DIR")
    if configured:
        return Path(configured)
    packaged = Path(__file__).parent / "_migrations"
    return packaged if packaged.exists() else Path(__file__).resolve().parents[2] / "migrations"


def upgrade_database(database_url: str) -> None:
    """Apply every pending migration (Alembic `upgrade head`)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["database_url"] = database_url
    command.upgrade(config, "head")


def _dev_environment(dev: bool, host: str | None, port: int | None) -> Settings:
    if dev:
        os.environ.setdefault("NEXUS_DEV", "true")
        os.environ.setdefault("NEXUS_OPEN_SIGNUP", "true")
        os.environ.setdefault("NEXUS_LOG_FORMAT", "console")
    if host:
        os.environ["NEXUS_HOST"] = host
    if port:
        os.environ["NEXUS_PORT"] = str(port)
    get_settings.cache_clear()
    settings = get_settings()
    # Worker processes of uvicorn re-read the environment: hand them the same keys.
    os.environ["NEXUS_SECRET_KEYS"] = ",".join(settings.secret_keys)
    return settings


@app.command()
def serve(
    dev: Annotated[
        bool, typer.Option(help="Dev mode: local key, open sign-up, mail to log")
    ] = False,
    host: Annotated[str | None, typer.Option(help="Address to bind [NEXUS_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [NEXUS_PORT]")] = None,
    workers: Annotated[int, typer.Option(help="Server processes")] = 1,
) -> None:
    """Run the API (and, unless NEXUS_RUN_WORKER_IN_SERVER=false, the worker) after migrating."""
    import uvicorn

    settings = _dev_environment(dev, host, port)
    upgrade_database(settings.database_url)
    base = settings.public_base_url
    console.print(f"NEXUS is starting on {base}")
    console.print(f"  console:   {base}/   (sign in at {base}/sign-in)")
    console.print(f"  API docs:  {base}/docs   (OpenAPI: {base}/openapi.json)")
    console.print(
        "  try it:    .venv/bin/nexus tenants create --name 'Chika Ventures' "
        "--owner-email chika@example.com\n"
        "             open the printed password-setup link, choose a password, sign in;\n"
        "             or: curl -H 'Authorization: Bearer <the printed nxk_ key>' "
        f"{base}/api/v1/me"
    )
    uvicorn.run(
        "nexus.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_config=None,
        access_log=False,
    )


@app.command()
def worker() -> None:
    """Run a background worker (several may run against one database)."""
    from nexus.core.db import Database
    from nexus.core.observability import configure_logging
    from nexus.core.security import Keyring
    from nexus.core.worker import Worker
    from nexus.modules import load_modules

    settings = get_settings()
    load_modules()
    configure_logging(settings.log_format, settings.log_level)

    async def main() -> None:
        database = Database(settings.database_url, keyring=Keyring(settings.secret_keys))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await Worker(database, settings).run(stop)
        finally:
            await database.dispose()

    asyncio.run(main())


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations to NEXUS_DATABASE_URL."""
    upgrade_database(Settings().database_url)
    console.print("database is up to date")


def _run(coroutine: Any) -> Any:
    """Run a command's coroutine; a refusal (slug taken, already an operator) is a one-line
    error and exit status 1, not a traceback."""
    from nexus.core.errors import NexusError

    try:
        return asyncio.run(coroutine)
    except NexusError as error:
        errors = Console(stderr=True, soft_wrap=True)
        if len(error.errors) > 1:
            errors.print(f"error: {error.title}", markup=False, highlight=False)
            for item in error.errors:
                errors.print(f"  {item.field}: {item.reason}", markup=False, highlight=False)
        else:
            message = f"error: {error.detail or error.title}"
            errors.print(message, markup=False, highlight=False)
        raise typer.Exit(1) from None


@operator_app.command("create")
def operator_create(
    email: Annotated[str, typer.Option(help="The operator's e-mail")],
    name: Annotated[str, typer.Option(help="Display name")] = "",
) -> None:
    """Make a platform operator; print a one-time password-setup link and an operator API key."""
    from nexus.identity.service import operators

    settings = get_settings()
    upgrade_database(settings.database_url)
    result = _run(operators.create_operator_command(settings, email=email, name=name))
    console.print(f"operator {result.email} created")
    console.print(f"set a password (one time, 7 days): {result.setup_url}")
    console.print(f"operator API key (shown once): {result.api_key}")


@tenants_app.command("list")
def tenants_list(
    search: Annotated[str | None, typer.Option(help="Filter by name or slug")] = None,
) -> None:
    """List tenants."""
    from nexus.identity.service import operators

    settings = get_settings()
    rows = _run(operators.list_tenants_command(settings, search=search))
    # The slug is what other commands take: never cut it short, however narrow the terminal.
    slug_column = Column("slug", no_wrap=True, min_width=max([4, *(len(r.slug) for r in rows)]))
    table = Table(slug_column, "name", "country", "currency", "status", "members", "created")
    for row in rows:
        table.add_row(
            row.slug,
            row.name,
            row.country,
            row.currency,
            row.status,
            str(row.members),
            row.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@tenants_app.command("create")
def tenants_create(
    name: Annotated[str, typer.Option(help="Business name")],
    owner_email: Annotated[str, typer.Option(help="Owner's e-mail")],
    slug: Annotated[str | None, typer.Option(help="URL name (default: from the name)")] = None,
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2")] = "NG",
    currency: Annotated[str, typer.Option(help="ISO 4217")] = "NGN",
    timezone: Annotated[str, typer.Option(help="IANA time zone")] = "Africa/Lagos",
    owner_name: Annotated[str, typer.Option(help="Owner's name")] = "",
) -> None:
    """Create a tenant and its owner; print the owner's password-setup link and API key."""
    from nexus.identity.service import operators

    settings = get_settings()
    upgrade_database(settings.database_url)
    result = _run(
        operators.create_tenant_command(
            settings,
            name=name,
            slug=slug,
            country=country,
            currency=currency,
            timezone=timezone,
            owner_email=owner_email,
            owner_name=owner_name,
        )
    )
    console.print(f"tenant {result.slug} created ({result.tenant_id})")
    if result.setup_url:
        console.print(f"owner password setup (one time): {result.setup_url}")
    else:
        console.print(f"{owner_email} already had an account and was added as owner")
    console.print(f"owner API key (shown once): {result.api_key}")


@app.command()
def activate(
    spec_file: Annotated[
        Path | None, typer.Argument(help="The business's activation spec (JSON)")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Show the plan; write nothing")] = False,
    prompt: Annotated[
        str | None,
        typer.Option(help="Draft a spec from one sentence instead (prints it; writes nothing)"),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="With --prompt: save the draft spec here")
    ] = None,
) -> None:
    """Bring a business to life from its spec (examples/*.json), in one transaction."""
    if prompt is not None:
        _print_draft(prompt, out)
        return
    if spec_file is None:
        raise typer.BadParameter("give a spec file, or --prompt")
    try:
        data = json.loads(spec_file.read_text())
    except (OSError, ValueError) as error:
        Console(stderr=True).print(f"error: cannot read {spec_file}: {error}", markup=False)
        raise typer.Exit(1) from None
    from nexus.modules import load_modules

    load_modules()
    settings = get_settings()
    upgrade_database(settings.database_url)
    _activate(settings, data, dry_run)


def _activate(settings: Settings, data: Any, dry_run: bool) -> None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from nexus.activation.command import activate_command
    from nexus.activation.report import ActivationReport

    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    )
    task = progress.add_task("validating", total=None)

    def on_start(steps: list[str]) -> None:
        progress.update(task, total=len(steps) or 1, completed=0, description="starting")

    def on_step(step: str) -> None:
        current = progress.tasks[0].completed
        progress.update(task, completed=current + 1, description=step)

    with progress:
        result = _run(
            activate_command(settings, data, dry_run=dry_run, on_start=on_start, on_step=on_step)
        )
        progress.update(task, completed=progress.tasks[0].total, description="done")
    if isinstance(result, ActivationReport):
        _print_report(result)
    else:
        console.print_json(result.model_dump_json())


def _print_report(report: Any) -> None:
    console.print(
        f"{report.name} is live: {report.slug} ({report.tenant_id}) in {report.total_ms} ms"
    )
    table = Table("module", "status", "created", Column("ms", justify="right"))
    timings = {t.step: t.ms for t in report.timings}
    for module in report.modules:
        created = ", ".join(f"{k} {v}" for k, v in module.created.items()) or "-"
        ms = timings.get(module.name)
        table.add_row(module.name, module.status, created, f"{ms:.1f}" if ms is not None else "-")
    console.print(table)
    for warning in report.warnings:
        console.print(f"warning: {warning}", markup=False)
    owner = report.owner
    if owner.invited:
        console.print(f"{owner.email} already had an account: invited by e-mail")
    if owner.setup_url:
        console.print(f"owner password setup (one time): {owner.setup_url}")
    if owner.api_key:
        console.print(f"owner API key (shown once): {owner.api_key}")
    console.print(f"console: {report.console_url}")


def _print_draft(prompt: str, out: Path | None) -> None:
    from nexus.activation.command import draft_command

    try:
        draft = asyncio.run(draft_command(prompt))
    except ValueError as error:
        Console(stderr=True).print(f"error: {error}", markup=False)
        raise typer.Exit(1) from None
    text = json.dumps(draft.spec, indent=2, ensure_ascii=False)
    console.print_json(text)
    for note in draft.notes:
        console.print(f"note: {note}", markup=False)
    for item in draft.undecided:
        console.print(f"undecided: {item.field}: {item.reason}", markup=False)
    if out is not None:
        out.write_text(text + "\n")
        console.print(
            f"draft written to {out}; fill the undecided fields, then: nexus activate {out}"
        )
