"""The HTTP edge every module's router uses: one transaction per request, the caller, the
permission check, Idempotency-Key, and problem+json errors (in responses and in the OpenAPI).

Endpoints declare their permission with `require("crm.contact.read")`; the dependency runs the
checks in ARCHITECTURE.md's order: 401 → 404 module_not_enabled → 403 → (endpoint) 404.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from nexus.core import idempotency
from nexus.core.context import RequestContext
from nexus.core.db import (
    BEGIN_ON_WRITE,
    INLINE,
    Database,
    bind_tenant,
    carry_noted,
    commit,
    database_of,
    keep_loaded,
)
from nexus.core.errors import (
    Conflict,
    FieldError,
    InternalError,
    MalformedRequest,
    MethodNotAllowed,
    ModuleNotEnabled,
    NexusError,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    Unauthenticated,
    ValidationFailed,
)
from nexus.core.registry import registry
from nexus.core.settings import Settings
from nexus.core.tenant_config import carry_version

log = logging.getLogger("nexus.http")
PROBLEM = "application/problem+json"

#: `resolve(request, session) -> RequestContext | None`, provided by identity.
CallerResolver = Callable[[Request, AsyncSession], Awaitable[RequestContext | None]]


class ProblemResponse(JSONResponse):
    media_type = PROBLEM


def problem_response(error: NexusError, request: Request) -> ProblemResponse:
    body = error.problem(instance=request.url.path)
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    return ProblemResponse(body, status_code=error.status, headers=error.headers or None)


# --- one transaction per request, and Idempotency-Key ------------------------------------


class NexusRoute(APIRoute):
    """Opens the request's session, commits it on success (before the response leaves) and
    rolls it back on any error; handles `Idempotency-Key` on POST."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()
        platform_scoped = (self.openapi_extra or {}).get("x-idempotency-scope") == "platform"

        async def handler(request: Request) -> Response:
            database: Database = request.app.state.database
            write = request.method not in ("GET", "HEAD", "OPTIONS")
            async with database.session(write=write) as session:
                session.info[INLINE] = True
                session.info[BEGIN_ON_WRITE] = True
                request.state.session = session
                key = request.headers.get("idempotency-key") if request.method == "POST" else None
                if key is None:
                    return await _run(original, request, session)
                return await _run_idempotent(
                    original, request, session, database, key, platform_scoped
                )

        return handler


async def _run(
    original: Callable[[Request], Awaitable[Response]], request: Request, session: AsyncSession
) -> Response:
    try:
        response = await original(request)
    except BaseException:
        await session.rollback()
        raise
    if response.status_code < 400:
        await commit(session)
    else:
        await session.rollback()
    return response


async def _idempotency_scope(request: Request, session: AsyncSession, platform: bool) -> str:
    if platform:
        return "platform"
    ctx = await caller(request, session)
    if ctx is None:
        raise Unauthenticated()
    return str(ctx.tenant_id) if ctx.tenant_id else f"platform:{ctx.actor_id}"


async def _run_idempotent(
    original: Callable[[Request], Awaitable[Response]],
    request: Request,
    session: AsyncSession,
    database: Database,
    key: str,
    platform_scoped: bool,
) -> Response:
    idempotency.validate_key(key)
    scope = await _idempotency_scope(request, session, platform_scoped)
    settings: Settings = request.app.state.settings
    fingerprint = idempotency.request_fingerprint(
        request.method, request.url.path + "?" + request.url.query, await request.body()
    )
    stored = await idempotency.claim(
        database,
        scope=scope,
        key=key,
        fingerprint=fingerprint,
        retention=dt.timedelta(hours=settings.idempotency_hours),
    )
    if stored is not None:
        headers = {**stored.headers, "Idempotent-Replayed": "true"}
        return Response(stored.body, status_code=stored.status, headers=headers)
    try:
        response = await original(request)
    except BaseException:
        await session.rollback()
        await idempotency.release(database, scope=scope, key=key)
        raise
    if response.status_code >= 400:
        await session.rollback()
        await idempotency.release(database, scope=scope, key=key)
        return response
    kept = {k: v for k, v in response.headers.items() if k in ("content-type", "location")}
    await idempotency.complete(
        session,
        scope=scope,
        key=key,
        status=response.status_code,
        headers=kept,
        body=bytes(response.body),
    )
    await commit(session)
    return response


# --- the caller and permissions ------------------------------------------------------------


async def get_session(request: Request) -> AsyncSession:
    session: AsyncSession = request.state.session
    return session


Session = Annotated[AsyncSession, Depends(get_session)]


async def caller(request: Request, session: AsyncSession) -> RequestContext | None:
    """The authenticated caller, resolved once per request (None when anonymous)."""
    if not hasattr(request.state, "caller"):
        # A route class may say how its callers authenticate (the console: a session cookie);
        # the API takes `Authorization: Bearer`.
        resolve: CallerResolver = getattr(request.state, "caller_resolver", None) or (
            registry.hook("caller_resolver")
        )
        request.state.caller = await _resolve_caller(resolve, request, session)
    ctx: RequestContext | None = request.state.caller
    return ctx


