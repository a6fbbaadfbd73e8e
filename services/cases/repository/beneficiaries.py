"""Beneficiary and population queries."""

from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.models import AuditLog, Beneficiary, Case, Population
from shared.audit import log_write
from shared.principals import Principal
from shared.repository import live, narrowed


def province_of(station_path: str) -> str:
    return station_path.strip("/").split("/")[0]


async def find_live_by_id_number(session: AsyncSession, id_number_bidx: str, station_path: str,
                                 exclude_id: str | None = None) -> tuple[str, str] | None:
    """(id, station path) of the live beneficiary with this ID number in the station's province
    (the uniqueness scope)."""
    stmt = select(Beneficiary.id, Beneficiary.station_path).where(
        Beneficiary.id_number_bidx == id_number_bidx, Beneficiary.deleted_at.is_(None),
        func.split_part(Beneficiary.station_path, "/", 2) == province_of(station_path))
    if exclude_id:
        stmt = stmt.where(Beneficiary.id != exclude_id)
    row = (await session.execute(stmt.limit(1))).first()
    return (row[0], row[1]) if row else None


def list_query(principal: Principal, *, station_path: str | None, q: str | None, phone_tail_bidx: str | None,
               id_number_bidx: str | None, population: str | None, worker_id: str | None,
               registered_from: date | None, registered_to: date | None):
    stmt = narrowed(live(Beneficiary, principal), Beneficiary, station_path=station_path,
                    equal={"phone_tail_bidx": phone_tail_bidx, "id_number_bidx": id_number_bidx,
                           "worker_id": worker_id},
                    holding={"populations": population}, span=("registered_on", registered_from, registered_to))
    if q:
        needle = q.lower()
        stmt = stmt.where(or_(
            Beneficiary.name.contains(q, autoescape=True),
            Beneficiary.name_initials.contains(needle, autoescape=True),
            Beneficiary.name_pinyin.contains(needle, autoescape=True),
        ))
    return stmt


async def has_live_cases(session: AsyncSession, beneficiary_id: str) -> bool:
    stmt = select(Case.id).where(Case.beneficiary_id == beneficiary_id, Case.deleted_at.is_(None)).limit(1)
    return await session.scalar(stmt) is not None


async def known_population_codes(session: AsyncSession, codes: list[str]) -> set[str]:
    if not codes:
        return set()
    return set((await session.scalars(select(Population.code).where(Population.code.in_(codes)))).all())


async def list_populations(session: AsyncSession) -> list[Population]:
    return list((await session.scalars(select(Population).order_by(Population.sort_order, Population.code))).all())


async def add_population(session: AsyncSession, values: dict) -> Population | None:
    """None when the code exists already."""
    stmt = pg_insert(Population).values(**values).on_conflict_do_nothing().returning(Population)
    added = await session.scalar(stmt)
    if added is not None:
        log_write(session, AuditLog, "create", Population.__tablename__, added.code)
    return added
