"""The module registry: what each module contributes, found at run time by name.

`nexus.modules` fills it at start-up by importing every `<module>/module.py`. Lower layers find
what higher ones offer here (provisioners, handlers, hooks) and never import upward for it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from nexus.core.context import RequestContext

#: `handler(session, ctx, payload)`; runs in the job's transaction.
JobHandler = Callable[["AsyncSession", "RequestContext", dict[str, Any]], Awaitable[None]]
#: `handler(session, ctx, event)`, where `event` is the outbox envelope as a dict.
EventHandler = Callable[["AsyncSession", "RequestContext", dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Permission:
    name: str
    description: str


@dataclass(frozen=True)
class PeriodicJob:
    """A job that runs once every `every_seconds`, across all workers together."""

    job: str
    every_seconds: int


@dataclass(frozen=True)
class NavEntry:
    """A console navigation entry a module contributes; shown when its module is enabled for
    the tenant and the caller holds `permission` (None: any member)."""

    label: str
    path: str
    permission: str | None = None
    order: int = 100
    #: "tenant" (a business's pages) or "platform" (operators' pages).
    area: str = "tenant"


@dataclass
class Module:
    """What a module is and what it brings. Declared in the module's `module.py`."""

    name: str
    title: str
    depends_on: tuple[str, ...] = ()
    #: Always on for every tenant (identity); otherwise a tenant enables it.
    always_enabled: bool = False
    router: Any = None
    #: The module's console pages (an APIRouter of console routes), mounted outside the API.
    console_router: Any = None
    nav: tuple[NavEntry, ...] = ()
    permissions: tuple[Permission, ...] = ()
    provision: Callable[..., Awaitable[Any]] | None = None
    jobs: dict[str, JobHandler] = field(default_factory=dict)
    periodic_jobs: tuple[PeriodicJob, ...] = ()
    #: event type → handlers; each handler runs as its own job, keyed by its qualified name.
    event_handlers: dict[str, tuple[EventHandler, ...]] = field(default_factory=dict)


class Registry:
    def __init__(self) -> None:
        self.modules: dict[str, Module] = {}
        self.hooks: dict[str, Any] = {}

    def register(self, module: Module) -> None:
        if module.name in self.modules:
            raise ValueError(f"module {module.name!r} registered twice")
        for dependency in module.depends_on:
            if dependency not in self.modules:
                raise ValueError(f"{module.name} depends on {dependency}, not registered before it")
        self.modules[module.name] = module

    def provide(self, hook: str, implementation: Any) -> None:
        self.hooks[hook] = implementation

    def hook(self, name: str) -> Any:
        try:
            return self.hooks[name]
        except KeyError:
            raise LookupError(f"no implementation registered for hook {name!r}") from None

    def always_enabled(self) -> frozenset[str]:
        return frozenset(name for name, module in self.modules.items() if module.always_enabled)

    def permissions(self) -> list[Permission]:
        return [p for module in self.modules.values() for p in module.permissions]

    def permission_names(self) -> frozenset[str]:
        return frozenset(p.name for p in self.permissions())

    def job_handler(self, name: str) -> JobHandler | None:
        for module in self.modules.values():
            if name in module.jobs:
                return module.jobs[name]
        return None

    def event_handlers(self, event_type: str) -> list[tuple[str, EventHandler]]:
        """`(qualified handler name, handler)` pairs subscribed to `event_type`."""
        found = []
        for module in self.modules.values():
            for handler in module.event_handlers.get(event_type, ()):
                found.append((f"{handler.__module__}.{handler.__qualname__}", handler))
        return found

    def handler_by_name(self, event_type: str, qualified_name: str) -> EventHandler | None:
        return dict(self.event_handlers(event_type)).get(qualified_name)

    def periodic_jobs(self) -> list[PeriodicJob]:
        return [job for module in self.modules.values() for job in module.periodic_jobs]


registry = Registry()
