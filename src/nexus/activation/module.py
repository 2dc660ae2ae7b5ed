"""Activation: a business described once comes to life in one call. A platform module (no
tenant enables it); it runs every other module's provisioner."""

from __future__ import annotations

from nexus.activation.endpoints import router
from nexus.core.registry import Module

module = Module(
    name="activation",
    title="Activation",
    depends_on=("identity",),
    router=router,
)
