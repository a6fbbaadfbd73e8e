"""Problem details (RFC 9457) for every error, from one set of handlers.

Domain code raises an AppError subclass carrying its status; handlers never build
HTTPException blocks of their own. `title`, `detail` and each field's `message` come in the
language of Accept-Language (shared.i18n; English without one); `type`, field names and
codes never change with it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.i18n import ENGLISH, negotiate, translate, validation_message
from shared.labels import Lang

PROBLEM = "application/problem+json"
TYPE_BASE = "https://haolin.dev/problems/"
log = logging.getLogger("haolin.errors")


def field_error(field: str, message: str, code: str = "invalid") -> list[dict[str, Any]]:
    """A problem's `errors` naming one field."""
    return [{"field": field, "message": message, "code": code}]


class AppError(Exception):
    status_code = 500
    title = "Internal error"
    type = "internal"
    # What a domain error raised without them says: its fixed text and the field it names.
    default_detail: ClassVar[str | None] = None
    default_errors: ClassVar[list[dict[str, Any]] | None] = None

    def __init__(self, detail: str | None = None, *, errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        detail = detail or self.default_detail or self.title
        super().__init__(detail)
        self.detail = detail
        self.errors = self.default_errors if errors is None else errors
        self.headers = headers
        self.extra = extra

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": TYPE_BASE + self.type,
            "title": self.title,
            "status": self.status_code,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class NotFound(AppError):
    status_code, title, type = 404, "Not found", "not-found"


class Conflict(AppError):
    status_code, title, type = 409, "Conflict", "conflict"


class InvalidInput(AppError):
    """A request that parsed but breaks a rule; `errors` names the fields."""

    status_code, title, type = 422, "Invalid input", "invalid-input"

    @classmethod
    def field(cls, field: str, message: str, code: str = "invalid") -> "InvalidInput":
        return cls(message, errors=field_error(field, message, code))


class Unauthorized(AppError):
    status_code, title, type = 401, "Not authenticated", "unauthorized"

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kw)


class Forbidden(AppError):
    status_code, title, type = 403, "Forbidden", "forbidden"


class PreconditionFailed(AppError):
    status_code, title, type = 412, "Precondition failed", "stale"


class PreconditionRequired(AppError):
    status_code, title, type = 428, "Precondition required", "if-match-required"


class PayloadTooLarge(AppError):
    status_code, title, type = 413, "Payload too large", "too-large"


class UnsupportedMediaType(AppError):
    """Content of a kind the endpoint does not take (a file's type is told by its bytes)."""

    status_code, title, type = 415, "Unsupported media type", "unsupported-media-type"


class TooManyRequests(AppError):
    status_code, title, type = 429, "Too many requests", "rate-limited"


class BadGateway(AppError):
    status_code, title, type = 502, "Upstream service failed", "bad-gateway"


class GatewayTimeout(AppError):
    status_code, title, type = 504, "Upstream service timed out", "gateway-timeout"


class ServiceUnavailable(AppError):
    """A service whose answer a write depends on did not give it: the write is not made (fail closed)."""

    status_code, title, type = 503, "Service unavailable", "service-unavailable"


def request_language(request: Request) -> Lang:
    return negotiate(request.headers.get("accept-language"))


def localize(problem: dict[str, Any], lang: Lang) -> dict[str, Any]:
    """The problem with its human text in `lang`; machine fields (type, field, code) unchanged."""
    if lang == ENGLISH:
        return problem
    out = dict(problem)
    for key in ("title", "detail"):
        if isinstance(out.get(key), str):
            out[key] = translate(out[key], lang)
    if isinstance(out.get("errors"), list):
        out["errors"] = [{**e, "message": translate(e["message"], lang)}
                         if isinstance(e, dict) and isinstance(e.get("message"), str) else e
                         for e in out["errors"]]
    return out


def problem_response(problem: dict[str, Any], headers: dict[str, str] | None = None,
                     lang: Lang = ENGLISH) -> JSONResponse:
    if lang != ENGLISH:
        problem = localize(problem, lang)
        headers = {**(headers or {}), "Content-Language": lang}
    return JSONResponse(problem, status_code=problem["status"], media_type=PROBLEM, headers=headers)


async def send_problem(scope, receive, send, problem: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    """`problem` answered by plain ASGI middleware (before any route), in the request's language."""
    language = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"accept-language"), None)
    await problem_response(problem, headers, negotiate(language))(scope, receive, send)


def _field_name(loc: tuple | list) -> str:
    # ("body", "profile", "birth_on") -> "profile.birth_on"; query/path keep their source.
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[1:] or ["body"]
    return ".".join(parts)


