"""create_app() for the cases service (port 8001)."""

from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.cases.api import router
from services.cases.config import CasesSettings
from services.cases.models import PATH_TABLES, Station
from shared.app import build_app
from shared.auth import TokenVerifier
from shared.db import Database
from shared.observability import configure_logging
from shared.stations import station_replica_router


def create_app(settings: CasesSettings | None = None) -> FastAPI:
    settings = settings or CasesSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.db = Database.connect(settings, "haolin-cases")
        app.state.verifier = TokenVerifier(settings.public_key_pem(), settings.jwt_issuer, settings.jwt_audience)
        yield
        await app.state.db.dispose()

    app = build_app(title="Haolin cases service", service="cases", settings=settings, lifespan=lifespan)
    app.include_router(router)
    app.include_router(station_replica_router(Station, PATH_TABLES))
    return app


def main() -> FastAPI:
    settings = CasesSettings()
    configure_logging(settings.log_level, "cases")
    return create_app(settings)
