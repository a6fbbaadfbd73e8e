"""Request ids, JSON logs, request metrics and the request-size limit, as plain ASGI middleware.

Plain ASGI rather than BaseHTTPMiddleware: it is on every request's path and the
latter costs a task and a copy per request. Access logs carry the path, never the
query string: searches put names and phone digits there. Metrics are labelled by the
route's template (/v1/cases/{case_id}), never the raw path: ids would make a series each.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import re
import sys
import time
import traceback
import uuid
import weakref
from bisect import bisect_left
from collections import defaultdict
from ipaddress import ip_address
from itertools import accumulate

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from shared.errors import TYPE_BASE
from shared.i18n import ENGLISH, negotiate, translate

_QUIET_PREFIXES = ("/internal/", "/healthz", "/readyz", "/metrics")
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
access_log = logging.getLogger("haolin.access")
loop_log = logging.getLogger("haolin.loop")
_WORDS = re.compile(r"[A-Za-z ]*")


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
    # uvicorn logs an exception that leaves the app ("Exception in ASGI application": Starlette
    # re-raises every one after its handler has answered 500, and one raised after a response
    # started reaches nobody else) with its own handler, which prints the exception's text: a
    # database error's text can quote the row. Through ours it is its type and frames only.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
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


def log_loop_errors(loop: asyncio.AbstractEventLoop) -> None:
    """An exception nobody awaited (a background task's, a callback's) logged by type and frames.
    asyncio's own handler writes the failed task's repr into the message, and with it the
    exception's text."""

    def handle(_: asyncio.AbstractEventLoop, context: dict) -> None:
        exc = context.get("exception")
        # The message's words say what failed ("Task exception was never retrieved"); what follows
        # them ("Exception in callback <repr>") and the context's other entries are reprs of objects.
        what = _WORDS.match(str(context.get("message") or "")).group(0).strip() or "unhandled error"
        loop_log.error("event loop: %s", what, exc_info=exc if isinstance(exc, BaseException) else None)

    loop.set_exception_handler(handle)


# Label for requests no route matched (scanners' paths must not each make a series).
UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


# Latency buckets in seconds (Prometheus client's defaults); the last, +Inf, is implied.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HttpMetrics(Collector):
    """A process's request metrics: requests by route template and status class, a latency
    histogram by route, errors by route and status.

    Counted in plain lists and turned into Prometheus families only when scraped: prometheus
    client's own Counter and Histogram take a lock per value and cost ~5 us a request, this
    under 1 us. The middleware runs on the event loop's one thread, so no lock is needed.
    """

    def __init__(self) -> None:
        # (route, method, status) -> [count, seconds, one count per bucket of BUCKETS, then +Inf]
        self._series: dict[tuple[str, str, int], list] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        series = self._series.get(key)
        if series is None:
            if method not in _METHODS:  # a client's made-up method must not make new series
                key = (route, "other", status)
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = [0, 0.0] + [0] * (len(BUCKETS) + 1)
        series[0] += 1
        series[1] += seconds
        series[2 + bisect_left(BUCKETS, seconds)] += 1

    def collect(self):
        requests = CounterMetricFamily("haolin_http_requests", "Requests answered, by route template and status class",
                                       labels=["route", "method", "status_class"])
        errors = CounterMetricFamily("haolin_http_errors", "Requests answered with a 4xx or 5xx status, by route",
                                     labels=["route", "method", "status"])
        latency = HistogramMetricFamily("haolin_http_request_duration_seconds",
                                        "Time from the request to the end of the answer, by route template",
                                        labels=["route", "method"])
        by_class: dict[tuple[str, str, str], int] = defaultdict(int)
        by_route: dict[tuple[str, str], list] = {}
        for (route, method, status), series in list(self._series.items()):
            by_class[(route, method, f"{status // 100}xx")] += series[0]
            if status >= 400:
                errors.add_metric([route, method, str(status)], series[0])
            merged = by_route.setdefault((route, method), [0] * len(series))
            for i, v in enumerate(series):
                merged[i] += v
        for labels, count in by_class.items():
            requests.add_metric(list(labels), count)
        for (route, method), series in by_route.items():
            cumulative = list(accumulate(series[2:]))
            buckets = [(str(le), n) for le, n in zip(BUCKETS, cumulative, strict=False)] + [("+Inf", cumulative[-1])]
            latency.add_metric([route, method], buckets, sum_value=series[1])
        return [requests, errors, latency]


