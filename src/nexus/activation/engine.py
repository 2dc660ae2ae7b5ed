"""The activation engine: a resolved spec becomes a live business in one transaction.

validate (the spec model) → resolve (defaults, the preset) → plan → run: the tenant and its
owner, the integrations, then each enabled module's `provision(session, ctx, section)` in
dependency order (the order of the registry) → one commit by the caller → report.

The engine knows no module: it finds each module's provisioner in the registry, so a module
added later plugs in by declaring `provision=` in its `module.py` and a section in
`nexus.activation.sections`. Every step runs as the new business's owner and leaves audit
rows like any other work; nothing is committed here (the request, or the CLI command, commits
once at the end, so a failure anywhere leaves no trace).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.activation.report import (
    ActivationReport,
    ModuleOutcome,
    OwnerOutcome,
    Plan,
    PlannedModule,
    PlannedOwner,
    StepTiming,
)
from nexus.activation.resolve import ResolvedSpec
from nexus.activation.spec import ActivationSpec
from nexus.core.context import RequestContext
from nexus.core.db import database_of
from nexus.core.integrations import put_integration
from nexus.core.registry import registry
from nexus.identity.service import onboarding, users

#: Integrations by the category of module that will use them.
CATEGORIES = {
    "paystack": "payments",
    "flutterwave": "payments",
    "stripe": "payments",
    "whatsapp": "messaging",
    "sms": "messaging",
    "email": "messaging",
}
#: Registry modules that are not business modules a tenant enables.
_NOT_TENANT_MODULES = frozenset({"core", "console", "activation"})

StepListener = Callable[[str], None]


# --- the plan --------------------------------------------------------------------------------


def planned_modules(resolved: ResolvedSpec) -> list[PlannedModule]:
    """Every module the business gets, in dependency order; those this build lacks last."""
    if "identity" not in registry.modules:
        raise RuntimeError("modules are not loaded: call nexus.modules.load_modules() first")
    wanted = set(resolved.modules)
    source = resolved.origins.get("modules", "spec")
    sections = resolved.settings.model_dump(mode="json", exclude_none=True)
    planned = []
    for name, module in registry.modules.items():
        if name in _NOT_TENANT_MODULES:
            continue
        if module.always_enabled or name in wanted:
            planned.append(
                PlannedModule(
                    name=name,
                    status="active",
                    source="always" if module.always_enabled else source,
                    section=sections.get(name),
                )
            )
    for name in resolved.modules:
        if name not in registry.modules or name in _NOT_TENANT_MODULES:
            planned.append(PlannedModule(name=name, status="unavailable", source=source))
    return planned


def configured_integrations(spec: ActivationSpec) -> list[str]:
    return [name for name in CATEGORIES if getattr(spec.integrations, name) is not None]


async def plan(session: AsyncSession, resolved: ResolvedSpec) -> Plan:
    """What `activate` would do; reads whether the owner exists, writes nothing."""
    spec = resolved.spec
    existing = await users.find_user_by_email(session, str(spec.owner.email)) is not None
    warnings = list(resolved.warnings) + _warnings(resolved)
    return Plan(
        name=spec.business.name,
        slug=resolved.slug,
        industry=spec.business.industry.value,
        preset=resolved.preset.name,
        country=spec.country,
        currency=resolved.currency,
        timezone=resolved.timezone,
        languages=list(spec.languages),
        owner=PlannedOwner(
            email=str(spec.owner.email), name=spec.owner.name, existing_user=existing
        ),
        modules=planned_modules(resolved),
        locations=len(spec.locations),
        integrations=configured_integrations(spec),
        origins=dict(resolved.origins),
        warnings=warnings,
    )


def _warnings(resolved: ResolvedSpec) -> list[str]:
    spec = resolved.spec
    found = [
        f"The module {name!r} is not in this build; it was not enabled"
        for name in resolved.modules
        if name not in registry.modules
    ]
    if spec.deployment.mode.value == "dedicated":
        found.append(
            "A dedicated deployment is arranged by the operator; until then the business runs"
            " on this shared NEXUS"
        )
    if spec.seed:
        found.append("No module of this build offers sample data yet; nothing was seeded")
    return found


# --- running it ------------------------------------------------------------------------------


class _Clock:
    def __init__(self, listener: StepListener | None) -> None:
        self.timings: list[StepTiming] = []
        self.listener = listener
        self.started = time.perf_counter()

    def step(self, name: str) -> _Timed:
        if self.listener is not None:
            self.listener(name)
        return _Timed(self, name)

    def total_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 2)


class _Timed:
    def __init__(self, clock: _Clock, name: str) -> None:
        self.clock, self.name = clock, name

    def __enter__(self) -> None:
        self.began = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        elapsed = round((time.perf_counter() - self.began) * 1000, 2)
        self.clock.timings.append(StepTiming(step=self.name, ms=elapsed))


def step_names(resolved: ResolvedSpec) -> list[str]:
    """The steps `activate` runs, in order (for progress bars)."""
    modules = [m.name for m in planned_modules(resolved) if m.status == "active"]
    return ["tenant", "integrations", *modules]


async def activate(
    session: AsyncSession,
    actor: RequestContext,
    resolved: ResolvedSpec,
    *,
    public_base_url: str,
    trusted: bool,
    on_step: StepListener | None = None,
) -> ActivationReport:
    """Bring the business to life in the session's transaction (the caller commits)."""
    spec = resolved.spec
    clock = _Clock(on_step)
    planned = planned_modules(resolved)
    active = [m for m in planned if m.status == "active"]
    with clock.step("tenant"):
        established = await onboarding.establish_business(
            session,
            actor,
            name=spec.business.name,
            slug=resolved.slug,
            country=spec.country,
            currency=resolved.currency,
            timezone=resolved.timezone,
            owner_email=str(spec.owner.email),
            owner_name=spec.owner.name,
            owner_password=(
                spec.owner.password.get_secret_value() if spec.owner.password else None
            ),
            public_base_url=public_base_url,
            trusted=trusted,
            modules=[m.name for m in active if not registry.modules[m.name].always_enabled],
            profile=_profile(resolved),
        )
    owner_ctx = established.owner_context(actor.request_id)
    with clock.step("integrations"):
        configured = await _integrations(session, owner_ctx, spec)
    outcomes = []
    for planned_module in planned:
        if planned_module.status != "active":
            outcomes.append(ModuleOutcome(name=planned_module.name, status="unavailable"))
            continue
        created: dict[str, int] = {}
        with clock.step(planned_module.name):
            provision = registry.modules[planned_module.name].provision
            section = dict(planned_module.section or {})
            if planned_module.name == "identity":
                section["branches"] = _branches(spec)
            if provision is not None:
                created = dict(await provision(session, owner_ctx, section))
        if planned_module.name == "identity":
            created["integrations"] = configured
        outcomes.append(ModuleOutcome(name=planned_module.name, status="active", created=created))
    return ActivationReport(
        tenant_id=established.tenant.id,
        slug=established.tenant.slug,
        name=established.tenant.name,
        owner=OwnerOutcome(
            email=established.owner.email,
            invited=established.invited,
            setup_url=established.setup_url,
            api_key=established.api_key,
        ),
        modules=outcomes,
        timings=clock.timings,
        total_ms=clock.total_ms(),
        warnings=list(resolved.warnings) + _warnings(resolved),
        console_url=f"{public_base_url}/sign-in",
    )