async def _resolve_caller(
    resolve: CallerResolver, request: Request, session: AsyncSession
) -> RequestContext | None:
    database = database_of(session)
    if database.is_sqlite and session.bind is database.engine and not session.in_transaction():
        # SQLite has one writer. Resolving in the request's write transaction would hold the
        # write lock while the resolver and the Idempotency-Key claim commit their own short
        # writes, which would then wait on it; resolve in a read transaction instead.
        async with database.session(write=False) as reader:
            reader.info[INLINE] = True
            ctx = await resolve(request, reader)
            # What the lookup loaded (the caller's business, key, user) is copied into the
            # request's session without a query, as if it had been read there. A write to a
            # copy that another transaction changed since fails on its version, as it would
            # on PostgreSQL, where the lookup runs in the request's own transaction.
            for loaded in reader.info.get("kept", ()):
                keep_loaded(session, await session.merge(loaded, load=False))
            carry_version(reader, session)
            carry_noted(reader, session)
        await bind_tenant(session, ctx.tenant_id if ctx else None)
        return ctx
    return await resolve(request, session)


class Requirement:
    """What an endpoint requires of its caller; its dependency carries it (`.requirement`), so
    docs and the generated authorization tests can enumerate every endpoint's permission."""

    def __init__(
        self,
        permission: str | None,
        module: str,
        *,
        platform: bool,
        any_tenant: bool = False,
        also: tuple[str, ...] = (),
    ) -> None:
        self.permission = permission
        self.module = module
        self.platform = platform
        #: Any authenticated caller, with or without a tenant (e.g. `GET /me`).
        self.any_tenant = any_tenant
        #: Permissions needed besides `permission` (an export also needs to read the records).
        self.also = also
        #: Every permission the endpoint needs.
        self.permissions: tuple[str, ...] = ((permission,) if permission else ()) + also

    async def check(self, request: Request, session: AsyncSession) -> RequestContext:
        ctx = await caller(request, session)
        if ctx is None:
            raise Unauthenticated()
        if self.any_tenant:
            return ctx
        if self.platform:
            if not ctx.is_operator or (self.permission and not ctx.can(self.permission)):
                raise PermissionDenied(detail="Only platform operators may do this")
            return ctx
        if ctx.tenant_id is None:
            raise PermissionDenied(detail="This credential is not for a business; switch tenant")
        if self.module not in ctx.enabled_modules:
            raise ModuleNotEnabled(detail=f"The {self.module} module is not enabled")
        for permission in self.permissions:
            if not ctx.can(permission):
                raise PermissionDenied(detail=f"Missing permission {permission}")
        await bind_tenant(session, ctx.tenant_id)
        return ctx


def require(
    permission: str | None, *, module: str | None = None, also: tuple[str, ...] = ()
) -> Any:
    """Dependency: an authenticated caller of an enabled module holding `permission`, and
    each permission in `also`.

    `permission=None` asks only for an authenticated caller of a tenant (and `module`).
    """
    owner = module or (permission.split(".")[0] if permission else None)
    if owner is None:
        raise ValueError("require(None) needs module=")
    return _depends(Requirement(permission, owner, platform=False, also=also))


def _depends(requirement: Requirement) -> Any:
    # The session comes from the request's state, as `get_session` gives it: one dependency
    # fewer for FastAPI to solve on every request.
    async def check(request: Request) -> RequestContext:
        return await requirement.check(request, request.state.session)

    check.requirement = requirement  # type: ignore[attr-defined]
    return Depends(check)


def authenticated() -> Any:
    """Dependency: any authenticated caller, of a tenant or not."""
    return _depends(Requirement(None, "identity", platform=False, any_tenant=True))


def require_operator(permission: str | None = None) -> Any:
    """Dependency: a platform operator (optionally holding `permission`)."""
    return _depends(Requirement(permission, "platform", platform=True))


def requirement_of(route: APIRoute) -> Requirement | None:
    """The `Requirement` an endpoint declared, for docs and the generated authorization tests."""
    stack = list(route.dependant.dependencies)
    while stack:
        dependant = stack.pop()
        found = getattr(dependant.call, "requirement", None)
        if isinstance(found, Requirement):
            return found
        stack.extend(dependant.dependencies)
    return None


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# --- errors as problem+json ----------------------------------------------------------------


def _field_name(location: Sequence[Any]) -> str:
    return ".".join(str(part) for part in location)


def _validation_problem(exc: RequestValidationError) -> NexusError:
    errors = list(exc.errors())
    if any(error.get("type") == "json_invalid" for error in errors):
        return MalformedRequest(detail="The request body is not valid JSON")
    fields = [
        FieldError(_field_name(e.get("loc", ())), str(e.get("msg", "")), str(e.get("type", "")))
        for e in errors
    ]
    detail = "; ".join(f"{f.field}: {f.reason}" for f in fields[:5])
    return ValidationFailed(detail=detail, errors=fields)


