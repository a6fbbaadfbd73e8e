"""Every process's API documents: /docs (Swagger UI) and /redoc (ReDoc), with their scripts
served by the process itself, and what the OpenAPI document says about answers the shared
machinery gives for any route, written once here rather than on each route: the problems of
shared/errors.py, the 200 a create answers when a retry with the same client id finds its
record (shared/records.py), and the Idempotency-Key every create takes (shared/idempotency.py).

Swagger UI and ReDoc are the copies the pinned `fastapi-offline` package ships (FastAPI's own
pages load them from a CDN, and are blank on a station's LAN without internet).
tests/security/test_schemathesis.py holds every process to its document.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html

from shared.errors import PROBLEM, Problem
from shared.idempotency import KEY_PATTERN
from shared.static import Asset, asset_response

ASSETS_PATH = "/docs/assets"
# Nothing from another origin: ReDoc's footer would fetch a logo from its vendor's CDN on every
# visit. The pages start the viewers with an inline script, and the viewers inject their styles.
PAGE_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")

_DESCRIPTIONS = {
    "400": "Malformed request body", "401": "Not authenticated", "403": "Forbidden for this role",
    "404": "Not found, or outside your stations", "409": "Conflict with the record's state",
    "412": "If-Match is stale", "413": "Request body too large", "422": "Invalid input, naming the fields",
    "428": "If-Match required",
}


def _problem_codes(method: str, operation: dict[str, Any]) -> list[str]:
    """What the shared machinery can answer for any operation of this shape."""
    codes = ["403", "404", "422"]
    if operation.get("security"):
        codes.append("401")
    if "requestBody" in operation:
        codes += ["400", "413"]
    if method != "get":
        codes += ["409", "412", "428"]
    return codes


def _takes_client_id(operation: dict[str, Any], schemas: dict[str, Any]) -> bool:
    for media in operation.get("requestBody", {}).get("content", {}).values():
        ref = media.get("schema", {}).get("$ref", "")
        if "id" in schemas.get(ref.rsplit("/", 1)[-1], {}).get("properties", {}):
            return True
    return False


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "A new random UUID per create. Sent again with the same request within 24 hours, the create "
                   "answers its first answer again (marked Idempotent-Replayed) and writes nothing; with another "
                   "request it answers 422. Keys are your own: another user's same key is another request.",
    "schema": {"type": "string", "pattern": f"^{KEY_PATTERN.pattern}$"},
}


def _document(doc: dict[str, Any]) -> None:
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    content = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for item in doc.get("paths", {}).values():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for code in _problem_codes(method, operation):
                response = responses.setdefault(code, {"description": _DESCRIPTIONS[code]})
                if code == "422":
                    # FastAPI's own 422 (HTTPValidationError, application/json) is never sent.
                    response["content"] = content
            # Error codes a route declares with a description only (429 on login...) are problems too.
            for code, response in responses.items():
                if code[0] in "45" and "content" not in response:
                    response["content"] = content
            if method == "post" and "201" in responses:
                parameters = operation.setdefault("parameters", [])
                if not any(p.get("name") == IDEMPOTENCY_KEY["name"] for p in parameters):
                    parameters.append(IDEMPOTENCY_KEY)
            if method == "post" and "201" in responses and "200" not in responses \
                    and _takes_client_id(operation, schemas):
                responses["200"] = {**responses["201"],
                                    "description": "A retry with the same client id and body: the record it made"}
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


@cache
def doc_assets() -> dict[str, Asset]:
    static = resources.files("fastapi_offline") / "static"
    return {name: Asset.of(name, (static / name).read_bytes()) for name in ASSET_FILES}


def _url(root_path: str, name: str) -> str:
    return f"{root_path}{ASSETS_PATH}/{doc_assets()[name].digest}/{name}"


def _serve_pages(app: FastAPI) -> None:
    """/docs and /redoc as FastAPI makes them, but loading their files from this process."""
    pages = {app.docs_url, app.redoc_url}
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) not in pages]
    parameters = {**(app.swagger_ui_parameters or {}),
                  # No badge fetched from swagger.io's validator: nothing leaves the station's network.
                  "validatorUrl": None}

    async def swagger_ui(request: Request) -> Response:
        root = request.scope.get("root_path", "").rstrip("/")
        redirect = app.swagger_ui_oauth2_redirect_url
        page = get_swagger_ui_html(
            openapi_url=root + app.openapi_url, title=f"{app.title} - Swagger UI",
            swagger_js_url=_url(root, "swagger-ui-bundle.js"), swagger_css_url=_url(root, "swagger-ui.css"),
            swagger_favicon_url=_url(root, "favicon.png"), oauth2_redirect_url=root + redirect if redirect else None,
            init_oauth=app.swagger_ui_init_oauth, swagger_ui_parameters=parameters)
        page.headers["Content-Security-Policy"] = PAGE_CSP
        return page

    async def redoc(request: Request) -> Response:
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_redoc_html(openapi_url=root + app.openapi_url, title=f"{app.title} - ReDoc",
                              redoc_js_url=_url(root, "redoc.standalone.js"),
                              redoc_favicon_url=_url(root, "favicon.png"), with_google_fonts=False)
        page.headers["Content-Security-Policy"] = PAGE_CSP
        return page

    async def asset(digest: str, name: str, request: Request) -> Response:
        return asset_response(doc_assets(), digest, name, request)

    if app.docs_url:
        app.add_route(app.docs_url, swagger_ui, include_in_schema=False)
    if app.redoc_url:
        app.add_route(app.redoc_url, redoc, include_in_schema=False)
    if app.docs_url or app.redoc_url:
        app.add_api_route(ASSETS_PATH + "/{digest}/{name}", asset, methods=["GET"], include_in_schema=False)


def install_docs(app: FastAPI) -> None:
    """Serve /docs and /redoc offline, and complete the app's OpenAPI document (built once, on
    first request) with the answers above."""
    if app.openapi_url:
        _serve_pages(app)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _document(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
