"""What every process's create_app() shares: error handlers, middleware (request context, body
limits, Idempotency-Key on creates), health probes, metrics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import text

from shared.config import ServiceSettings
from shared.db import install_unavailable_handler
from shared.docs import install_docs
from shared.errors import NotFound, install_error_handlers, problem_response, refuse_nul, request_language
from shared.idempotency import install_idempotency
from shared.observability import (HttpMetrics, PoolCollector, RequestContextMiddleware, log_loop_errors,
                                  metrics_visible_to)
from shared.multiprocess import WorkerFiles, folder, workers_registry
from shared.proxies import trusted_proxies
from shared.routing import install_prefix_dispatch
from shared.server import settle_heap


def _guarded(lifespan, files: WorkerFiles | None = None):
    """The app's lifespan, after the event loop's unawaited errors are set to be logged by type only;
    with `files`, this worker's metrics are written for the others' scrapes while it runs."""

    @asynccontextmanager
    async def run(app: FastAPI):
        log_loop_errors(asyncio.get_running_loop())
        writing = asyncio.create_task(files.keep_writing(), name="metrics-files") if files is not None else None
        try:
            if lifespan is None:
                settle_heap()
                yield
                return
            async with lifespan(app) as state:
                settle_heap()
                yield state
        finally:
            if writing is not None:
                writing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await writing
                files.close()

    return run


_NO_TELEMETRY = {"tracing": False, "metrics": False, "logs": False}


def build_app(*, title: str, service: str, settings: ServiceSettings, lifespan, idempotent_answers: type | None = None,
              version: str = "0.1.0", description: str = "", middleware: Sequence[type] = (),
              state: Any = None, collectors: Sequence[Collector] = (), **kwargs: Any) -> FastAPI:
    """`idempotent_answers`: the process's shared.idempotency.idempotency_model table, where its
    creates keep their answers for retries (every process has one; harnesses that create nothing
    may leave it out). `middleware`: the process's own plain-ASGI middleware, run inside the shared
    request context (request id, metrics, body limit), so what they answer is logged and counted
    like any answer. `state`: the process's typed state (shared.state.ProcessState), which becomes
    `app.state`; a harness without one gets Starlette's plain State with the settings. `collectors`:
    the process's own metrics, added to /metrics (and gathered across workers) like the shared ones."""
    # FastAPI's native OpenTelemetry off: the processes count and log their own requests
    # (shared/observability.py), and with it on every request looked up the global providers (and
    # the environment) to learn there were none, 1-2% of a read by id's CPU (docs/performance.md).
    # One registry per app, not the process-wide default: tests run several apps in one process.
    registry = CollectorRegistry()
    metrics = HttpMetrics()
    registry.register(metrics)
    for collector in collectors:
        registry.register(collector)
    # Under several workers (PROMETHEUS_MULTIPROC_DIR, shared/multiprocess.py) a scrape answers
    # what every worker counted, in the same series.
    shared_folder = folder()
    files = WorkerFiles(shared_folder, [metrics, *collectors]) if shared_folder else None
    scraped = workers_registry(shared_folder) if shared_folder else registry
    app = FastAPI(title=title, version=version, description=description, lifespan=_guarded(lifespan, files),
                  dependencies=[Depends(refuse_nul)], telemetry=_NO_TELEMETRY, **kwargs)
    if state is not None:
        app.state = state
    else:
        app.state.settings = settings
        app.state.trusted_proxies = trusted_proxies(getattr(settings, "trusted_proxies", ""))
    install_error_handlers(app)
    install_docs(app)
    install_unavailable_handler(app)
    app.state.metrics = metrics
    pools = PoolCollector(app)
    registry.register(pools)
    if files is not None:
        files.collectors.append(pools)
    # Added innermost first: RequestContextMiddleware (request id, metrics, body limits) wraps the
    # process's own middleware (the gateway's live-account check), which wraps the Idempotency-Key
    # one, so a token the gateway refuses never gets a kept answer back.
    if idempotent_answers is not None:
        install_idempotency(app, idempotent_answers)
    for inner in reversed(middleware):
        app.add_middleware(inner)
    app.add_middleware(RequestContextMiddleware, service=service, max_body_bytes=settings.max_body_bytes,
                       sync_max_body_bytes=settings.sync_max_body_bytes, upload_max_bytes=settings.upload_max_bytes,
                       metrics=app.state.metrics)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict:
        return {"status": "ok", "service": service}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request):
        db = getattr(request.app.state, "db", None)
        try:
            if db is not None:
                async with db.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except Exception:
            return problem_response({"type": "about:blank", "title": "Not ready", "status": 503,
                                     "detail": "The database is not reachable."}, lang=request_language(request))
        readiness = getattr(request.app.state, "readiness", None)
        return {"status": "ready", "service": service, **(readiness() if readiness is not None else {})}

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        # Prometheus text format: requests, latency and errors by route template; database pool use.
        if not metrics_visible_to(request.scope.get("client"), request.scope["headers"]):
            raise NotFound()
        if files is not None:
            files.write()  # this worker's counts as of now; the others' as of their last second
        return Response(generate_latest(scraped), media_type=CONTENT_TYPE_LATEST)

    install_prefix_dispatch(app)
    return app
