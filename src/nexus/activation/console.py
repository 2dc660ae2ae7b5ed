"""The console's "Start a business" pages: type a sentence or fill a short form, review the
draft, check the plan, activate, and land in the new business.

Who may start one is decided as for `POST /api/v1/activate`: a signed-in platform operator
(trusted), or anyone while open sign-up is on (rate-limited per address when activating).
The form's fields are named like the spec's JSON paths (`business.name`, `owner.email`,
`locations.0.address.line1`), so the spec's validation errors land next to their fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from nexus.activation import service
from nexus.activation.draft import MAX_DRAFTED_LOCATIONS, MAX_PROMPT_CHARS, Draft, get_drafter
from nexus.activation.industries import Industry
from nexus.activation.report import ActivationReport, Plan
from nexus.console import security, shell
from nexus.console.pages.common import Session, new_router
from nexus.console.shell import (
    Form,
    current_caller,
    flash,
    form_with_error,
    gettext,
    read_form,
    redirect,
    render,
    settings_of,
    sign_in_url,
)
from nexus.core.context import RequestContext
from nexus.core.errors import NexusError, ValidationFailed
from nexus.core.http import Requirement, client_address
from nexus.identity.service import credentials, users

shell.add_templates(Path(__file__).parent / "templates")

router = new_router()


def _(message: str) -> str:
    """Marks a message for extraction; it is translated where it is drawn."""
    return message


INDUSTRY_LABELS: dict[Industry, str] = {
    Industry.ECOMMERCE: _("Online store"),
    Industry.RETAIL: _("Retail"),
    Industry.WHOLESALE: _("Wholesale"),
    Industry.FASHION: _("Fashion"),
    Industry.PHARMACY: _("Pharmacy"),
    Industry.CLINIC: _("Clinic"),
    Industry.HOSPITAL: _("Hospital"),
    Industry.DENTAL: _("Dental practice"),
    Industry.LABORATORY: _("Laboratory"),
    Industry.RESTAURANT: _("Restaurant"),
    Industry.CAFE: _("Café"),
    Industry.BAKERY: _("Bakery"),
    Industry.CATERING: _("Catering"),
    Industry.HOTEL: _("Hotel"),
    Industry.TRAVEL: _("Travel"),
    Industry.EVENTS: _("Events"),
    Industry.SCHOOL: _("School"),
    Industry.UNIVERSITY: _("University"),
    Industry.TRAINING: _("Training"),
    Industry.PROFESSIONAL_SERVICES: _("Professional services"),
    Industry.LEGAL: _("Legal"),
    Industry.ACCOUNTING: _("Accounting"),
    Industry.IT_SERVICES: _("IT services"),
    Industry.MEDIA: _("Media"),
    Industry.FINTECH: _("Fintech"),
    Industry.INSURANCE: _("Insurance"),
    Industry.REAL_ESTATE: _("Real estate"),
    Industry.CONSTRUCTION: _("Construction"),
    Industry.LOGISTICS: _("Logistics"),
    Industry.CLEANING: _("Cleaning"),
    Industry.SECURITY: _("Security"),
    Industry.AUTOMOTIVE: _("Automotive"),
    Industry.MANUFACTURING: _("Manufacturing"),
    Industry.AGRICULTURE: _("Agriculture"),
    Industry.BEAUTY: _("Beauty"),
    Industry.FITNESS: _("Fitness"),
    Industry.SPA: _("Spa and wellness"),
    Industry.NONPROFIT: _("Nonprofit"),
    Industry.CHURCH: _("Church"),
    Industry.MOSQUE: _("Mosque"),
}


# --- who may start a business --------------------------------------------------------------


async def _starter(request: Request) -> tuple[RequestContext, bool] | Response:
    """The actor and whether it is trusted, or the page that says sign-up is closed.

    Declared as a platform operator's page (`.requirement`, for the route listings); open
    sign-up lets anyone in, as `_activating_caller` does for the API."""
    ctx = await current_caller(request)
    if ctx is not None and ctx.is_operator:
        return ctx, True
    if settings_of(request).open_signup:
        return RequestContext.system(request_id=getattr(request.state, "request_id", None)), False
    if ctx is None:
        response = redirect(request, sign_in_url(request))
        message = gettext(request, "Sign-up is closed here: a platform operator starts businesses.")
        return flash(response, message, kind="error")
    return await render(
        request,
        "shell/error.html",
        {
            "status": 403,
            "title": gettext(request, "Sign-up is closed"),
            "detail": gettext(request, "Only platform operators may start a business here."),
        },
        status=403,
    )


_starter.requirement = Requirement(None, "platform", platform=True)  # type: ignore[attr-defined]
Starter = Annotated[tuple[RequestContext, bool] | Response, Depends(_starter)]


# --- the form and the spec -----------------------------------------------------------------


def _count(value: Any) -> int:
    try:
        number = int(str(value or "0").strip() or "0")
    except ValueError:
        return 0
    return max(0, min(number, MAX_DRAFTED_LOCATIONS))


def _integrations(values: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The integrations the form carries (those still ticked), every field even when empty:
    secrets as `env:NAME` references (hidden inputs), other settings as text inputs."""
    kept = values.get("integration", [])
    kept = [kept] if isinstance(kept, str) else list(kept)
    found: dict[str, dict[str, str]] = {}
    for key, value in values.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "integrations" and parts[1] in kept:
            found.setdefault(parts[1], {})[parts[2]] = value if isinstance(value, str) else ""
    return found


