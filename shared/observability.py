"""Request ids, JSON logs and the request-size limit, as plain ASGI middleware.

Plain ASGI rather than BaseHTTPMiddleware: it is on every request's path and the
latter costs a task and a copy per request. Access logs carry the path, never the
query string: searches put names and phone digits there.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
import traceback
import uuid

from shared.errors import TYPE_BASE

_QUIET_PREFIXES = ("/internal/", "/healthz", "/readyz", "/metrics")
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
access_log = logging.getLogger("haolin.access")


# One encoder for every line: json.dumps(..., ensure_ascii=False) would build a new one per call.
_encode = json.JSONEncoder(ensure_ascii=False).encode


class JsonFormatter(logging.Formatter):
    _second = -1
    _stamp = ""

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second:  # strftime once a second, not once a line
            self._second, self._stamp = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        entry = {
            "ts": f"{self._stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        extra = getattr(record, "fields", None)
        if extra:
            entry.update(extra)
        if record.exc_info and record.exc_info[0] is not None:
            # Type and frames only: an exception's message can quote a row's personal data.
            entry["error"] = record.exc_info[0].__name__
            entry["where"] = [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}"
                              for f in traceback.extract_tb(record.exc_info[2])][-8:]
        return _encode(entry)


def configure_logging(level: str = "INFO", service: str = "haolin") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's own access log and httpx's request log print the query string, which
    # carries searched names and phone digits; ours prints the path only.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Record fields no line prints, each looked up for every record (one line per request):
    # the caller's file and line (a stack walk), thread, process. The logging HOWTO's
    # "Optimization" section names these switches.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


class RequestContextMiddleware:
    def __init__(self, app, service: str, max_body_bytes: int) -> None:
        self.app = app
        self.service = service
        self.max_body = max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid = None
        length = None
        chunked = False
        for k, v in scope["headers"]:
            if k == b"x-request-id":
                rid = v.decode("latin-1")[:64]
            elif k == b"content-length":
                length = v
            elif k == b"transfer-encoding":
                chunked = True
        rid = rid or uuid.uuid4().hex
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status_holder = [0]

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        try:
            if length is not None and int(length) > self.max_body:
                return await _too_large(send_wrapper, self.max_body)
            if not chunked:
                # The server holds a body to its declared length (none: empty): nothing to count.
                return await self.app(scope, receive, send_wrapper)
            # A body without a length (chunked) is read here up to the limit and replayed:
            # an error raised from inside the app's own body parsing would surface as a 400.
            buffered, total, more = [], 0, True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    break
                chunk = message.get("body", b"")
                total += len(chunk)
                if total > self.max_body:
                    return await _too_large(send_wrapper, self.max_body)
                buffered.append(chunk)
                more = message.get("more_body", False)
            replay = [{"type": "http.request", "body": b"".join(buffered), "more_body": False}]

            async def receive_buffered():
                return replay.pop() if replay else await receive()

            await self.app(scope, receive_buffered, send_wrapper)
        finally:
            # Probes and the gateway's internal polling would drown the log; their failures still show.
            quiet = status_holder[0] < 400 and scope["path"].startswith(_QUIET_PREFIXES)
            if not quiet and access_log.isEnabledFor(logging.INFO):
                access_log.info("request", extra={"fields": {
                    "service": self.service, "method": scope["method"], "path": scope["path"],
                    "status": status_holder[0], "ms": round((time.perf_counter() - started) * 1000, 2),
                }})
            request_id_var.reset(token)


async def _too_large(send, limit: int) -> None:
    body = json.dumps({
        "type": TYPE_BASE + "too-large", "title": "Payload too large", "status": 413,
        "detail": f"The request body is larger than {limit} bytes.", "errors": [
            {"field": "body", "message": f"at most {limit} bytes", "code": "too_large"}],
    }).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
