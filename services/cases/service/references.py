"""Records of other services that the cases service's records name, checked with their owners
through the gateway as the caller (shared/contracts/lookup): a case's project. An id the owner does not
show the caller is refused naming its field, exactly as one that exists nowhere."""

from shared.errors import InvalidInput
from shared.contracts.lookup.client import Asker

PROJECTS = "/v1/projects/lookup"


async def check_project(asker: Asker, project_id: str, station_id: int) -> None:
    """A case joins only a live project the caller can see that covers the case's station: its
    contract figures count the case's casework."""
    found = await asker.find(PROJECTS, [project_id], owner="projects", what="projects",
                             extra={"station_id": station_id})
    if project_id not in found:
        raise InvalidInput.field("project_id", "No such project covering this case's station in your scope.",
                                 "unknown_project")