def _profile(resolved: ResolvedSpec) -> dict[str, Any]:
    spec = resolved.spec
    headquarters = next((loc for loc in spec.locations if loc.is_headquarters), None)
    return {
        "legal_name": spec.business.legal_name,
        "industry": spec.business.industry.value,
        "address": _address(headquarters.address, spec.country) if headquarters else None,
        "business_profile": {
            "description": spec.business.description,
            "size": spec.business.size.value if spec.business.size else None,
            "languages": list(spec.languages),
            "compliance": spec.compliance.model_dump(mode="json"),
            "deployment": spec.deployment.model_dump(mode="json"),
            "sensitive_fields": list(resolved.preset.sensitive_fields),
        },
    }


def _address(address: BaseModel, country: str) -> dict[str, Any]:
    values = address.model_dump(mode="json", exclude_none=True)
    values.setdefault("country", country)
    return values


def _branches(spec: ActivationSpec) -> list[dict[str, Any]]:
    return [
        {
            "name": location.name,
            "code": location.code,
            "address": _address(location.address, spec.country),
            "phone": location.phone,
            "is_headquarters": location.is_headquarters,
        }
        for location in spec.locations
    ]


async def _integrations(session: AsyncSession, ctx: RequestContext, spec: ActivationSpec) -> int:
    """Each configured integration in the core integration settings, secrets encrypted. An
    `env:NAME` reference is stored as written: the module that uses it reads the variable."""
    keyring = database_of(session).keyring
    count = 0
    for name, category in CATEGORIES.items():
        settings: BaseModel | None = getattr(spec.integrations, name)
        if settings is None:
            continue
        secrets: dict[str, str] = {}
        options: dict[str, Any] = {}
        for field in type(settings).model_fields:
            value = getattr(settings, field)
            if value is None:
                continue
            if isinstance(value, SecretStr):
                secrets[field] = value.get_secret_value()
            else:
                options[field] = getattr(value, "value", value)
        provider = str(options.pop("provider")) if name == "sms" else name
        await put_integration(
            session,
            ctx,
            keyring,
            provider=provider,
            category=category,
            options={k: str(v) if not isinstance(v, int | bool) else v for k, v in options.items()},
            secrets=secrets,
        )
        count += 1
    return count
