"""Queries of the civil-affairs rosters: people found by ID number, members of a subtree, imports."""

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.models import Beneficiary, Population, RosterImport, RosterMember, Station
from services.cases.repository.beneficiaries import province_of
from shared.scope import under


async def population_codes(session: AsyncSession) -> dict[str, str]:
    """Each population's code and its Chinese label, both to the code: a roster names populations either way."""
    rows = (await session.execute(select(Population.code, Population.label_zh))).all()
    return {**{label: code for code, label in rows}, **{code: code for code, _ in rows}}


async def live_by_id_numbers(session: AsyncSession, bidxs: list[str], station_path: str) -> dict[str, tuple[str, str]]:
    """ID-number blind index -> (id, station path) of the live beneficiaries of the station's province."""
    if not bidxs:
        return {}
    rows = await session.execute(select(Beneficiary.id_number_bidx, Beneficiary.id, Beneficiary.station_path).where(
        Beneficiary.id_number_bidx.in_(bidxs), Beneficiary.deleted_at.is_(None),
        func.split_part(Beneficiary.station_path, "/", 2) == province_of(station_path)))
    return {bidx: (bid, path) for bidx, bid, path in rows}


async def members_under(session: AsyncSession, station_path: str, populations: list[str]) -> list[RosterMember]:
    """Live memberships (current and left) of these populations in the subtree, locked for the import."""
    stmt = select(RosterMember).where(under(RosterMember.station_path, station_path),
                                      RosterMember.deleted_at.is_(None), RosterMember.population.in_(populations))
    return list((await session.scalars(stmt.with_for_update())).all())


async def latest_listed_on(session: AsyncSession, station_path: str, populations: list[str]) -> date | None:
    """The newest roster of any of these populations imported for exactly this station."""
    return await session.scalar(select(func.max(RosterImport.listed_on)).where(
        RosterImport.station_path == station_path, RosterImport.deleted_at.is_(None),
        RosterImport.populations.overlap(populations)))


async def stations_by_name(session: AsyncSession, station_path: str) -> dict[str, tuple[int, str]]:
    """Live stations of the subtree by name: a roster's village column names its village room."""
    rows = await session.execute(select(Station.name, Station.id, Station.path).where(
        under(Station.path, station_path), Station.deleted_at.is_(None)).order_by(Station.path.desc()))
    return {name: (sid, path) for name, sid, path in rows}
