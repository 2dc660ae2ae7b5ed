"""Structured logs with request ids, and Prometheus metrics by route."""

from __future__ import annotations

import logging
import re
import sys
import time
from contextvars import ContextVar
from typing import Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as _generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

METRICS = CollectorRegistry()
REQUESTS = Counter(
    "nexus_http_requests_total",
    "HTTP requests by route template, method and status",
    ["method", "route", "status"],
    registry=METRICS,
)
LATENCY = Histogram(
    "nexus_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    registry=METRICS,
)


def metrics_payload() -> tuple[bytes, str]:
    return _generate_latest(METRICS), CONTENT_TYPE_LATEST


def _add_request_id(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    request_id = request_id_var.get()
    if request_id:
        event.setdefault("request_id", request_id)
    return event


def configure_logging(log_format: str, level: str = "INFO") -> None:
    """Route stdlib and structlog records through one renderer (JSON or console)."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_request_id,
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = True


class RequestIdAndMetrics:
    """ASGI middleware: request id (incoming `X-Request-ID` or new), access log, metrics."""

    def __init__(self, app: ASGIApp, *, new_id: Any) -> None:
        self.app = app
        self.new_id = new_id
        self.log = structlog.get_logger("nexus.access")
        self.access = logging.getLogger("nexus.access")
        #: The metrics' children per (method, route, status): `labels()` takes a lock and
        #: checks its arguments on every call.
        self.children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else self.new_id()
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            key = (method, template, status)
            children = self.children.get(key)
            if children is None:
                children = self.children[key] = (
                    REQUESTS.labels(method, template, str(status)),
                    LATENCY.labels(method, template),
                )
            children[0].inc()
            children[1].observe(elapsed)
            if self.access.isEnabledFor(logging.INFO):
                self.log.info(
                    "request",
                    method=method,
                    path=scope["path"],
                    route=template,
                    status=status,
                    ms=round(elapsed * 1000, 2),
                )
            request_id_var.reset(token)