def duration(seconds: int) -> str:
    """A wait as a person reads it: '49 s', '4 min 49 s', '1 h 4 min 9 s' (shared.i18n puts it in Chinese)."""
    hours, rest = divmod(max(int(seconds), 0), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    if hours or minutes:
        parts.append(f"{minutes} min")
    return " ".join([*parts, f"{secs} s"])


def malformed_json(error: dict, document: Any) -> str:
    """What FastAPI reports as json_invalid (the character position of the failure), said as a
    person finds it in the body: line and column, and why."""
    position = error.get("loc", ("body", 0))[-1]
    text = document if isinstance(document, str) else ""
    position = position if isinstance(position, int) and 0 <= position <= len(text) else 0
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    reason = (error.get("ctx") or {}).get("error") or "malformed"
    return f"The request body is not valid JSON: line {line}, column {column} ({reason})."


def validation_errors(exc: RequestValidationError, lang: Lang = ENGLISH) -> tuple[int, list[dict[str, Any]]]:
    errors = []
    status = 422
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            # The body as a whole, not a field named by the character position FastAPI puts in `loc`.
            message = translate(malformed_json(err, exc.body), lang)
            return 400, [{"field": "body", "message": message, "code": "json_invalid"}]
        errors.append({"field": _field_name(err.get("loc", ())), "message": validation_message(err, lang),
                       "code": err.get("type", "invalid")})
    return status, errors


# A check an endpoint adds for a body that failed validation: `check(request, body)` answers the
# field problems only the service can see (codes unknown to its database...), so one 422 names
# every problem at once instead of the next only after the first are fixed.
MoreChecks = Callable[[Request, dict[str, Any]], Awaitable[list[dict[str, Any]]]]
_MORE_CHECKS = "__more_checks__"


def also_check(check: MoreChecks) -> Callable[[Callable], Callable]:
    """Decorate an endpoint (under its route decorator) with a check for bodies that failed validation."""
    def mark(endpoint: Callable) -> Callable:
        setattr(endpoint, _MORE_CHECKS, check)
        return endpoint
    return mark


async def _more_problems(request: Request, exc: RequestValidationError, errors: list[dict[str, Any]],
                         lang: Lang) -> list[dict[str, Any]]:
    check = getattr(getattr(request.scope.get("route"), "endpoint", None), _MORE_CHECKS, None)
    if check is None or not isinstance(exc.body, dict) or any(e["code"] == "json_invalid" for e in errors):
        return []
    named = {e["field"] for e in errors}
    return [{**e, "message": translate(e["message"], lang)} for e in await check(request, exc.body)
            if e["field"] not in named]


async def refuse_nul(request: Request) -> None:
    """Every route's first dependency: a path or query value with the NUL character (which no
    PostgreSQL text can hold) answers 422 naming it, before any lookup uses it."""
    scope = request.scope
    if "\x00" in scope["path"]:
        raise InvalidInput.field("path", "The path must not contain the NUL character (U+0000).", "nul")
    if b"%00" in scope["query_string"]:
        for name, value in request.query_params.multi_items():
            if "\x00" in value or "\x00" in name:
                raise InvalidInput.field(f"query.{name.replace(chr(0), '')}",
                                         "must not contain the NUL character (U+0000)", "nul")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return problem_response(exc.to_problem(request.url.path), exc.headers, request_language(request))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        lang = request_language(request)
        status, errors = validation_errors(exc, lang)
        errors += await _more_problems(request, exc, errors, lang)
        fields = ", ".join(sorted({e["field"] for e in errors}))
        malformed = status == 400
        # The field messages are in `lang` already; title and detail are translated by problem_response.
        return problem_response({
            "type": TYPE_BASE + ("malformed" if malformed else "invalid-input"),
            "title": "Malformed request body" if malformed else "Invalid input", "status": status,
            "detail": malformed_json(exc.errors()[0], exc.body) if malformed else f"Check these fields: {fields}",
            "instance": request.url.path, "errors": errors,
        }, lang=lang)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed"}
        return problem_response({
            "type": TYPE_BASE + str(exc.status_code), "title": titles.get(exc.status_code, "Error"),
            "status": exc.status_code, "detail": str(exc.detail), "instance": request.url.path,
        }, getattr(exc, "headers", None), request_language(request))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Logged with its type only: an exception's text can carry personal data from a row.
        log.error("unhandled error on %s %s: %s", request.method, request.url.path, type(exc).__name__,
                  exc_info=exc)
        return problem_response({
            "type": TYPE_BASE + "internal", "title": "Internal error", "status": 500,
            "detail": "The server could not complete the request.", "instance": request.url.path,
        }, lang=request_language(request))


class FieldProblem(BaseModel):
    field: str
    message: str
    code: str


class Problem(BaseModel):
    """A problem (RFC 9457), as every error of every process is answered; some carry more members
    (current_status, allowed_actions, service...)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldProblem] | None = None

