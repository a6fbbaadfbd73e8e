"""create_app() for the projects service (port 8002)."""

import httpx
from fastapi import FastAPI

from services.projects import models
from services.projects.api import router
from services.projects.config import ProjectsSettings
from services.projects.service.counting import SERVED
from services.projects.sync import TABLES
from shared.observability import configure_logging
from shared.service_app import build_service_app


def create_app(settings: ProjectsSettings | None = None,
               transports: dict[str, httpx.AsyncBaseTransport] | None = None) -> FastAPI:
    """`transports["gateway"]` replaces the network to the gateway (tests wire in-process apps)."""
    # No vault: the service keeps no value it must find again, only sealed notes (models.py).
    return build_service_app(settings or ProjectsSettings(), transports, service="projects",
                             title="Haolin projects service", routers=(router,), models=models, sync_tables=TABLES,
                             person_day=models.PersonDay, served=SERVED, with_vault=False)


def main() -> FastAPI:
    settings = ProjectsSettings()
    configure_logging(settings.log_level, "projects")
    return create_app(settings)
