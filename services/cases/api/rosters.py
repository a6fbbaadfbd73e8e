"""/v1/rosters: civil-affairs rosters imported for a station's subtree, and a person's roster membership."""

from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile, status

from services.cases.deps import (BeneficiaryDep, IdReaderDep, ReadSessionDep, SettingsDep, SubtreeDep, VaultDep,
                                 WriteSessionDep)
from services.cases.models import RosterImport, RosterMember, Station
from services.cases.schemas.rosters import RosterImportRead, RosterImportReport, RosterMemberRead, RosterMembership
from services.cases.service import rosters as service
from shared import clock
from shared.audit import log_reads
from shared.errors import PayloadTooLarge
from shared.pagination import Page, PageParams, make_page, page_params
from shared.principals import PersonalReaderOr403, PersonalWriterOr403
from shared.repository import live, narrowed, page
from shared.schemas import PastDate, RowId
from shared.stations import resolve_station

router = APIRouter(tags=["rosters"])


@router.post("/v1/rosters/import", response_model=RosterImportReport, status_code=status.HTTP_201_CREATED,
             responses={200: {"model": RosterImportReport, "description": "A dry run: checked, nothing written"}})
async def import_roster(
    file: Annotated[UploadFile, File(description=".xlsx or CSV; header row: 姓名, 身份证号, 人群类别, 村(社区), 住址, "
                                                 "联系电话 (or name, id_number, population, village, address, phone)")],
    principal: PersonalWriterOr403, session: WriteSessionDep, vault: VaultDep, settings: SettingsDep,
    response: Response,
    dry_run: Annotated[bool, Query(description="Only check and report what would change; write nothing")] = False,
    station_id: Annotated[RowId | None, Query(description="The station whose subtree the roster covers; "
                                                          "default yours")] = None,
    listed_on: Annotated[PastDate | None, Query(description="The roster's date (default today): members "
                                                            "no longer listed leave on it")] = None,
) -> RosterImportReport:
    """Import a roster for a station's subtree: every row or none; a bad row answers 422 with every problem (row, column, reason)."""
    content = await file.read(settings.import_max_bytes + 1)
    if len(content) > settings.import_max_bytes:
        raise PayloadTooLarge(f"The file is larger than {settings.import_max_bytes} bytes.", errors=[
            {"field": "file", "message": f"at most {settings.import_max_bytes} bytes", "code": "too_large"}])
    station = await resolve_station(session, Station, principal, station_id)
    report = await service.run(session, vault, principal, content, file.filename, station,
                               listed_on or clock.today(), dry_run, settings.import_max_rows)
    if dry_run:
        response.status_code = status.HTTP_200_OK
    return report


@router.get("/v1/rosters", response_model=Page[RosterImportRead])
async def list_rosters(principal: PersonalReaderOr403, session: ReadSessionDep, subtree: SubtreeDep,
                       paging: Annotated[PageParams, Depends(page_params)],
                       population: Annotated[str | None, Query(max_length=40)] = None) -> dict:
    """Rosters imported in your subtree (or a station's, station_id), newest first, with what each changed."""
    stmt = narrowed(live(RosterImport, principal), RosterImport, station_path=subtree,
                    holding={"populations": population})
    rows = await page(session, stmt, paging, [RosterImport.created_at, RosterImport.id])
    return make_page(rows, paging, ["created_at", "id"], RosterImportRead.model_validate)


@router.get("/v1/beneficiaries/{beneficiary_id}/rosters", response_model=RosterMembership)
async def roster_membership(beneficiary: BeneficiaryDep, principal: IdReaderDep, session: ReadSessionDep,
                            request: Request) -> RosterMembership:
    """The rosters a person is on, and has left, with the dates."""
    rows = list((await session.scalars(live(RosterMember, principal).where(
        RosterMember.beneficiary_id == beneficiary.id).order_by(RosterMember.population))).all())
    await log_reads(request, RosterMember.__table__.name, [(m.id, m.station_path) for m in rows])
    return RosterMembership(items=[RosterMemberRead.model_validate(m) for m in rows])
