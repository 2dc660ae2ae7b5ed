"""Fills the core registry: imports every module's `module.py`, in dependency order."""

from __future__ import annotations

from nexus.core.registry import registry

_loaded = False


def load_modules() -> None:
    """Idempotent: safe to call from the app factory, the CLI, the worker and tests."""
    global _loaded
    if _loaded:
        return
    from nexus.activation import module as activation_module
    from nexus.console import module as console_module
    from nexus.core import module as core_module
    from nexus.crm import module as crm_module
    from nexus.identity import module as identity_module

    registry.register(core_module.module)
    registry.register(identity_module.module)
    registry.register(console_module.module)
    registry.register(crm_module.module)
    registry.register(activation_module.module)
    for name, implementation in identity_module.hooks.items():
        registry.provide(name, implementation)
    _loaded = True


def all_models() -> None:
    """Import every model so `Base.metadata` is complete (Alembic, tests)."""
    import nexus.core.audit
    import nexus.core.events
    import nexus.core.idempotency
    import nexus.core.integrations
    import nexus.core.jobs
    import nexus.core.ratelimit
    import nexus.crm.models
    import nexus.identity.models  # noqa: F401
