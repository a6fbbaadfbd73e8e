"""create_app() for the gateway (port 8000): the one origin for apps, tablets and dashboards."""

from __future__ import annotations

from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from gateway.audit.api import router as audit_router
from gateway.models import AuditLog, IdempotentAnswer
from gateway.config import GatewaySettings
from gateway.dashboard import router as dashboard_router
from gateway.flows.progress import router as progress_router
from gateway.flows.review import router as review_router
from gateway.identity.api import router as identity_router
from gateway.identity.live import AccountGate
from gateway.meta.api import router as meta_router
from gateway.reports.api import router as reports_router
from gateway.stats.api import router as stats_router
from gateway.sync.admission import SyncAdmissionMiddleware
from gateway.sync.api import router as sync_router
from gateway.sync.attachments import router as sync_attachments_router
from gateway.state import GatewayState
from gateway.upstream import install_proxy
from gateway.upstream.replicas import ReplicaCollector
from shared import clock
from shared.app import build_app
from shared.observability import configure_logging


# The document's first section: what a reader does first.
OPENAPI_TAGS = [{"name": "auth", "description": "Log in with a username and password (the Authorize button does it "
                                                "for you), refresh the access token, log out."}]


def create_app(settings: GatewaySettings | None = None,
               transports: dict[str, httpx.AsyncBaseTransport] | None = None) -> FastAPI:
    """`transports` replaces the network to a service (tests wire in-process apps)."""
    settings = settings or GatewaySettings()
    clock.configure(settings.timezone)
    state = GatewayState(settings, AuditLog)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with state.running(transports):
            yield

    app = build_app(title="Haolin (好邻) gateway", service="gateway", settings=settings, lifespan=lifespan,
                    idempotent_answers=IdempotentAnswer,
                    description="Community social-work stations: casework, group work, community activities "
                                "and volunteers. Log in with the Authorize button (username and password).",
                    openapi_tags=OPENAPI_TAGS, middleware=[AccountGate, SyncAdmissionMiddleware], state=state,
                    collectors=[ReplicaCollector(state.replica_sets)])
    app.include_router(identity_router)
    app.include_router(progress_router)
    app.include_router(review_router)
    app.include_router(stats_router)
    app.include_router(sync_router)
    app.include_router(sync_attachments_router)
    app.include_router(dashboard_router)
    app.include_router(meta_router)
    app.include_router(reports_router)
    app.include_router(audit_router)
    install_proxy(app)
    return app


def main() -> FastAPI:
    settings = GatewaySettings()
    configure_logging(settings.log_level, "gateway")
    return create_app(settings)
