"""create_app() for the volunteers service (port 8003)."""

from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.volunteers.api import router
from services.volunteers.config import VolunteersSettings
from services.volunteers.models import PATH_TABLES, RECORD_TABLES, AuditLog, Base, IdempotentAnswer, Station
from services.volunteers.sync import TABLES
from shared import clock
from shared.app import build_app
from shared.contracts.audit.server import internal_audit_router
from shared.contracts.holdings.server import holdings_router
from shared.observability import configure_logging
from shared.state import ServiceState
from shared.contracts.stations.server import station_replica_router
from shared.stations import write_guard
from shared.contracts.sync.server import internal_sync_router


def create_app(settings: VolunteersSettings | None = None,
               transports: dict[str, httpx.AsyncBaseTransport] | None = None) -> FastAPI:
    """`transports["gateway"]` replaces the network to the gateway (tests wire in-process apps)."""
    settings = settings or VolunteersSettings()
    clock.configure(settings.timezone)
    transports = transports or {}
    state = ServiceState(settings, AuditLog, metadata=Base.metadata, name="haolin-volunteers", files="volunteers",
                         write_guard=write_guard(Station))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with state.running(transports.get("gateway")):
            yield

    app = build_app(title="Haolin volunteers service", service="volunteers", settings=settings, lifespan=lifespan,
                    idempotent_answers=IdempotentAnswer, state=state)
    app.include_router(router)
    app.include_router(station_replica_router(Station, PATH_TABLES))
    app.include_router(holdings_router(RECORD_TABLES))
    app.include_router(internal_sync_router(TABLES))
    app.include_router(internal_audit_router(AuditLog))
    return app


def main() -> FastAPI:
    settings = VolunteersSettings()
    configure_logging(settings.log_level, "volunteers")
    return create_app(settings)
