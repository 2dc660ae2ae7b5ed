"""Finding a request's route without trying every route.

Starlette tries the application's routes one by one, in order, until one matches: a request
for a CRM contact tested about a hundred routes first, and each module adds more. The index
groups routes by the literal segments their paths start with (up to `DEPTH`), and a request
tries, in the same order as before, only the routes whose literal start is a start of its
own path: no other route could match it. The answer is Starlette's, route for route: the
first full match wins, else the first partial one (405); with neither, Starlette's own scan
runs (trailing-slash redirects, 404), as does the lifespan.

The index is rebuilt when routes are added (tests add routers after the app is built).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, Mount, Router
from starlette.types import ASGIApp, Receive, Scope, Send

#: How many leading path segments the index distinguishes.
DEPTH = 4


def literal_start(route: BaseRoute) -> tuple[str, ...]:
    """The whole path segments `route` must start with (at most `DEPTH`)."""
    path: str | None = getattr(route, "path", None)
    if path is None:
        return ()
    segments = path.strip("/").split("/") if isinstance(route, Mount) else path.split("/")[1:]
    literal: list[str] = []
    for segment in segments[:DEPTH]:
        if "{" in segment or (isinstance(route, Mount) and segment == ""):
            break
        literal.append(segment)
    return tuple(literal)


class RouteIndex:
    """The router's routes by their literal start, each list in the router's order."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.size = len(routes)
        self.routes = list(routes)
        self.buckets: dict[tuple[str, ...], list[int]] = {}
        for position, route in enumerate(routes):
            self.buckets.setdefault(literal_start(route), []).append(position)
        self._merged: dict[tuple[tuple[str, ...], ...], list[BaseRoute]] = {}

    def candidates(self, path: str) -> list[BaseRoute]:
        """The routes that may match `path`, in the router's order."""
        segments = path.split("/")[1:]
        hit = tuple(
            key
            for key in (tuple(segments[:depth]) for depth in range(DEPTH + 1))
            if key in self.buckets
        )
        merged = self._merged.get(hit)
        if merged is None:
            positions = sorted(p for key in hit for p in self.buckets[key])
            merged = [self.routes[p] for p in positions]
            self._merged[hit] = merged
        return merged


class IndexedDispatch:
    """The router's dispatch, trying only the routes that may match (see the module's text)."""

    def __init__(self, router: Router, fallback: ASGIApp) -> None:
        self.router = router
        self.fallback = fallback
        self.index = RouteIndex(router.routes)

    def find(self, scope: Scope) -> tuple[BaseRoute, Scope] | None:
        """The route Starlette's scan would hand `scope` to (full match first, else the first
        partial one) and its child scope; None when no route matches."""
        if len(self.router.routes) != self.index.size:
            self.index = RouteIndex(self.router.routes)
        partial: tuple[BaseRoute, Scope] | None = None
        for route in self.index.candidates(get_route_path(scope)):
            match, child_scope = route.matches(scope)
            if match == Match.FULL:
                return route, child_scope
            if match == Match.PARTIAL and partial is None:
                partial = route, child_scope
        return partial

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.fallback(scope, receive, send)
            return
        if "router" not in scope:
            scope["router"] = self.router
        found = self.find(scope)
        if found is None:
            await self.fallback(scope, receive, send)
            return
        route, child_scope = found
        scope.update(child_scope)
        await route.handle(scope, receive, send)


def install_route_index(router: Router) -> None:
    """Dispatch `router`'s requests through the index."""
    router.middleware_stack = IndexedDispatch(router, router.middleware_stack)
