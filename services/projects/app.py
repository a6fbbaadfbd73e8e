"""create_app() for the projects service (port 8002)."""

from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.projects.api import router
from services.projects.config import ProjectsSettings
from services.projects.models import PATH_TABLES, RECORD_TABLES, AuditLog, IdempotentAnswer, PersonDay, Station
from services.projects.sync import TABLES as SYNC_TABLES
from shared import clock, crypto
from shared.contracts.lookup import client as lookup
from shared.app import build_app
from shared.attachments import AttachmentFiles
from shared.audit import internal_audit_router
from shared.auth import TokenVerifier
from shared.contracts.holdings.server import holdings_router
from shared.db import Database
from shared.observability import configure_logging
from shared.contracts.persons.server import internal_persons_router
from shared.contracts.stations.server import station_replica_router
from shared.stations import write_guard
from shared.sync import internal_sync_router


def create_app(settings: ProjectsSettings | None = None,
               transports: dict[str, httpx.AsyncBaseTransport] | None = None) -> FastAPI:
    """`transports["gateway"]` replaces the network to the gateway (tests wire in-process apps)."""
    settings = settings or ProjectsSettings()
    clock.configure(settings.timezone)
    transports = transports or {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # read_pool: audit reads; write_guard: writes and station moves take turns (shared.stations)
        app.state.db = await Database.start(settings, "haolin-projects", write_guard=write_guard(Station))
        cipher = crypto.configure(settings.field_encryption_keys)  # the sealed notes (models.py)
        app.state.verifier = TokenVerifier(settings.public_key_pem(), settings.jwt_issuer, settings.jwt_audience)
        app.state.lookup = lookup.build(settings, transports.get("gateway"))
        app.state.attachments = AttachmentFiles.open(settings, "projects", cipher)
        await app.state.attachments.start()
        try:
            yield
        finally:
            await app.state.attachments.close()
            await app.state.lookup.aclose()
            await app.state.db.dispose()

    app = build_app(title="Haolin projects service", service="projects", settings=settings, lifespan=lifespan,
                    idempotent_answers=IdempotentAnswer)
    app.include_router(router)
    app.include_router(station_replica_router(Station, PATH_TABLES))
    app.include_router(holdings_router(RECORD_TABLES))
    app.include_router(internal_persons_router(PersonDay))
    app.include_router(internal_sync_router(SYNC_TABLES))
    app.include_router(internal_audit_router(AuditLog))
    app.state.audit_log = AuditLog
    return app


def main() -> FastAPI:
    settings = ProjectsSettings()
    configure_logging(settings.log_level, "projects")
    return create_app(settings)
