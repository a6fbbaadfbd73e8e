"""/v1/supervision-records: supervision sessions (督导记录), filed at the station supervised
(service/supervision.py)."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from sqlalchemy import select

from services.cases.deps import IfMatchDep, ReadSessionDep, SubtreeDep, WriteSessionDep
from services.cases.models import SupervisionRecord
from services.cases.repository import approvals as repo
from services.cases.schemas.supervision import SupervisionCreate, SupervisionMode, SupervisionRead, SupervisionUpdate
from services.cases.service import supervision as service
from shared.audit import log_reads
from shared.etag import set_etag
from shared.pagination import Page, PageParams, make_page, page_params
from shared.principals import PersonalReaderOr403, PersonalReaderOr404, Principal, PrincipalDep
from shared.records import RecordNotFound, shown, withhold
from shared.repository import narrowed, page

router = APIRouter(prefix="/v1/supervision-records", tags=["supervision"])
ORDER = [SupervisionRecord.held_on, SupervisionRecord.id]
TABLE = SupervisionRecord.__table__
KIND = "supervision record"


async def _load(session, principal: Principal, record_id: str, for_update: bool = False) -> SupervisionRecord:
    stmt = select(SupervisionRecord).where(SupervisionRecord.id == record_id, repo.supervision_in_reach(principal))
    record = await session.scalar(stmt.with_for_update() if for_update else stmt)
    if record is None:
        raise RecordNotFound(KIND)
    return record


@router.get("", response_model=Page[SupervisionRead])
async def list_supervision_records(
    principal: PersonalReaderOr403, session: ReadSessionDep, subtree: SubtreeDep, request: Request,
    paging: Annotated[PageParams, Depends(page_params)],
    supervisor_id: Annotated[str | None, Query(max_length=64)] = None,
    mode: SupervisionMode | None = None,
    held_from: Annotated[date | None, Query(alias="from")] = None,
    held_to: Annotated[date | None, Query(alias="to")] = None,
) -> dict:
    """Supervision sessions, latest first: a supervisor's at the stations assigned to them, others' of their subtree."""
    stmt = narrowed(select(SupervisionRecord).where(repo.supervision_in_reach(principal)), SupervisionRecord,
                    station_path=subtree, equal={"supervisor_id": supervisor_id, "mode": mode},
                    span=("held_on", held_from, held_to))
    rows = await page(session, stmt, paging, ORDER)
    await log_reads(request, TABLE.name, [(r.id, r.station_path) for r in rows[:paging.limit]])
    return make_page(rows, paging, ["held_on", "id"], shown(SupervisionRead, TABLE, principal))


@router.post("", response_model=SupervisionRead, status_code=status.HTTP_201_CREATED)
async def create_supervision_record(body: SupervisionCreate, principal: PrincipalDep, session: WriteSessionDep,
                                    response: Response) -> SupervisionRead:
    """Record a supervision session: its date, supervisor, workers, mode, duration, topics and cases discussed."""
    record = await service.create(session, principal, body)
    set_etag(response, record.version)
    response.headers["Location"] = f"/v1/supervision-records/{record.id}"
    return withhold(SupervisionRead.model_validate(record), TABLE, principal)


@router.get("/{record_id}", response_model=SupervisionRead)
async def get_supervision_record(record_id: str, principal: PersonalReaderOr404, session: ReadSessionDep,
                                 request: Request, response: Response) -> SupervisionRead:
    """One supervision session."""
    record = await _load(session, principal, record_id)
    await log_reads(request, TABLE.name, [(record.id, record.station_path)])
    set_etag(response, record.version)
    return withhold(SupervisionRead.model_validate(record), TABLE, principal)


@router.patch("/{record_id}", response_model=SupervisionRead)
async def update_supervision_record(record_id: str, body: SupervisionUpdate, principal: PersonalReaderOr404,
                                    session: WriteSessionDep, version: IfMatchDep,
                                    response: Response) -> SupervisionRead:
    """Change a supervision session (If-Match required); its figures move with it."""
    record = await _load(session, principal, record_id, for_update=True)
    await service.update(session, principal, record, version, body)
    set_etag(response, record.version)
    return withhold(SupervisionRead.model_validate(record), TABLE, principal)


@router.delete("/{record_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_supervision_record(record_id: str, principal: PersonalReaderOr404, session: WriteSessionDep,
                                    version: IfMatchDep) -> Response:
    """Remove a supervision session (soft delete; If-Match required); its figures are taken back."""
    record = await _load(session, principal, record_id, for_update=True)
    await service.delete(session, principal, record, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
