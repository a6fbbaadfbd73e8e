"""What every process's OpenAPI document says about answers the shared machinery gives for any
route, written once here rather than on each route: the problems of shared/errors.py, the
200 a create answers when a retry with the same client id finds its record (shared/records.py),
and the Idempotency-Key every create takes (shared/idempotency.py).

tests/security/test_schemathesis.py holds every process to its document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from shared.errors import PROBLEM, Problem
from shared.idempotency import KEY_PATTERN

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


def install_docs(app: FastAPI) -> None:
    """Complete the app's OpenAPI document (built once, on first request) with the answers above."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _document(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