def install_error_handlers(app: FastAPI) -> None:
    async def nexus_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, NexusError)
        if exc.status >= 500:
            log.error("internal error", exc_info=exc)
        return problem_response(exc, request)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem_response(_validation_problem(exc), request)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        error: NexusError
        if exc.status_code == 404:
            error = NotFound(detail="No such resource")
        elif exc.status_code == 405:
            error = MethodNotAllowed(detail=f"{request.method} is not allowed on this path")
        else:
            error = MalformedRequest(detail=str(exc.detail))
        response = problem_response(error, request)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    async def stale(request: Request, exc: Exception) -> Response:
        # A concurrent writer bumped the version between our read and our UPDATE.
        return problem_response(PreconditionFailed(detail="The record changed; reload it"), request)

    async def integrity(request: Request, exc: Exception) -> Response:
        # Services check their rules first; this is the race they could not see.
        log.warning("integrity error", exc_info=exc)
        return problem_response(Conflict(detail="The change conflicts with existing data"), request)

    async def unstorable(request: Request, exc: Exception) -> Response:
        # The database refused a value the schema let through (a NUL character, a number out
        # of the column's range): the caller's input, not our fault.
        log.warning("data error", exc_info=exc)
        detail = "A value cannot be stored (for example a NUL character or a number too large)"
        return problem_response(ValidationFailed(detail=detail), request)

    async def database_error(request: Request, exc: Exception) -> Response:
        # Drivers do not all classify a refused value as a DataError (asyncpg's "invalid byte
        # sequence" for a NUL arrives as a plain DBAPIError): SQLSTATE class 22 is a data
        # exception, the caller's input; anything else is ours.
        sqlstate = str(getattr(getattr(exc, "orig", None), "sqlstate", "") or "")
        if sqlstate.startswith("22"):
            return await unstorable(request, exc)
        return await unexpected(request, exc)

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return problem_response(InternalError(), request)

    app.add_exception_handler(NexusError, nexus_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(StaleDataError, stale)
    app.add_exception_handler(IntegrityError, integrity)
    app.add_exception_handler(DataError, unstorable)
    app.add_exception_handler(DBAPIError, database_error)
    app.add_exception_handler(Exception, unexpected)


# --- OpenAPI: problem+json everywhere, permissions documented ----------------------------

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string", "description": "Stable machine-readable error code"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "reason", "code"],
                "properties": {
                    "field": {"type": "string", "examples": ["body.email"]},
                    "reason": {"type": "string"},
                    "code": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
    "examples": [
        {
            "type": "https://nexus.dev/problems/validation-failed",
            "title": "The request has invalid fields",
            "status": 422,
            "code": "validation_failed",
            "detail": "body.email: value is not a valid email address",
            "errors": [{"field": "body.email", "reason": "not a valid email", "code": "invalid"}],
        }
    ],
}

_DESCRIPTIONS = {
    400: "Malformed request (problem+json)",
    401: "Not authenticated (problem+json)",
    403: "Permission denied or business suspended (problem+json)",
    404: "Not found, or module not enabled (problem+json)",
    409: "Conflict (problem+json)",
    412: "Version mismatch (problem+json)",
    422: "Invalid fields (problem+json)",
    428: "Version required (problem+json)",
    429: "Too many requests (problem+json)",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for an endpoint's own problem statuses (the usual ones are added for you)."""
    return {status: {"description": _DESCRIPTIONS[status]} for status in statuses}


def _problem_ref(status: int) -> dict[str, Any]:
    return {
        "description": _DESCRIPTIONS.get(status, "Problem"),
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _usual_statuses(route: APIRoute) -> set[int]:
    statuses = {400, 422, 429}
    if requirement_of(route) is not None:
        statuses |= {401, 403, 404}
    if route.methods & {"POST", "PUT", "DELETE"}:
        statuses |= {409}
    if "PATCH" in route.methods:
        statuses |= {409, 412, 428}
    return statuses


def build_openapi(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        servers=app.servers,
    )
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = PROBLEM_SCHEMA
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "An access token from /api/v1/auth/login, or an API key (nxk_…)",
        }
    }
    routes = {
        (r.path, m.lower()): r for r in app.routes if isinstance(r, APIRoute) for m in r.methods
    }
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            route = routes.get((path, method))
            if route is None:
                continue
            responses = operation.setdefault("responses", {})
            declared = {int(s) for s in responses if s.isdigit() and int(s) >= 400}
            for status in _usual_statuses(route) | declared:
                responses[str(status)] = _problem_ref(status)
            requirement = requirement_of(route)
            if requirement is not None:
                operation["security"] = [{"bearer": []}]
                operation["x-permission"] = requirement.permission
                if requirement.also:
                    operation["x-also-requires"] = list(requirement.also)
    return schema


def new_request_id() -> str:
    return uuid.uuid4().hex
