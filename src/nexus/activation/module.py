"""Activation: a business described once comes to life in one call. A platform module (no
tenant enables it); it runs every other module's provisioner. Its console page, "Start a
business", is for platform operators and, while open sign-up is on, anyone."""

from __future__ import annotations

from nexus.activation.console import router as console_router
from nexus.activation.endpoints import router
from nexus.core.registry import Module, NavEntry

module = Module(
    name="activation",
    title="Activation",
    depends_on=("identity",),
    router=router,
    console_router=console_router,
    nav=(NavEntry("Start a business", "/start", None, area="platform"),),
)
