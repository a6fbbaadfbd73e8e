"""/v1/volunteers/{volunteer_id}/entries: training, awards and evaluations."""

from fastapi import APIRouter, Response, status

from services.volunteers.deps import (IdWriterDep, IfMatchDep, ReadSessionDep, VaultDep, VolunteerDep,
                                      VolunteerForUpdateDep, WriteSessionDep)
from services.volunteers.repository import volunteers as repo
from services.volunteers.schemas.volunteers import EntryCreate, EntryList, EntryRead
from services.volunteers.service import entries as service
from shared.etag import answer_created
from shared.records import RecordNotFound

router = APIRouter(prefix="/v1/volunteers/{volunteer_id}/entries", tags=["volunteers"])


@router.get("", response_model=EntryList)
async def list_entries(volunteer: VolunteerDep, session: ReadSessionDep) -> EntryList:
    """The volunteer's training, awards and evaluations, latest first."""
    return EntryList(items=[EntryRead.model_validate(e) for e in await repo.entries(session, volunteer.id)])


@router.post("", response_model=EntryRead, status_code=status.HTTP_201_CREATED)
async def add_entry(body: EntryCreate, volunteer: VolunteerForUpdateDep, principal: IdWriterDep,
                    session: WriteSessionDep, vault: VaultDep, response: Response) -> EntryRead:
    """Add a training, award or evaluation entry to the volunteer's record."""
    entry, created = await service.create(session, vault, principal, volunteer, body)
    answer_created(response, created, entry.version, f"/v1/volunteers/{volunteer.id}/entries/{entry.id}")
    return EntryRead.model_validate(entry)


@router.delete("/{entry_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_entry(entry_id: str, volunteer: VolunteerForUpdateDep, version: IfMatchDep, principal: IdWriterDep,
                       session: WriteSessionDep) -> Response:
    """Remove an entry made in error (soft delete; If-Match required)."""
    entry = await repo.entry(session, volunteer.id, entry_id)
    if entry is None:
        raise RecordNotFound("entry")
    service.delete(principal, entry, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
