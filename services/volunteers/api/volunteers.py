from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from services.volunteers.deps import (IdReaderDep, IdWriterDep, IfMatchDep, ReadSessionDep, SettingsDep, SubtreeDep,
                                      VaultDep, VolunteerDep, VolunteerForUpdateDep, WriteSessionDep)
from services.volunteers.errors import VolunteerNotFound
from services.volunteers.models import Volunteer
from services.volunteers.repository import volunteers as repo
from services.volunteers.schemas.volunteers import (IdType, VolunteerCreate, VolunteerRead, VolunteerStatus,
                                                    VolunteerUpdate)
from services.volunteers.service import volunteers as service
from services.privacy import is_child
from shared import clock
from shared.audit.reads import log_reads
from shared.etag import answer_created, set_etag
from shared.masking import in_full
from shared.contracts.lookup.client import AskerDep
from shared.contracts.lookup.schemas import LookupAnswer, LookupQuery
from shared.contracts.lookup.server import answer_lookup
from shared.pagination import Page, PageParams, make_page, page_params
from shared.principals import PersonalReaderOr403, PersonalWriterOr403, PrincipalDep
from shared.repository import page

router = APIRouter(prefix="/v1/volunteers", tags=["volunteers"])
ORDER = [Volunteer.created_at, Volunteer.id]


@router.get("", response_model=Page[VolunteerRead])
async def list_volunteers(
    principal: PersonalReaderOr403, session: ReadSessionDep, vault: VaultDep, settings: SettingsDep,
    subtree: SubtreeDep, request: Request, paging: Annotated[PageParams, Depends(page_params)],
    q: Annotated[str | None, Query(min_length=1, max_length=50, description="Name fragment or volunteer number")]
    = None,
    status_: Annotated[VolunteerStatus | None, Query(alias="status")] = None,
    skill: Annotated[str | None, Query(max_length=50)] = None,
    team_id: Annotated[str | None, Query(max_length=64)] = None,
    id_type: IdType = "mainland_id",
    id_number: Annotated[str | None, Query(max_length=32, description="Exact ID number (with id_type)")] = None,
) -> dict:
    """Volunteers of your subtree, newest first; ID numbers and phones always masked."""
    bidx = service.id_number_index(vault, id_type, id_number) if id_number else None
    stmt = repo.list_query(principal, station_path=subtree, q=q, status=status_, skill=skill,
                           id_number_bidx=bidx, team_id=team_id)
    rows = await page(session, stmt, paging, ORDER)
    # A list masks ID numbers and phones: what it shows of an adult is not sensitive, of a child it is.
    today = clock.today()
    await log_reads(request, "volunteer", [(v.id, v.station_path) for v in rows[:paging.limit]
                                           if is_child(v.birth_on, today)])
    reveal = in_full(principal, one_record=False)
    return make_page(rows, paging, ["created_at", "id"],
                     lambda v: service.to_read(vault, v, reveal, settings.star_thresholds))


@router.post("", response_model=VolunteerRead, status_code=status.HTTP_201_CREATED)
async def register_volunteer(body: VolunteerCreate, principal: PersonalWriterOr403, session: WriteSessionDep,
                             vault: VaultDep, settings: SettingsDep, asker: AskerDep,
                             response: Response) -> VolunteerRead:
    """Register a volunteer; an ID number registered already answers 409 (naming the record if you can see it)."""
    record, created = await service.create(session, vault, asker, principal, body)
    answer_created(response, created, record.version, f"/v1/volunteers/{record.id}")
    return service.to_read(vault, record, service.may_reveal(principal, record), settings.star_thresholds)


@router.post("/lookup", response_model=LookupAnswer)
async def lookup_volunteers(body: LookupQuery, principal: PersonalReaderOr403, session: ReadSessionDep) -> LookupAnswer:
    """Which of these ids are volunteers you can see; others are left out."""
    return await answer_lookup(session, Volunteer, principal, body)


@router.get("/me", response_model=VolunteerRead)
async def my_volunteer_record(principal: PrincipalDep, session: ReadSessionDep, vault: VaultDep,
                              settings: SettingsDep, request: Request, response: Response) -> VolunteerRead:
    """The volunteer record linked to your login, in full."""
    record = await repo.linked_to(session, principal.user_id)
    if record is None:
        raise VolunteerNotFound()
    set_etag(response, record.version)
    await log_reads(request, "volunteer", [(record.id, record.station_path)])
    return service.to_read(vault, record, in_full(principal, one_record=True, own=True), settings.star_thresholds)


@router.get("/{volunteer_id}", response_model=VolunteerRead)
async def get_volunteer(record: VolunteerDep, principal: IdReaderDep, vault: VaultDep, settings: SettingsDep,
                        request: Request, response: Response) -> VolunteerRead:
    """One volunteer; station heads, social workers and the volunteer see the ID number in full."""
    set_etag(response, record.version)
    await log_reads(request, "volunteer", [(record.id, record.station_path)])
    return service.to_read(vault, record, service.may_reveal(principal, record), settings.star_thresholds)


@router.patch("/{volunteer_id}", response_model=VolunteerRead)
async def update_volunteer(body: VolunteerUpdate, record: VolunteerForUpdateDep, version: IfMatchDep,
                           principal: IdWriterDep, session: WriteSessionDep, vault: VaultDep,
                           settings: SettingsDep, asker: AskerDep, response: Response) -> VolunteerRead:
    """Change a volunteer's profile, status or linked login (If-Match required)."""
    record = await service.update(session, vault, asker, principal, record, version, body)
    set_etag(response, record.version)
    return service.to_read(vault, record, service.may_reveal(principal, record), settings.star_thresholds)


@router.delete("/{volunteer_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_volunteer(record: VolunteerForUpdateDep, version: IfMatchDep, principal: IdWriterDep,
                           session: WriteSessionDep) -> Response:
    """Remove a volunteer registered in error (soft delete; If-Match); one with service records is marked left."""
    await service.delete(session, principal, record, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
