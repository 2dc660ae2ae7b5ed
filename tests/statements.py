"""The SQL statements a block of a test sends, for tests that hold a request to a fixed number
of queries or check what it writes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from nexus.core.db import Database


@contextmanager
def counting(database: Database) -> Iterator[list[str]]:
    """The SQL statements run inside the block (on the read and write engines)."""
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engines = {id(e.sync_engine): e.sync_engine for e in (database.engine, database.read_engine)}
    for engine in engines.values():
        event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        for engine in engines.values():
            event.remove(engine, "before_cursor_execute", count)
