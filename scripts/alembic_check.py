#!/usr/bin/env python3
"""`alembic check` on a fresh SQLite and a fresh PostgreSQL database: the models and the
migrations describe the same schema."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config

from nexus.cli import migrations_dir, upgrade_database


def check(url: str) -> None:
    upgrade_database(url)
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["database_url"] = url
    command.check(config)


async def _postgres(base: str, statement: str) -> None:
    connection = await asyncpg.connect(base.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        check(f"sqlite+aiosqlite:///{Path(folder) / 'check.db'}")
        print("SQLite: migrations match the models")
    base = os.environ["NEXUS_TEST_POSTGRES_URL"]
    name = f"nexus_check_{uuid.uuid4().hex[:8]}"
    asyncio.run(_postgres(base, f'CREATE DATABASE "{name}"'))
    try:
        check(base.rsplit("/", 1)[0] + f"/{name}")
        print("PostgreSQL: migrations match the models")
    finally:
        asyncio.run(_postgres(base, f'DROP DATABASE "{name}" WITH (FORCE)'))
    return 0


if __name__ == "__main__":
    sys.exit(main())