def spec_from_form(values: dict[str, Any], *, open_signup: bool) -> dict[str, Any]:
    """The activation input the review form describes; empty fields are left out, so the
    spec's validation names what is missing."""

    def text(name: str) -> str:
        value = values.get(name, "")
        return value.strip() if isinstance(value, str) else ""

    def present(**items: Any) -> dict[str, Any]:
        return {k: v for k, v in items.items() if v not in ("", None)}

    country = text("country").upper()
    city = text("city")
    spec: dict[str, Any] = present(
        business=present(name=text("business.name"), industry=text("business.industry")),
        country=country,
        owner=present(
            name=text("owner.name"),
            email=text("owner.email"),
            phone=text("owner.phone"),
            password=text("owner.password") if open_signup else "",
        ),
    )
    spec.setdefault("business", {})
    spec.setdefault("owner", {})
    locations = []
    for index in range(_count(values.get("locations"))):
        name = text(f"locations.{index}.name") or f"{city or text('business.name')} {index + 1}"
        address = present(line1=text(f"locations.{index}.address.line1"), city=city)
        if country:
            address["country"] = country
        locations.append({"name": name, "address": address, "is_headquarters": index == 0})
    if locations:
        spec["locations"] = locations
    integrations = {
        name: {key: value.strip() for key, value in fields.items() if value.strip()}
        for name, fields in _integrations(values).items()
    }
    if integrations:
        spec["integrations"] = integrations
    return spec


def values_from_draft(draft: Draft) -> dict[str, Any]:
    """The review form's values, filled with what the drafter decided."""
    spec = draft.spec
    business = spec.get("business", {})
    owner = spec.get("owner", {})
    locations = spec.get("locations", [])
    values: dict[str, Any] = {
        "business.name": business.get("name", ""),
        "business.industry": business.get("industry", ""),
        "country": spec.get("country", ""),
        "city": next((loc["address"].get("city", "") for loc in locations), ""),
        "locations": str(len(locations)),
        "owner.name": owner.get("name", ""),
        "owner.email": owner.get("email", ""),
        "owner.phone": owner.get("phone", ""),
    }
    for index, location in enumerate(locations):
        values[f"locations.{index}.name"] = location.get("name", "")
        values[f"locations.{index}.address.line1"] = location.get("address", {}).get("line1", "")
    names = []
    for name, fields in spec.get("integrations", {}).items():
        if not isinstance(fields, dict):
            continue
        names.append(name)
        for key, value in fields.items():
            values[f"integrations.{name}.{key}"] = value if isinstance(value, str) else ""
    for item in draft.undecided:
        parts = item.field.split(".")
        if len(parts) == 3 and parts[0] == "integrations":
            values.setdefault(item.field, "")
            if parts[1] not in names:
                names.append(parts[1])
    values["integration"] = names
    return values


def _review_context(
    request: Request,
    form: Form,
    *,
    undecided: dict[str, str] | None = None,
    notes: list[str] | None = None,
    plan: Plan | None = None,
) -> dict[str, Any]:
    values = form.values
    count = _count(values.get("locations"))
    city = str(values.get("city") or "")
    rows = [
        {
            "index": index,
            "name": values.get(f"locations.{index}.name")
            or f"{city or values.get('business.name', '')} {index + 1}".strip(),
        }
        for index in range(count)
    ]
    integrations = _integrations(values)
    industries = [("", gettext(request, "Choose an industry"))] + [
        (industry.value, gettext(request, INDUSTRY_LABELS.get(industry, industry.value)))
        for industry in Industry
    ]
    return {
        "form": form,
        "industries": industries,
        "locations": rows,
        "integrations": integrations,
        "undecided": undecided or {},
        "notes": notes or [],
        "plan": plan,
        "with_password": not _is_operator(request),
    }


async def _review(request: Request, form: Form, *, status: int = 200, **extra: Any) -> Response:
    return await render(
        request, "activation/review.html", _review_context(request, form, **extra), status=status
    )


def _is_operator(request: Request) -> bool:
    ctx: RequestContext | None = getattr(request.state, "caller", None)
    return ctx is not None and ctx.is_operator


