"""Route selection that skips the routers a path cannot reach, in front of FastAPI's own.

FastAPI (0.163) selects a route by asking every route and included router of the app in turn, and
an included router asks each of its routes, saving and restoring scope keys around each question.
The cost grows with the routes ahead of the one that answers: a case read by id at the cases
service, whose router is the eighteenth, spent about 107 us of CPU there, a fifth of the read
(docs/performance.md), and the gateway's sync pull 166 us.

A route can only match a path that begins with the literal part of its path (what comes before its
first `{`), and an included router only a path that begins with the part its routes have in common.
`PrefixDispatch` asks only the entries with a literal part that begins the path, in the app's order, so
the first full match is the one FastAPI would have found; the skipped entries could not have
matched. Anything but a full match (405, a trailing-slash redirect, 404, lifespan, websockets)
goes to FastAPI's own selection, unchanged.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIRouter, _EffectiveRouteContext, _IncludedRouter, _route_selected
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, Mount, Route

# An entry whose reach cannot be told from its paths (a Host route, a frontend...): every path begins with "".
_EVERY_PATH = ("",)


def literal(path_format: str) -> str:
    """What every path a route matches begins with."""
    return path_format.split("{", 1)[0]


def reach(entry: BaseRoute) -> tuple[str, ...]:
    """The literal beginnings of the paths `entry` (a top-level route or an included router) can
    match: every such path begins with one of them."""
    if isinstance(entry, _IncludedRouter):
        beginnings = {b for candidate in entry.effective_candidates() for b in reach(candidate)}
        return tuple(sorted(beginnings)) or _EVERY_PATH
    if isinstance(entry, _EffectiveRouteContext):
        if isinstance(entry.original_route, APIRoute):
            return (literal(entry.path_format),)
        entry = entry.starlette_route
    if isinstance(entry, (APIRoute, Route, Mount)):
        return (literal(entry.path_format),)
    return _EVERY_PATH


class PrefixDispatch:
    """The router's ASGI entry (its `middleware_stack`): see the module's docstring."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self.fallback = router.app
        self._routes: list[BaseRoute] | None = None
        self._table: list[tuple[tuple[str, ...], BaseRoute]] = []

    def table(self) -> list[tuple[tuple[str, ...], BaseRoute]]:
        # Built at the first request; built again if routes were added since (a test's extra route).
        routes = self.router.routes
        if routes is not self._routes or len(routes) != len(self._table):
            self._table = [(reach(route), route) for route in routes]
            self._routes = routes
        return self._table

    def select(self, scope) -> tuple[BaseRoute, dict] | None:
        """The route FastAPI would take with a full match, and its child scope; None for anything else."""
        path = get_route_path(scope)
        for beginnings, route in self.table():
            if path.startswith(beginnings):
                match, child_scope = route.matches(scope)
                if match == Match.FULL:
                    return route, child_scope
        return None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.fallback(scope, receive, send)
        selected = self.select(scope)
        if selected is None:
            return await self.fallback(scope, receive, send)
        route, child_scope = selected
        # What FastAPI's APIRouter.app does with a full match.
        if "router" not in scope:
            scope["router"] = self.router
        scope.update(child_scope)
        _route_selected(scope=scope, path=getattr(route, "path_format", None), mount=isinstance(route, Mount))
        await route.handle(scope, receive, send)


def install_prefix_dispatch(app: FastAPI) -> None:
    app.router.middleware_stack = PrefixDispatch(app.router)
