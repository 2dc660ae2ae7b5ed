"""The compiled-statement cache's identity front: a statement built once is found by the
identity of its cache key, a statement built anew still by its value, and both run right."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select

from nexus.core.db import Database
from nexus.core.statement_cache import FrontedCache
from nexus.identity.models import Tenant


def _cache(database: Database) -> FrontedCache:
    cache = database.engine.sync_engine._compiled_cache
    assert isinstance(cache, FrontedCache)
    return cache


def _by_slug() -> Any:
    return select(Tenant.slug).where(Tenant.slug == bindparam("slug"))


async def _run(database: Database, statement: Any, slug: str) -> list[str]:
    async with database.engine.connect() as connection:
        return list((await connection.execute(statement, {"slug": slug})).scalars())


async def test_a_statement_built_once_is_found_by_identity_and_runs_with_its_parameters(
    database: Database,
) -> None:
    cache = _cache(database)
    statement = _by_slug()
    assert await _run(database, statement, "no-such-business") == []
    held = [
        entry for entry in cache._front.values() if entry[0] is statement._generate_cache_key().key
    ]
    assert len(held) == 1
    compiled = held[0][1]

    assert await _run(database, statement, "another-missing-one") == []
    again = [entry for entry in cache._front.values() if entry[1] is compiled]
    assert len(again) == 1  # the same compiled statement, not a second entry


async def test_an_equal_statement_built_anew_gets_the_same_compiled_form(
    database: Database,
) -> None:
    cache = _cache(database)
    first, second = _by_slug(), _by_slug()
    assert first._generate_cache_key().key is not second._generate_cache_key().key
    await _run(database, first, "x")
    await _run(database, second, "y")

    compiled = {
        id(entry[1])
        for entry in cache._front.values()
        if entry[0] in (first._generate_cache_key().key, second._generate_cache_key().key)
    }
    assert len(compiled) == 1


def test_the_front_empties_when_full_and_the_cache_still_answers() -> None:
    cache = FrontedCache(2)
    keys = [("dialect", (f"statement {n}",), (), False, False) for n in range(3)]
    for n, key in enumerate(keys):
        cache[key] = f"compiled {n}"
    assert len(cache._front) == 1  # emptied on the third
    assert cache.get(keys[2]) == "compiled 2"
    # The first two may have left SQLAlchemy's LRU too; what is there is right.
    assert cache.get(keys[1]) in ("compiled 1", None)
    assert cache.get(("dialect", ("statement 2",), (), False, False)) == "compiled 2"


def test_a_key_of_another_shape_goes_to_the_cache_alone() -> None:
    cache = FrontedCache(10)
    cache["plain"] = "value"
    assert cache.get("plain") == "value"
    assert cache.get("missing", "default") == "default"
    assert cache._front == {}
    cache.clear()
    assert cache.get("plain") is None
