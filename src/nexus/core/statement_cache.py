"""SQLAlchemy's compiled-statement cache, with a front that finds a statement built once by
the identity of its cache key.

Every run of a statement looks its compiled form up in the engine's cache under
`(dialect, cache key, column keys, schema map?, executemany?)`. A statement object keeps its
cache key once made, but the lookup still hashes that whole nested tuple again each time
(Python does not keep a tuple's hash): about 4 µs for a contact read of about 760 parts, more
for a join. NEXUS's hot statements are module constants, so their cache key is the very same
tuple on every run; the front finds those by `id()` and an `is` check, in a fraction of a
microsecond.

The front holds the cache key it matched (so its id cannot be reused while it is there) and
is emptied when it grows past the engine cache's size; statements built per request just
come and go through the cache SQLAlchemy has always used. A compiled statement depends only
on its key, so whichever table finds it, it is the right one."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import LRUCache

#: What SQLAlchemy's key looks like: (dialect, cache key tuple, column keys, bool, bool).
_KEY_PARTS = 5


class FrontedCache(LRUCache[Any, Any]):
    """An `LRUCache` (what the engine makes by default) with the identity front."""

    def __init__(self, capacity: int, size_alert: Any = None) -> None:
        super().__init__(capacity, size_alert=size_alert)
        self._front: dict[tuple[Any, ...], tuple[Any, Any]] = {}
        self._front_capacity = capacity

    @staticmethod
    def _front_key(key: Any) -> tuple[Any, ...] | None:
        if type(key) is not tuple or len(key) != _KEY_PARTS:
            return None
        return (id(key[1]), key[0], key[2], key[3], key[4])

    def _remember(self, front_key: tuple[Any, ...], key: Any, compiled: Any) -> None:
        if len(self._front) >= self._front_capacity:
            self._front.clear()
        self._front[front_key] = (key[1], compiled)

    def get(self, key: Any, default: Any = None) -> Any:
        front_key = self._front_key(key)
        if front_key is not None:
            held = self._front.get(front_key)
            if held is not None and held[0] is key[1]:
                return held[1]
        found = super().get(key, default)
        if front_key is not None and found is not default and found is not None:
            self._remember(front_key, key, found)
        return found

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        front_key = self._front_key(key)
        if front_key is not None:
            self._remember(front_key, key, value)

    def clear(self) -> None:
        super().clear()
        self._front.clear()


def install(engine: AsyncEngine) -> None:
    """Give `engine` the fronted cache, the same size as the one it was made with."""
    sync = engine.sync_engine
    made = sync._compiled_cache
    if isinstance(made, LRUCache) and not isinstance(made, FrontedCache):
        sync._compiled_cache = FrontedCache(made.capacity, size_alert=sync._lru_size_alert)
