"""One API document for the whole platform: the gateway's own operations plus the
operations it proxies, so /docs on the gateway can try the casework API.

Each service's /openapi.json is fetched on the first request for the gateway's
document (never at start-up: services may come up after the gateway), with a short
timeout; a service that does not answer is left out and asked again at most every
RETRY_S, so a service that is down does not slow every docs page. Only paths under
the prefixes the gateway proxies are taken: a service's /internal/... stays internal.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.requests import Request

log = logging.getLogger("haolin.gateway.openapi")

FETCH_TIMEOUT_S = 6.0  # a service builds its document on first request: seconds on a busy 2-core host
RETRY_S = 30.0
_REF = "#/components/schemas/"
_HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


class MergedOpenAPI:
    def __init__(self, app: FastAPI, prefixes: dict[str, str]) -> None:
        self.app = app
        self.prefixes = prefixes
        self.fetched: dict[str, dict[str, Any]] = {}
        self.last_try: dict[str, float] = {}
        self.merged: dict[str, Any] | None = None
        self.lock = asyncio.Lock()

    def services(self) -> list[str]:
        return list(dict.fromkeys(self.prefixes.values()))

    async def document(self) -> dict[str, Any]:
        now = time.monotonic()
        due = [s for s in self.services()
               if s not in self.fetched and now - self.last_try.get(s, -RETRY_S) >= RETRY_S]
        if not due and self.merged is not None:
            return self.merged
        async with self.lock:
            due = [s for s in due if s not in self.fetched]
            if due:
                results = await asyncio.gather(*(self._fetch(s) for s in due))
                for service, doc in zip(due, results):
                    self.last_try[service] = time.monotonic()
                    if doc is not None:
                        self.fetched[service] = doc
                self.merged = None
            if self.merged is None:
                self.merged = merge(self.app.openapi(), self.fetched, self.prefixes)
            return self.merged

    async def _fetch(self, service: str) -> dict[str, Any] | None:
        upstreams = getattr(self.app.state, "upstreams", None)
        if upstreams is None:
            return None
        try:
            async with asyncio.timeout(FETCH_TIMEOUT_S):
                r = await upstreams.client(service).get("/openapi.json")
            r.raise_for_status()
            return r.json()
        except Exception as exc:
            log.warning("API document of %s not available: %s", service, type(exc).__name__)
            return None


def merge(own: dict[str, Any], services: dict[str, dict[str, Any]], prefixes: dict[str, str]) -> dict[str, Any]:
    """The gateway's document with each service's proxied paths and their schemas added."""
    doc = copy.deepcopy(own)
    paths = doc.setdefault("paths", {})
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemes = components.setdefault("securitySchemes", {})
    operation_ids = {op.get("operationId") for item in paths.values() for m, op in item.items()
                     if m in _HTTP_METHODS and isinstance(op, dict)}
    tags = {t["name"] for t in doc.get("tags", [])}

    for service in sorted(services):
        upstream = services[service]
        mine = {p for p, s in prefixes.items() if s == service}
        taken = {path: item for path, item in upstream.get("paths", {}).items()
                 if any(under(path, p) for p in mine) and path not in paths}
        if not taken:
            continue
        available = upstream.get("components", {}).get("schemas", {})
        wanted = _reachable(taken, available)
        renames = _place_schemas({n: available[n] for n in available if n in wanted}, schemas, service)
        for name, scheme in upstream.get("components", {}).get("securitySchemes", {}).items():
            # Services declare the gateway's own token URL, so equal schemes merge by name.
            schemes.setdefault(name, scheme)
        for path, item in taken.items():
            item = _rename_refs(copy.deepcopy(item), renames)
            for method, op in item.items():
                if method not in _HTTP_METHODS or not isinstance(op, dict):
                    continue
                if op.get("operationId") in operation_ids:
                    op["operationId"] = f"{service}_{op['operationId']}"
                operation_ids.add(op.get("operationId"))
            paths[path] = item
        for tag in upstream.get("tags", []):
            if tag.get("name") not in tags:
                doc.setdefault("tags", []).append(tag)
                tags.add(tag.get("name"))
    if not schemes:
        components.pop("securitySchemes")
    doc["paths"] = _by_declared_tag(paths, [t["name"] for t in doc.get("tags", [])])
    return doc


def _by_declared_tag(paths: dict[str, Any], declared: list[str]) -> dict[str, Any]:
    """Paths grouped in the order of the document's declared tags (login first: the first thing a
    reader of /docs does), the others after them as they came."""
    def rank(item: tuple[str, Any]) -> int:
        tags = [t for op in item[1].values() if isinstance(op, dict) for t in op.get("tags", [])]
        return next((declared.index(t) for t in tags if t in declared), len(declared))

    return dict(sorted(paths.items(), key=rank))


def _each_ref(node: Any, visit: Callable[[dict, str], None]) -> None:
    """visit(holder, name) for each `$ref` to a component schema within `node`, `holder` the dict holding it."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_REF):
                visit(node, value[len(_REF):])
            else:
                _each_ref(value, visit)
    elif isinstance(node, list):
        for value in node:
            _each_ref(value, visit)


def _refs(node: Any, found: set[str]) -> set[str]:
    _each_ref(node, lambda _holder, name: found.add(name))
    return found


def _reachable(paths: dict[str, Any], schemas: dict[str, Any]) -> set[str]:
    """Names of the schemas the given paths use, directly or through other schemas."""
    todo = _refs(paths, set())
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in schemas:
            continue
        seen.add(name)
        todo |= _refs(schemas[name], set()) - seen
    return seen


def _place_schemas(incoming: dict[str, Any], schemas: dict[str, Any], service: str) -> dict[str, str]:
    """Add a service's schemas; a name already taken by a different schema gets the
    service's name in front. Returns the renames."""
    renames: dict[str, str] = {}
    for name, schema in incoming.items():
        if name in schemas and _same(schemas[name], schema):
            continue
        if name in schemas:
            new = f"{service.capitalize()}{name}"
            n = 2
            while new in schemas or new in incoming:
                new, n = f"{service.capitalize()}{name}{n}", n + 1
            renames[name] = new
    for name, schema in incoming.items():
        target = renames.get(name, name)
        if target in schemas and name not in renames:
            continue  # identical to the one already there
        schemas[target] = _rename_refs(copy.deepcopy(schema), renames)
    return renames


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    if not renames:
        return node

    def rename(holder: dict, name: str) -> None:
        if name in renames:
            holder["$ref"] = _REF + renames[name]

    _each_ref(node, rename)
    return node


def install_merged_openapi(app: FastAPI, prefixes: dict[str, str]) -> None:
    """Serve the merged document at the app's openapi_url instead of FastAPI's own."""
    if not app.openapi_url:
        return
    merged = MergedOpenAPI(app, prefixes)
    app.state.merged_openapi = merged
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) != app.openapi_url]

    async def openapi(request: Request) -> JSONResponse:
        """The platform's API document: the gateway's operations and those it proxies."""
        doc = await merged.document()
        root_path = request.scope.get("root_path", "").rstrip("/")
        if root_path and app.root_path_in_servers:
            doc = {**doc, "servers": [{"url": root_path}, *doc.get("servers", [])]}
        return JSONResponse(doc)

    app.router.add_route(app.openapi_url, openapi, include_in_schema=False)