class RouteTemplates:
    """The template of the route that answered ("/v1/cases/{case_id}"), from what the routers left in the scope."""

    def __init__(self) -> None:
        # endpoint -> [(its path parameters, template)] of plain Starlette routes (the gateway's proxy).
        self._plain: dict[object, list[tuple[frozenset[str], str]]] = {}

    def __call__(self, scope) -> str:
        # A route of an included router: FastAPI (0.163) keeps the full path in its effective
        # route context, while scope["route"] holds the inner route with its path relative to the
        # router's prefix. tests/gateway/test_observability.py catches a change of this on upgrade.
        context = scope.get("fastapi", {}).get("effective_route_context")
        path = getattr(context, "path_format", None)
        if path:
            return path
        route = scope.get("route")  # a FastAPI route of the app itself; a partial match for a 405
        if route is not None:
            return getattr(route, "path", None) or UNMATCHED
        endpoint = scope.get("endpoint")
        if endpoint is None:
            return UNMATCHED
        # A plain route leaves only its endpoint and path parameters: look its template up once.
        candidates = self._plain.get(endpoint)
        if candidates is None:
            candidates = self._plain[endpoint] = [
                (frozenset(r.param_convertors), r.path) for r in getattr(scope.get("router"), "routes", ())
                if getattr(r, "endpoint", None) is endpoint and hasattr(r, "param_convertors")]
        params = scope.get("path_params", {}).keys()
        for names, template in candidates:
            if names == params:
                return template
        return candidates[0][1] if candidates else UNMATCHED


class PoolCollector(Collector):
    """Database pool use, read when scraped: SQLAlchemy's engine pool and the raw asyncpg read pool."""

    def __init__(self, app) -> None:
        self._app = weakref.ref(app)

    def collect(self):
        checked_out = GaugeMetricFamily("haolin_db_pool_checked_out", "Connections in use by a request",
                                        labels=["pool"])
        opened = GaugeMetricFamily("haolin_db_pool_open", "Connections open (in use or idle)", labels=["pool"])
        size = GaugeMetricFamily("haolin_db_pool_max", "Most connections the pool will open", labels=["pool"])
        app = self._app()
        db = getattr(app.state, "db", None) if app is not None else None
        if db is not None:
            settings = app.state.settings
            pool = db.engine.sync_engine.pool
            checked_out.add_metric(["engine"], pool.checkedout())
            opened.add_metric(["engine"], pool.checkedout() + pool.checkedin())
            size.add_metric(["engine"], settings.db_pool_size + settings.db_max_overflow)
            reads = getattr(db, "read_pool", None)
            if reads is not None:
                checked_out.add_metric(["read"], reads.get_size() - reads.get_idle_size())
                opened.add_metric(["read"], reads.get_size())
                size.add_metric(["read"], reads.get_max_size())
        return [checked_out, opened, size]


