"""`nexus serve` with one more module whose activation step announces itself (touches the file
named by NEXUS_TEST_STEP_STARTED) and then waits: a test kills the server in that wait, in the
middle of an activation's transaction."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from nexus import cli
from nexus.core.registry import Module, registry
from nexus.modules import load_modules


async def _slow_step(session: Any, ctx: Any, section: dict[str, Any]) -> dict[str, int]:
    Path(os.environ["NEXUS_TEST_STEP_STARTED"]).touch()
    await asyncio.sleep(120)
    return {}


if __name__ == "__main__":
    load_modules()
    registry.register(
        Module(name="slowstep", title="Slow step", depends_on=("identity",), provision=_slow_step)
    )
    cli.app()
