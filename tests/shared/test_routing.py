"""shared/routing.py selects, for every path a client can send, the route FastAPI's own selection takes.

Both selections are asked about the same requests: every route of every process with its
parameters filled in, each under every method, plus paths that only look like routes (a case id
that is a word of another route, trailing slashes, unknown tails). The faster one may only skip
routes that could not have matched, so the two must agree on every one.
"""

import re

import pytest
from fastapi.routing import APIRoute, _EffectiveRouteContext, _IncludedRouter
from starlette.routing import Match, Mount, Route

from gateway.app import main as gateway_main
from services.cases.app import main as cases_main
from services.projects.app import main as projects_main
from services.volunteers.app import main as volunteers_main
from shared.routing import PrefixDispatch

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
EXTRA_PATHS = ("/", "/nope", "/v1", "/v1/", "/v1/cases/stats", "/v1/cases/stats/", "/v1/cases/x1/", "/v1/cases/x1/nope",
               "/v1/beneficiaries/lookup", "/internal", "/internal/stats/", "/docs/", "/metrics/", "/v1/sync/",
               "/v1/stats/summary/", "/dashboard/", "/v1/cases/../internal/audit")


def leaf_paths(entries) -> list[str]:
    paths = []
    for entry in entries:
        if isinstance(entry, _IncludedRouter):
            paths += leaf_paths(entry.effective_candidates())
            continue
        if isinstance(entry, _EffectiveRouteContext):
            entry = entry.original_route if isinstance(entry.original_route, APIRoute) else entry.starlette_route
            if isinstance(entry, APIRoute):
                paths.append(entry.path_format)
                continue
        if isinstance(entry, (APIRoute, Route, Mount)):
            paths.append(entry.path_format)
    return paths


def filled(path_format: str) -> list[str]:
    """The route's path with each parameter given a value; a path parameter two ways."""
    one = re.sub(r"\{[^}:]+:path\}", "a/b", path_format)
    values = [re.sub(r"\{[^}]+\}", "x1", one)]
    if ":path}" in path_format:
        values.append(re.sub(r"\{[^}]+\}", "x1", re.sub(r"\{[^}:]+:path\}", "", path_format)))
    return values


def fastapi_selects(app, scope):
    """FastAPI's own: the first route (in the app's order) that matches in full."""
    for route in app.router.routes:
        match, child_scope = route.matches(scope)
        if match == Match.FULL:
            return route, child_scope
    return None


@pytest.mark.parametrize("main", [gateway_main, cases_main, projects_main, volunteers_main],
                         ids=["gateway", "cases", "projects", "volunteers"])
def test_every_request_goes_where_fastapi_would_send_it(main):
    app = main()
    dispatch = app.router.middleware_stack
    assert isinstance(dispatch, PrefixDispatch)
    paths = sorted({p for f in leaf_paths(app.router.routes) for p in filled(f)} | set(EXTRA_PATHS))
    assert len(paths) > 30
    compared = full = 0
    for path in paths:
        for method in METHODS:
            scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "root_path": "",
                     "headers": [], "query_string": b"", "app": app}
            ours, theirs = dispatch.select(dict(scope)), fastapi_selects(app, dict(scope))
            compared += 1
            if theirs is None:
                assert ours is None, (method, path)
                continue
            full += 1
            assert ours is not None, (method, path)
            assert ours[0] is theirs[0], (method, path)
            assert ours[1].get("path_params") == theirs[1].get("path_params"), (method, path)
            assert ours[1].get("endpoint") is theirs[1].get("endpoint"), (method, path)
    assert full > len(paths) // 2  # most of the filled-in paths are routes under one of their methods


def test_a_case_read_asks_only_routers_that_could_take_it():
    app = cases_main()
    dispatch = app.router.middleware_stack
    asked = [route for beginnings, route in dispatch.table() if "/v1/cases/x1".startswith(beginnings)]
    # The stats router (/v1/cases/stats) is skipped; the cases router itself is among those asked.
    assert 0 < len(asked) <= 4 < len(app.router.routes)
    assert any(getattr(getattr(r, "original_router", None), "prefix", None) == "/v1/cases" for r in asked)


def test_a_route_added_after_the_first_request_is_found():
    app = cases_main()
    dispatch = app.router.middleware_stack
    scope = {"type": "http", "method": "GET", "path": "/late", "raw_path": b"/late", "root_path": "",
             "headers": [], "query_string": b"", "app": app}
    assert dispatch.select(dict(scope)) is None

    @app.get("/late")
    async def late() -> dict:
        return {}

    route, _ = dispatch.select(dict(scope))
    assert route.path == "/late"
