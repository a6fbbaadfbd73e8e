"""create_app() for the cases service (port 8001)."""

import httpx
from fastapi import FastAPI

from services.cases import models
from services.cases.api import routers
from services.cases.config import CasesSettings
from services.cases.service import cases as case_service
from services.cases.service.counting import SERVED
from services.cases.sync import TABLES
from shared.observability import configure_logging
from shared.service_app import build_service_app


def create_app(settings: CasesSettings | None = None,
               transports: dict[str, httpx.AsyncBaseTransport] | None = None) -> FastAPI:
    """`transports["gateway"]` replaces the network to the gateway (tests wire in-process apps)."""
    return build_service_app(settings or CasesSettings(), transports, service="cases",
                             title="Haolin cases service", routers=routers, models=models, sync_tables=TABLES,
                             person_day=models.PersonDay, departures=models.SyncDeparture,
                             open_work=case_service.open_work, served=SERVED)


def main() -> FastAPI:
    settings = CasesSettings()
    configure_logging(settings.log_level, "cases")
    return create_app(settings)
