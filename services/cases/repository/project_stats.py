"""Casework figures of one project (cases whose project_id is it, filed within its coverage), for its
contract targets.

Served by the partial index ix_case_project_id (migration cases_0003) and, per case,
ix_service_record_case_id_served_on: the cost grows with the project's cases, not the table.
"""

from datetime import date

from sqlalchemy import false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.models import Case, ServiceRecord, Station
from shared.scope import under


def _project_cases(project_id: str, paths: list[str]):
    within = or_(*[under(Case.station_path, p) for p in paths]) if paths else false()
    return (Case.project_id == project_id, Case.deleted_at.is_(None), within)


async def station_paths(session: AsyncSession, station_ids: list[int]) -> list[str]:
    """The paths of these stations in this service's replica (unknown ones left out)."""
    stmt = select(Station.path).where(Station.id.in_(station_ids), Station.deleted_at.is_(None))
    return list((await session.scalars(stmt)).all())


async def service_records_per_case(session: AsyncSession, project_id: str, paths: list[str], from_on: date,
                                   to_on: date) -> list[tuple[int, int]]:
    """(service records, their person-times) of each of the project's cases, served in [from_on, to_on]."""
    stmt = (select(func.count(ServiceRecord.id), func.coalesce(func.sum(ServiceRecord.person_times), 0))
            .join(Case, Case.id == ServiceRecord.case_id)
            .where(*_project_cases(project_id, paths), ServiceRecord.deleted_at.is_(None),
                   ServiceRecord.served_on >= from_on, ServiceRecord.served_on <= to_on)
            .group_by(ServiceRecord.case_id))
    return [(int(n), int(pt)) for n, pt in (await session.execute(stmt)).all()]


async def beneficiaries_with_cases(session: AsyncSession, project_id: str, paths: list[str], from_on: date,
                                   to_on: date) -> int:
    """Distinct beneficiaries with a case of the project open at some time in [from_on, to_on] (opened by
    its end and not closed before its start): each person counts once, however many cases they have."""
    stmt = select(func.count(func.distinct(Case.beneficiary_id))).where(
        *_project_cases(project_id, paths), Case.opened_on <= to_on,
        (Case.closed_on.is_(None)) | (Case.closed_on >= from_on))
    return int(await session.scalar(stmt))
