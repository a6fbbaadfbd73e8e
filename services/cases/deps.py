"""Request dependencies: sessions, the principal by what it may do, and records loaded in scope.

Ids outside the caller's subtree, and any personal id asked for by a role that sees only
aggregates, answer 404 exactly as a missing id: a response never tells whether a person
exists somewhere the caller cannot look.
"""

from typing import Annotated

from asyncpg import Pool
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.config import CasesSettings
from services.cases.errors import BeneficiaryNotFound, CaseNotFound
from services.cases.models import Beneficiary, Case, Station
from services.cases.repository import service_records
from services.cases.repository.service_records import CaseRow
from shared.db import raw_connection, read_session, write_session
from shared.etag import required_version
from shared.principals import (Principal, PrincipalBearer, check_personal_reader_or_404,
                               check_personal_writer_or_404)
from shared.records import Vault, found_or, live_or_404
from shared.stations import subtree_dependency

WriteSessionDep = Annotated[AsyncSession, Depends(write_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(read_session)]


# Dependencies are `async def` even without I/O: FastAPI would run a plain `def` in the thread pool.


async def vault(request: Request) -> Vault:
    return request.app.state.vault


VaultDep = Annotated[Vault, Depends(vault)]


async def settings(request: Request) -> CasesSettings:
    return request.app.state.settings


SettingsDep = Annotated[CasesSettings, Depends(settings)]


def read_pool(request: Request) -> Pool:
    """The raw pool of single-record reads (repository.by_id); called directly, not a dependency."""
    return request.app.state.db.read_pool


# shared.principals' PersonalReaderOr404 and PersonalWriterOr404, with token, principal and role check
# in one dependency: reads by id are the busiest requests.
IdReaderDep = Annotated[Principal, Depends(PrincipalBearer(check=check_personal_reader_or_404))]
IdWriterDep = Annotated[Principal, Depends(PrincipalBearer(check=check_personal_writer_or_404))]


async def if_match(request: Request) -> int:
    """The If-Match version an update requires (shared.etag.required_version, off the thread pool)."""
    return required_version(request)


IfMatchDep = Annotated[int, Depends(if_match)]


async def case_for_read(case_id: str, principal: IdReaderDep, session: ReadSessionDep) -> Case:
    return await live_or_404(session, Case, case_id, principal, missing=CaseNotFound)


async def case_for_write(case_id: str, principal: IdWriterDep, session: WriteSessionDep) -> Case:
    return await live_or_404(session, Case, case_id, principal, for_update=True, missing=CaseNotFound)


async def case_row_for_records(case_id: str, principal: IdWriterDep, session: WriteSessionDep) -> CaseRow:
    """`case_for_write` for the lean write path of service records: the same scope and lock, one
    prepared statement on the request's transaction, with what a record takes from its person."""
    found = await service_records.lock_cases(await raw_connection(session), principal, [case_id])
    return found_or(found.get(case_id), CaseNotFound)


CaseDep = Annotated[Case, Depends(case_for_read)]
CaseForUpdateDep = Annotated[Case, Depends(case_for_write)]
CaseRowForRecordsDep = Annotated[CaseRow, Depends(case_row_for_records)]


async def beneficiary_for_read(beneficiary_id: str, principal: IdReaderDep, session: ReadSessionDep) -> Beneficiary:
    return await live_or_404(session, Beneficiary, beneficiary_id, principal, missing=BeneficiaryNotFound)


async def beneficiary_for_write(beneficiary_id: str, principal: IdWriterDep,
                                session: WriteSessionDep) -> Beneficiary:
    return await live_or_404(session, Beneficiary, beneficiary_id, principal, for_update=True,
                             missing=BeneficiaryNotFound)


BeneficiaryDep = Annotated[Beneficiary, Depends(beneficiary_for_read)]
BeneficiaryForUpdateDep = Annotated[Beneficiary, Depends(beneficiary_for_write)]


async def default_steps(request: Request) -> list[str]:
    """The platform's default approval rule (CASES_APPROVAL_DEFAULT_STEPS), for stations that set none."""
    return request.app.state.settings.default_steps


DefaultStepsDep = Annotated[list[str], Depends(default_steps)]


SubtreeDep = Annotated[str | None, Depends(subtree_dependency(Station))]