def _without_password(values: dict[str, Any]) -> dict[str, Any]:
    """The values to draw again: never the owner's password (an integration's `env:` reference
    stays)."""
    return {k: v for k, v in values.items() if k != "owner.password"}


# --- the pages -----------------------------------------------------------------------------


@router.get("/start")
async def start_page(request: Request, starter: Starter) -> Response:
    if isinstance(starter, Response):
        return starter
    context = {"form": Form.empty(), "max_prompt": MAX_PROMPT_CHARS}
    return await render(request, "activation/start.html", context)


@router.get("/start/form")
async def short_form(request: Request, starter: Starter) -> Response:
    if isinstance(starter, Response):
        return starter
    return await _review(request, Form.empty(locations="0", integration=[]))


@router.post("/start/draft")
async def draft(request: Request, starter: Starter) -> Response:
    if isinstance(starter, Response):
        return starter
    values = await read_form(request)
    prompt = str(values.get("prompt", "")).strip()
    if not prompt or len(prompt) > MAX_PROMPT_CHARS:
        reason = (
            gettext(request, "Describe your business in a sentence.")
            if not prompt
            else gettext(request, "At most %(count)s characters.", count=MAX_PROMPT_CHARS)
        )
        form = Form({"prompt": prompt}, {"prompt": reason})
        context = {"form": form, "max_prompt": MAX_PROMPT_CHARS}
        return await render(request, "activation/start.html", context, status=422)
    drafted = await get_drafter().draft(prompt)
    undecided = {item.field: item.reason for item in drafted.undecided}
    form = Form(values_from_draft(drafted), {})
    return await _review(request, form, undecided=undecided, notes=drafted.notes)


@router.post("/start/review")
async def review(request: Request, session: Session, starter: Starter) -> Response:
    """Check the form: the plan of a dry run, or the form again with what is wrong."""
    if isinstance(starter, Response):
        return starter
    actor, trusted = starter
    values = await read_form(request)
    open_signup = not trusted
    try:
        resolved = service.prepare(spec_from_form(values, open_signup=open_signup))
        plan = await service.run(
            session,
            actor,
            resolved,
            public_base_url=settings_of(request).public_base_url,
            trusted=trusted,
            dry_run=True,
        )
    except NexusError as error:
        return await _review(request, _form_error(request, values, error), status=error.status)
    assert isinstance(plan, Plan)
    return await _review(request, Form(_without_password(values), {}), plan=plan)


@router.post("/start/activate")
async def activate(request: Request, session: Session, starter: Starter) -> Response:
    if isinstance(starter, Response):
        return starter
    actor, trusted = starter
    values = await read_form(request)
    settings = settings_of(request)
    try:
        resolved = service.prepare(spec_from_form(values, open_signup=not trusted))
        if not trusted:
            await service.count_open_signup(request.app.state.database, client_address(request))
        report = await service.run(
            session,
            actor,
            resolved,
            public_base_url=settings.public_base_url,
            trusted=trusted,
        )
    except NexusError as error:
        return await _review(request, _form_error(request, values, error), status=error.status)
    assert isinstance(report, ActivationReport)
    password = resolved.spec.owner.password if not trusted else None
    if password is not None and not report.owner.invited:
        return await _sign_in_owner(request, session, report)
    context = {"report": report, "trusted": trusted}
    return await render(
        request, "activation/result.html", context, headers={"Cache-Control": "no-store"}
    )


def _form_error(request: Request, values: dict[str, Any], error: NexusError) -> Form:
    form = form_with_error(values, error)
    form.values = _without_password(values)
    if isinstance(error, ValidationFailed):
        form.message = gettext(request, "Some fields need your attention.")
        # Errors on fields the form has no input for are listed above it.
        shown = {name for name in values} | {"business.name", "business.industry", "country"}
        shown |= {"owner.name", "owner.email", "owner.phone", "owner.password", "city"}
        others = [
            f"{name}: {reason}"
            for name, reason in form.errors.items()
            if name not in shown and not name.startswith("locations.")
        ]
        if others:
            form.message += " " + "; ".join(others)
    return form


async def _sign_in_owner(
    request: Request, session: AsyncSession, report: ActivationReport
) -> Response:
    """The visitor who chose a password is the new owner: a console session in the business."""
    settings = settings_of(request)
    owner = await users.find_user_by_email(session, report.owner.email)
    assert owner is not None  # activation just created them
    secret, _session = await credentials.start_console_session(
        session,
        user_id=owner.id,
        tenant_id=report.tenant_id,
        hours=settings.console_session_hours,
        user_agent=request.headers.get("user-agent"),
        client_address=client_address(request),
    )
    response = redirect(request, "/")
    security.set_session_cookie(response, settings, secret, settings.console_session_hours)
    return flash(
        response, gettext(request, "Welcome to %(name)s: your business is ready.", name=report.name)
    )
