"""create_app() for the volunteers service (port 8003)."""

from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.volunteers.api import router
from services.volunteers.config import VolunteersSettings
from services.volunteers.models import PATH_TABLES, RECORD_TABLES, AuditLog, IdempotentAnswer, Station
from services.volunteers.sync import TABLES
from shared import clock
from shared.contracts.lookup import client as lookup
from shared.app import build_app
from shared.attachments import AttachmentFiles
from shared.auth import TokenVerifier
from shared.audit import internal_audit_router
from shared.contracts.holdings.server import holdings_router
from shared.db import Database
from shared.observability import configure_logging
from shared.records import Vault
from shared.contracts.stations.server import station_replica_router
from shared.stations import write_guard
from shared.sync import internal_sync_router


def create_app(settings: VolunteersSettings | None = None,
               transports: dict[str, httpx.AsyncBaseTransport] | None = None) -> FastAPI:
    """`transports["gateway"]` replaces the network to the gateway (tests wire in-process apps)."""
    settings = settings or VolunteersSettings()
    clock.configure(settings.timezone)
    transports = transports or {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # read_pool: audit reads; write_guard: writes and station moves take turns (shared.stations)
        # write_guard: writes and station moves take turns (shared.stations)
        app.state.db = await Database.start(settings, "haolin-volunteers", write_guard=write_guard(Station))
        app.state.verifier = TokenVerifier(settings.public_key_pem(), settings.jwt_issuer, settings.jwt_audience)
        app.state.vault = Vault.from_settings(settings)
        # References to other services' records are checked with their owners (shared/lookup.py).
        app.state.lookup = lookup.build(settings, transports.get("gateway"))
        app.state.attachments = AttachmentFiles.open(settings, "volunteers", app.state.vault.cipher)
        await app.state.attachments.start()
        try:
            yield
        finally:
            await app.state.attachments.close()
            await app.state.lookup.aclose()
            await app.state.db.dispose()

    app = build_app(title="Haolin volunteers service", service="volunteers", settings=settings, lifespan=lifespan,
                    idempotent_answers=IdempotentAnswer)
    app.include_router(router)
    app.include_router(station_replica_router(Station, PATH_TABLES))
    app.include_router(holdings_router(RECORD_TABLES))
    app.include_router(internal_sync_router(TABLES))
    app.include_router(internal_audit_router(AuditLog))
    app.state.audit_log = AuditLog
    return app


def main() -> FastAPI:
    settings = VolunteersSettings()
    configure_logging(settings.log_level, "volunteers")
    return create_app(settings)
