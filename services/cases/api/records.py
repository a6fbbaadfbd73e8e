"""/v1/cases/{case_id}/{assessments|plans|service-records|referrals|follow-ups}: one route set per kind."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from services.cases.deps import (CaseDep, CaseForUpdateDep, IdReaderDep, IdWriterDep, IfMatchDep,
                                 OptionalIfMatchDep, ReadSessionDep, VaultDep, WriteSessionDep, read_pool)
from services.cases.errors import CaseNotFound
from services.cases.models import Referral
from services.cases.repository import by_id
from services.cases.schemas.cases import TransitionInput
from services.cases.schemas.records import ReferralRead
from services.cases.service import records as service
from services.cases.service.records import KINDS, RecordKind
from shared.audit import log_reads, read_actor
from shared.etag import set_etag
from shared.pagination import Page, PageParams, make_page, page_params
from shared.records import RecordNotFound, shown, withhold
from shared.repository import get_live, live, page

router = APIRouter(prefix="/v1/cases/{case_id}")


def _routes(kind: RecordKind) -> None:
    model, Read, Create, Update = kind.model, kind.read, kind.create, kind.update
    table = model.__table__
    date_col = getattr(model, kind.date_field)
    order = [date_col, model.id]
    tags = [kind.path]

    async def load(session, case, record_id: str, principal, for_update: bool = False):
        record = await get_live(session, model, record_id, principal, for_update=for_update,
                                where=(model.case_id == case.id,))
        if record is None:
            raise RecordNotFound(kind.name)
        return record

    async def list_records(
        case: CaseDep, principal: IdReaderDep, session: ReadSessionDep, request: Request,
        paging: Annotated[PageParams, Depends(page_params)],
        from_on: Annotated[date | None, Query(alias="from")] = None,
        to_on: Annotated[date | None, Query(alias="to")] = None,
        status_: Annotated[str | None, Query(alias="status", max_length=16)] = None,
        worker_id: Annotated[str | None, Query(max_length=64)] = None,
    ) -> dict:
        stmt = live(model, principal).where(model.case_id == case.id)
        if from_on:
            stmt = stmt.where(date_col >= from_on)
        if to_on:
            stmt = stmt.where(date_col <= to_on)
        if status_ and kind.status_field:
            stmt = stmt.where(getattr(model, kind.status_field) == status_)
        if worker_id and kind.worker_field:
            stmt = stmt.where(getattr(model, kind.worker_field) == worker_id)
        rows = await page(session, stmt, paging, order)
        await log_reads(request, table.name, [(r.id, r.station_path) for r in rows[:paging.limit]])
        return make_page(rows, paging, [kind.date_field, "id"], shown(Read, table, principal))

    async def create_record(body: Create, case: CaseForUpdateDep, principal: IdWriterDep,  # type: ignore[valid-type]
                            session: WriteSessionDep, vault: VaultDep, response: Response):
        record, created = await service.create(session, vault, principal, kind, case, body)
        if not created:
            response.status_code = status.HTTP_200_OK
        set_etag(response, record.version)
        response.headers["Location"] = f"/v1/cases/{case.id}/{kind.path}/{record.id}"
        return withhold(Read.model_validate(record), table, principal)

    async def get_record(case_id: str, record_id: str, principal: IdReaderDep, request: Request,
                         response: Response):
        case_found, record = await by_id.case_record(read_pool(request), model, Read, case_id, record_id,
                                                     principal, read_actor(request))
        if not case_found:
            raise CaseNotFound()
        if record is None:
            raise RecordNotFound(kind.name)
        set_etag(response, record["version"])
        return withhold(Read.model_validate(record), table, principal)

    async def update_record(record_id: str, body: Update, case: CaseForUpdateDep,  # type: ignore[valid-type]
                            version: IfMatchDep, principal: IdWriterDep, session: WriteSessionDep,
                            response: Response):
        record = await load(session, case, record_id, principal, for_update=True)
        await service.update(session, principal, kind, case, record, version, body)
        set_etag(response, record.version)
        return withhold(Read.model_validate(record), table, principal)

    async def delete_record(record_id: str, case: CaseForUpdateDep, version: IfMatchDep, principal: IdWriterDep,
                            session: WriteSessionDep) -> Response:
        record = await load(session, case, record_id, principal, for_update=True)
        await service.delete(session, principal, kind, record, version)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    list_records.__doc__ = f"The case's {kind.name}s, latest first."
    create_record.__doc__ = f"Add a {kind.name} to the case (a client id makes retries safe)."
    get_record.__doc__ = f"One {kind.name}."
    update_record.__doc__ = f"Change a {kind.name} (If-Match required)."
    delete_record.__doc__ = f"Remove a {kind.name} (soft delete; If-Match required)."
    slug = kind.path.replace("-", "_")
    base, item = f"/{kind.path}", f"/{kind.path}/{{record_id}}"
    router.add_api_route(base, list_records, methods=["GET"], response_model=Page[Read], tags=tags,
                         name=f"list_{slug}")
    router.add_api_route(base, create_record, methods=["POST"], response_model=Read, tags=tags,
                         status_code=status.HTTP_201_CREATED, name=f"create_{slug}")
    router.add_api_route(item, get_record, methods=["GET"], response_model=Read, tags=tags, name=f"get_{slug}")
    router.add_api_route(item, update_record, methods=["PATCH"], response_model=Read, tags=tags,
                         name=f"update_{slug}")
    router.add_api_route(item, delete_record, methods=["DELETE"], status_code=status.HTTP_204_NO_CONTENT,
                         tags=tags, name=f"delete_{slug}")

    if model is Referral:
        for action in service.REFERRAL_STEPS:
            _referral_action(action, load)


def _referral_action(action: str, load) -> None:
    async def step(record_id: str, case: CaseForUpdateDep, principal: IdWriterDep, session: WriteSessionDep,
                   version: OptionalIfMatchDep, response: Response,
                   body: TransitionInput | None = None) -> ReferralRead:
        record = await load(session, case, record_id, principal, for_update=True)
        body = body or TransitionInput()
        service.referral_step(principal, record, action, body.on, body.note, version)
        set_etag(response, record.version)
        return withhold(ReferralRead.model_validate(record), Referral.__table__, principal)

    step.__doc__ = f"Mark the referral {action}d." if action != "reject" else "Mark the referral rejected."
    router.add_api_route(f"/referrals/{{record_id}}/{action}", step, methods=["POST"], response_model=ReferralRead,
                         tags=["referrals"], name=f"referral_{action}")


for _kind in KINDS:
    _routes(_kind)