def metrics_visible_to(client: tuple | None, headers: list[tuple[bytes, bytes]]) -> bool:
    """/metrics answers a scraper on this host or the private network, not a client forwarded
    by a proxy (the public side); the figures hold no personal data, but routes and rates are
    nobody else's business."""
    if any(k == b"x-forwarded-for" for k, _ in headers):
        return False
    if not client:
        return False
    try:
        address = ip_address(client[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


# Every answer no route set its own caching for: records, lists, tokens, sync pulls, certificates,
# errors hold people's data or say something of it, so no cache (a browser's, a proxy's) may keep
# them, nor hand one caller's answer to another. Routes of figures and labels, which are no one's
# personal data, choose their own (gateway/stats: private, max-age).
_NO_STORE = [(b"cache-control", b"no-store"), (b"vary", b"Authorization")]

# A tablet's push, at the gateway and as each service's part of it: their own body limit.
SYNC_PUSH_PATHS = frozenset({"/v1/sync", "/internal/sync/push"})


def is_upload(scope) -> bool:
    """A file's upload (shared/attachments): its own limit (UPLOAD_MAX_BYTES), and its body streamed
    on, never buffered here: the upload pipeline counts it as it arrives and stops it at the limit."""
    path = scope["path"]
    return ((scope["method"] == "POST" and path.endswith("/attachments"))
            or (scope["method"] == "PUT" and path.startswith(("/v1/sync/attachments/", "/internal/sync/attachments/"))))


class RequestContextMiddleware:
    def __init__(self, app, service: str, max_body_bytes: int, metrics: HttpMetrics | None = None,
                 sync_max_body_bytes: int | None = None, upload_max_bytes: int | None = None) -> None:
        self.app = app
        self.upload_max = upload_max_bytes or max_body_bytes
        self.service = service
        self.max_body = max_body_bytes
        self.sync_max_body = sync_max_body_bytes or max_body_bytes
        self.metrics = metrics
        self.route_template = RouteTemplates()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid = None
        length = None
        chunked = False
        language = None
        for k, v in scope["headers"]:
            if k == b"x-request-id":
                rid = v.decode("latin-1")[:64]
            elif k == b"content-length":
                length = v
            elif k == b"transfer-encoding":
                chunked = True
            elif k == b"accept-language":
                language = v
        rid = rid or uuid.uuid4().hex
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status_holder = [0]

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", rid.encode("latin-1")))
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers += _NO_STORE
                message["headers"] = headers
            await send(message)

        upload = is_upload(scope)
        limit = self.upload_max if upload else self.sync_max_body if scope["path"] in SYNC_PUSH_PATHS else self.max_body
        try:
            if length is not None and int(length) > limit:
                return await _too_large(send_wrapper, limit, language)
            if not chunked or upload:
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
                if total > limit:
                    return await _too_large(send_wrapper, limit, language)
                buffered.append(chunk)
                more = message.get("more_body", False)
            replay = [{"type": "http.request", "body": b"".join(buffered), "more_body": False}]

            async def receive_buffered():
                return replay.pop() if replay else await receive()

            await self.app(scope, receive_buffered, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            # No response started: the exception went on to the server-error handler, which answers 500.
            status = status_holder[0] or 500
            if self.metrics is not None:
                self.metrics.observe(self.route_template(scope), scope["method"], status, elapsed)
            # Probes and the gateway's internal polling would drown the log; their failures still show.
            quiet = status < 400 and scope["path"].startswith(_QUIET_PREFIXES)
            if not quiet and access_log.isEnabledFor(logging.INFO):
                access_log.info("request", extra={"fields": {
                    "service": self.service, "method": scope["method"], "path": scope["path"],
                    "status": status, "ms": round(elapsed * 1000, 2),
                }})
            request_id_var.reset(token)


async def _too_large(send, limit: int, language: bytes | None = None) -> None:
    lang = negotiate(language.decode("latin-1")) if language else ENGLISH
    body = json.dumps({
        "type": TYPE_BASE + "too-large", "title": translate("Payload too large", lang), "status": 413,
        "detail": translate(f"The request body is larger than {limit} bytes.", lang), "errors": [
            {"field": "body", "message": translate(f"at most {limit} bytes", lang), "code": "too_large"}],
    }, ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    if lang != ENGLISH:
        headers.append((b"content-language", lang.encode()))
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
