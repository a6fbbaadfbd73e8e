"""Station tree rules: creation under a parent, renames, moves of whole subtrees, deletion."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from collections.abc import Sequence as Seq
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.errors import DuplicateName, NotAllowed, StationCycle, StationNotEmpty
from gateway.identity.repository import stations as repo
from gateway.identity.schemas import StationCreate, StationUpdate
from gateway.identity.service.rules import (MANAGERS, check_kind_under, may_delete_station, may_edit_station,
                                            require_role)
from gateway.models import Station
from shared.principals import Principal, Role
from shared.contracts.holdings.client import HoldingsUnknown
from shared.contracts.holdings.schemas import Holdings
from shared.errors import InvalidInput, ServiceUnavailable
from shared.etag import check_version
from shared.pagination import PageParams
from shared.scope import path_under


# The cursor of a page of children: the values siblings are ordered by.
sibling_key = repo.sibling_key


def _no_station(field: str) -> InvalidInput:
    return InvalidInput.field(field, "No such station in your scope.", "unknown_station")


async def _check_sibling_name(session: AsyncSession, parent_id: int | None, name: str,
                              exclude_id: int | None = None) -> None:
    if await repo.sibling_named(session, parent_id, name, exclude_id):
        raise DuplicateName.on("name", "Another station under the same parent already has this name.")


async def create(session: AsyncSession, actor: Principal, body: StationCreate) -> Station:
    require_role(actor, MANAGERS, "create stations")
    await repo.lock_tree(session)
    parent = await repo.get_in_scope(session, body.parent_id, actor.station_path)
    if parent is None:
        raise _no_station("parent_id")
    check_kind_under(parent.kind, body.kind, "kind")
    await _check_sibling_name(session, parent.id, body.name)
    return await repo.insert(session, parent=parent, kind=body.kind, name=body.name, code=body.code)


async def locked_in_scope(session: AsyncSession, actor: Principal, station_id: int) -> Station | None:
    """For writes: the tree lock first (always in that order: no deadlock), then the row."""
    await repo.lock_tree(session)
    return await repo.get_in_scope(session, station_id, actor.station_path, for_update=True)


async def readable(session: AsyncSession, actor: Principal, station_id: int) -> Station | None:
    return await repo.get_in_scope(session, station_id, actor.station_path)


async def all_children(session: AsyncSession, station: Station) -> Seq[Station]:
    return await repo.live_children(session, station.id)


async def deleted_children(session: AsyncSession, station: Station) -> Seq[Station]:
    return await repo.deleted_children(session, station.id)


async def update(session: AsyncSession, actor: Principal, station: Station, body: StationUpdate,
                 expected_version: int) -> Station:
    if not may_edit_station(actor, station.path):
        raise NotAllowed(f"Your role ({actor.role.value}) cannot change stations.")
    check_version(expected_version, station.version)
    changes = {k: v for k, v in body.model_dump(include=body.model_fields_set).items()
               if getattr(station, k) != v}
    if "name" in changes:
        if changes["name"] is None:
            raise InvalidInput.field("name", "A station needs a name.", "missing")
        await _check_sibling_name(session, station.parent_id, changes["name"], station.id)
    if not changes:
        return station
    return await repo.apply(session, station, changes)


async def move(session: AsyncSession, actor: Principal, station: Station, parent_id: int) -> Station:
    require_role(actor, {Role.admin}, "move stations")
    parent = await repo.get_in_scope(session, parent_id, actor.station_path, for_update=True)
    if parent is None:
        raise _no_station("parent_id")
    if path_under(parent.path, station.path):
        raise StationCycle()
    if parent.id == station.parent_id:
        return station
    check_kind_under(parent.kind, station.kind, "parent_id")
    await _check_sibling_name(session, parent.id, station.name, station.id)
    await repo.move_subtree(session, station, parent)
    return station


# path -> each service's holdings under it (shared.contracts.holdings); HoldingsUnknown when one does not answer.
AskHoldings = Callable[[str], Awaitable[dict[str, Holdings]]]


async def delete(session: AsyncSession, actor: Principal, station: Station, holdings: AskHoldings) -> None:
    """A station's records are official: a station holding any stays (the move takes it, records
    and all, under another parent). Unknown holdings keep it too."""
    if not may_delete_station(actor, station.path):
        raise NotAllowed(f"Your role ({actor.role.value}) cannot delete this station.")
    if await repo.has_live_children(session, station.id):
        raise StationNotEmpty("The station still has stations under it; move or delete them first.")
    if await repo.has_users(session, station.id):
        raise StationNotEmpty("Users are still bound to the station; move them to another station first.")
    try:
        held = await holdings(station.path)
    except HoldingsUnknown as exc:
        raise ServiceUnavailable(f"Services did not answer ({', '.join(exc.services)}); the station was not "
                                 "deleted. Try again.", services=exc.services) from None
    held = {service: h for service, h in held.items() if not h.empty}
    if held:
        raise StationNotEmpty("The station still holds records or open work (see holds); move it to another "
                              "parent with its records instead (see move), or delete the records first.",
                              holds={service: h.model_dump() for service, h in held.items()},
                              move=f"/v1/stations/{station.id}/move")
    await repo.apply(session, station, {"deleted_at": datetime.now(UTC)})


async def children(session: AsyncSession, station: Station, params: PageParams) -> Seq[Station]:
    return await repo.children_page(session, station.id, params)


class Node(NamedTuple):
    station: Station
    depth: int
    key: str  # its place in tree order, for a page's cursor


async def subtree(session: AsyncSession, station: Station, params: PageParams, max_depth: int | None) -> list[Node]:
    return [Node(s, d, k) for s, d, k in await repo.subtree_page(session, station, params, max_depth)]


async def whole_subtree(session: AsyncSession, station: Station, max_depth: int | None = None
                        ) -> Seq[tuple[Station, int]]:
    """Every live station of the subtree in tree order, with its depth (the CLI prints it)."""
    return await repo.subtree(session, station, max_depth)
