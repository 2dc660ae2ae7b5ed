"""Console pages: audit (being built)."""

from __future__ import annotations

from nexus.console.pages.common import new_router

router = new_router()
