"""What every benchmark prints: the table of figures against targets, and each engine's run
guarded so that one engine failing still reports the other."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import TypeVar

import httpx
from rich.console import Console
from rich.table import Table

#: metric, target, SQLite, PostgreSQL, verdict
Row = tuple[str, str, str, str, str]
T = TypeVar("T")

console = Console()


def print_table(rows: list[Row], *, title: str) -> None:
    table = Table("metric", "target", "SQLite", "PostgreSQL", "verdict", title=title)
    for row in rows:
        table.add_row(*row, style="red" if row[4].startswith("MISS") else None)
    console.print(table)


def guarded(run: Callable[[], T]) -> T | str:
    """One engine's figures, or why there are none (the other engine still runs)."""
    try:
        return run()
    except (RuntimeError, OSError, subprocess.SubprocessError, httpx.HTTPError) as error:
        console.print(f"[red]failed:[/red] {error}")
        return "failed (see output)"
