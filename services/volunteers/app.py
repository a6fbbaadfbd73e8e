"""create_app() for the volunteers service (port 8003)."""

import httpx
from fastapi import FastAPI

from services.volunteers import models
from services.volunteers.api import router
from services.volunteers.config import VolunteersSettings
from services.volunteers.sync import TABLES
from shared.observability import configure_logging
from shared.service_app import build_service_app


def create_app(settings: VolunteersSettings | None = None,
               transports: dict[str, httpx.AsyncBaseTransport] | None = None) -> FastAPI:
    """`transports["gateway"]` replaces the network to the gateway (tests wire in-process apps)."""
    return build_service_app(settings or VolunteersSettings(), transports, service="volunteers",
                             title="Haolin volunteers service", routers=(router,), models=models, sync_tables=TABLES)


def main() -> FastAPI:
    settings = VolunteersSettings()
    configure_logging(settings.log_level, "volunteers")
    return create_app(settings)
