"""create_app() of a service (cases, projects, volunteers): its state, the lifespan that runs it, the
shared app, the service's own routers, and the internal routers every service answers the gateway on."""

from collections.abc import Sequence
from contextlib import asynccontextmanager

import httpx
from fastapi import APIRouter, FastAPI

from shared import clock
from shared.app import build_app
from shared.config import ServiceSettings
from shared.contracts.activity.server import Served, internal_activity_router
from shared.contracts.audit.server import internal_audit_router
from shared.contracts.holdings.server import OpenWork, holdings_router
from shared.contracts.persons.server import internal_persons_router
from shared.distinct_sets import Kept
from shared.contracts.stations.server import station_replica_router
from shared.contracts.sync.server import internal_sync_router
from shared.state import ServiceState
from shared.stations import write_guard


def build_service_app(settings: ServiceSettings, transports: dict[str, httpx.AsyncBaseTransport] | None, *,
                      service: str, title: str, routers: Sequence[APIRouter], models, sync_tables: list,
                      person_day: type | None = None, departures: type | None = None,
                      open_work: OpenWork | None = None,
                      served: Sequence[Served] = (), with_vault: bool = True) -> FastAPI:
    """`models`: the service's models module (Base, AuditLog, IdempotentAnswer, Station, PATH_TABLES,
    RECORD_TABLES). `person_day`: its table of person-days, for a service whose records count persons.
    `departures`: its shared.departures model, for a service that moves records between subtrees.
    `served`: its tables of service given, for a service whose records make a station or a worker active."""
    clock.configure(settings.timezone)
    transports = transports or {}
    state = ServiceState(settings, models.AuditLog, metadata=models.Base.metadata, name=f"haolin-{service}",
                         files=service, write_guard=write_guard(models.Station), with_vault=with_vault,
                         rollup=models.DailyStat.__table__.schema, prepared=service)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with state.running(transports.get("gateway")):
            yield

    app = build_app(title=title, service=service, settings=settings, lifespan=lifespan,
                    idempotent_answers=models.IdempotentAnswer, state=state)
    # Each module's router straight onto the app, not through one aggregate router: FastAPI matches
    # a request again at every level of inclusion, about 50 us of CPU a read for the one extra level.
    for router in routers:
        app.include_router(router)
    app.include_router(station_replica_router(models.Station, models.PATH_TABLES))
    app.include_router(holdings_router(models.RECORD_TABLES, open_work=open_work))
    # Where the service keeps its distinct sets by ancestor and month (shared.distinct_sets), if it does.
    kept = Kept.of(models)
    if person_day is not None:
        app.include_router(internal_persons_router(person_day, kept))
    if served:
        app.include_router(internal_activity_router(served, kept))
    app.include_router(internal_audit_router(models.AuditLog))
    app.include_router(internal_sync_router(sync_tables, departures))
    return app
