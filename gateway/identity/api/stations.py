"""Station tree endpoints; every id is looked up within the caller's subtree."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from gateway.deps import (ActorDep, ReadSessionDep, StationDep, StationsChangedDep, WritableStationDep,
                          WriteSessionDep)
from gateway.identity.errors import StationNotFound
from gateway.identity.schemas import StationCreate, StationMove, StationNode, StationRead, StationUpdate
from gateway.identity.service import stations as service
from shared.contracts.calls import services
from shared.contracts.holdings.client import station_holdings
from shared.etag import required_version, set_etag
from shared.pagination import Page, PageParams, make_page, page_params
from shared.schemas import INT_MAX

router = APIRouter(prefix="/stations", tags=["stations"])
PageDep = Annotated[PageParams, Depends(page_params)]


def _read(station) -> StationRead:
    return StationRead.model_validate(station)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_station(body: StationCreate, actor: ActorDep, session: WriteSessionDep, response: Response,
                         changed: StationsChangedDep) -> StationRead:
    """Create a station under a parent in your scope (admin; station heads within their subtree)."""
    station = await service.create(session, actor, body)
    changed()
    set_etag(response, station.version)
    response.headers["Location"] = f"/v1/stations/{station.id}"
    return _read(station)


@router.get("")
async def list_scope_roots(actor: ActorDep, session: ReadSessionDep) -> Page[StationRead]:
    """The roots of your scope: the station you are bound to."""
    station = await service.readable(session, actor, actor.station_id)
    if station is None:
        raise StationNotFound()
    return Page(items=[_read(station)])


@router.get("/{station_id}")
async def get_station(station: StationDep, response: Response) -> StationRead:
    """One station of your scope."""
    set_etag(response, station.version)
    return _read(station)


@router.patch("/{station_id}")
async def update_station(body: StationUpdate, station: WritableStationDep, actor: ActorDep,
                         session: WriteSessionDep, request: Request, response: Response,
                         changed: StationsChangedDep) -> StationRead:
    """Rename a station or set its division code; send If-Match with the ETag you read."""
    station = await service.update(session, actor, station, body, required_version(request))
    changed()
    set_etag(response, station.version)
    return _read(station)


@router.post("/{station_id}/move")
async def move_station(body: StationMove, station: WritableStationDep, actor: ActorDep, session: WriteSessionDep,
                       response: Response, changed: StationsChangedDep) -> StationRead:
    """Move a station and its whole subtree under another parent (admin only)."""
    station = await service.move(session, actor, station, body.parent_id)
    changed()
    set_etag(response, station.version)
    return _read(station)


@router.delete("/{station_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses={409: {"description": "Child stations, users, or records or open work (`holds`) keep it"},
                          503: {"description": "A service did not say what the station holds; it is kept"}})
async def delete_station(station: WritableStationDep, actor: ActorDep, session: WriteSessionDep,
                         changed: StationsChangedDep, request: Request) -> None:
    """Delete a station with no live child stations, no users and no live records (kept as a tombstone)."""
    state = request.app.state

    async def holdings(path: str):
        return await station_holdings(services(state.upstreams, state.signer, state.upstreams.names()), path,
                                      state.settings.upstream_timeout_s)

    await service.delete(session, actor, station, holdings)
    changed()


@router.get("/{station_id}/children")
async def list_children(station: StationDep, session: ReadSessionDep, params: PageDep) -> Page[StationRead]:
    """The live stations directly under a station, by division code, then name (stations without a code last)."""
    rows = await service.children(session, station, params)
    return make_page(list(rows), params, service.sibling_key, _read)


@router.get("/{station_id}/subtree")
async def list_subtree(station: StationDep, session: ReadSessionDep, params: PageDep,
                       max_depth: Annotated[int | None, Query(ge=0, le=INT_MAX,
                                                              description="levels below the station")] = None,
                       ) -> Page[StationNode]:
    """The station and every live station below it, in tree order (each station before its children,
    siblings by division code, then name), with depth."""
    rows = await service.subtree(session, station, params, max_depth)
    return make_page(list(rows), params, ["key"],
                     lambda node: StationNode(**_read(node.station).model_dump(), depth=node.depth))
