"""Records of other services that the projects service's records name, checked with their owners
through the gateway as the caller (shared/contracts/lookup): attendees and group members are beneficiaries
(cases), an activity's volunteers are volunteers (volunteers). An id the owner does not show the
caller is refused naming its field, exactly as one that exists nowhere."""

from __future__ import annotations

from dataclasses import dataclass

from services.projects.errors import UnknownAttendees
from shared.errors import BadGateway, InvalidInput
from shared.contracts.lookup.client import Asker

BENEFICIARIES = "/v1/beneficiaries/lookup"
VOLUNTEERS = "/v1/volunteers/lookup"


@dataclass(frozen=True)
class Found:
    id: str
    station_id: int
    populations: list[str]
    # None only for an answer without one (a dry run's description of a person new in the same push
    # carries the number the cases service gave them: shared/prepared.py commits it as given).
    person_no: int | None = None


async def beneficiaries(asker: Asker, ids: list[str], fields: list[str]) -> dict[str, Found]:
    """The beneficiaries behind `ids`, with their current populations; a 422 naming every field
    whose id is not one the caller can see."""
    found = await beneficiaries_found(asker, ids)
    missing = [f for i, f in zip(ids, fields) if i not in found]
    if missing:
        raise UnknownAttendees(missing)
    return found


async def beneficiaries_found(asker: Asker, ids: list[str]) -> dict[str, Found]:
    """The beneficiaries behind `ids` that the caller can see, by id (the others left out)."""
    items = await asker.find(BENEFICIARIES, ids, owner="cases", what="beneficiaries")
    try:
        return {i: Found(i, int(item["station_id"]), list(item["populations"]),
                         int(item["person_no"]) if item.get("person_no") is not None else None)
                for i, item in items.items()}
    except (KeyError, TypeError, ValueError):
        raise BadGateway("The cases service's answer was not understood.", service="cases") from None


async def check_volunteers(asker: Asker, ids: list[str], fields: list[str]) -> None:
    """Every id a volunteer the caller can see; a 422 naming each field whose id is not."""
    found = await volunteers_found(asker, ids)
    missing = [f for i, f in zip(ids, fields) if i not in found]
    if missing:
        raise unknown_volunteers(missing)


async def volunteers_found(asker: Asker, ids: list[str]) -> set[str]:
    """The ids among `ids` that are volunteers the caller can see (one lookup for a whole batch)."""
    return set(await asker.find(VOLUNTEERS, ids, owner="volunteers", what="volunteers"))


def unknown_volunteers(fields: list[str]) -> InvalidInput:
    """The 422 naming each field whose volunteer the caller cannot see."""
    return InvalidInput("No such volunteer in your scope: " + ", ".join(fields) + ".", errors=[
        {"field": f, "message": "No such volunteer in your scope.", "code": "unknown_volunteer"} for f in fields])
