"""The daily rollup and the served-day table: adjusted in the record's transaction, read per stats query."""

from datetime import date
from decimal import Decimal

from sqlalchemy import BigInteger, Date, and_, cast, delete, func, literal, literal_column, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.volunteers.models import DailyStat, ServedDay
from shared.stats import ALL, DATE_TRUNC


async def add(session: AsyncSession, deltas: dict[tuple[int, str, date, str], Decimal]) -> None:
    """deltas: (station_id, station_path, day, metric) -> amount, merged per key beforehand
    because one INSERT .. ON CONFLICT cannot touch the same row twice."""
    rows = [{"station_id": k[0], "station_path": k[1], "day": k[2], "metric": k[3], "population": ALL, "value": v}
            for k, v in deltas.items() if v]
    if not rows:
        return
    stmt = pg_insert(DailyStat).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[DailyStat.station_id, DailyStat.day, DailyStat.metric, DailyStat.population],
        set_={"value": DailyStat.value + stmt.excluded.value, "station_path": stmt.excluded.station_path},
    )
    await session.execute(stmt)


async def add_served(session: AsyncSession, deltas: dict[tuple[str, date, int, str], int]) -> None:
    """deltas: (volunteer_id, day, station_id, station_path) -> change in counted records; rows that
    reach zero are removed so a COUNT(DISTINCT) over the table counts only volunteers who served."""
    rows = [{"volunteer_id": k[0], "day": k[1], "station_id": k[2], "station_path": k[3], "records": v}
            for k, v in deltas.items() if v]
    if not rows:
        return
    stmt = pg_insert(ServedDay).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[ServedDay.volunteer_id, ServedDay.day, ServedDay.station_id],
        set_={"records": ServedDay.records + stmt.excluded.records, "station_path": stmt.excluded.station_path},
    )
    await session.execute(stmt)
    keys = [(r["volunteer_id"], r["day"], r["station_id"]) for r in rows]
    await session.execute(delete(ServedDay).where(
        tuple_(ServedDay.volunteer_id, ServedDay.day, ServedDay.station_id).in_(keys), ServedDay.records <= 0))


def _grouping(table, station_path: str, own_station_id: int, period: str | None, by_population: bool,
              by_station: bool) -> list:
    cols = []
    if by_population:
        cols.append(literal(ALL).label("population"))
    if period:
        cols.append(cast(func.date_trunc(DATE_TRUNC[period], table.day), Date).label("period"))
    if by_station:
        # The child of the queried node under which the row lies; rows of the node itself count as the node.
        child = func.split_part(func.substr(table.station_path, len(station_path) + 1), "/", 1)
        cols.append(func.coalesce(cast(func.nullif(child, ""), BigInteger), own_station_id).label("station"))
    return cols


async def sums(session: AsyncSession, *, station_path: str, own_station_id: int, metrics: list[str],
               day_from: date, day_to: date, period: str | None, by_population: bool,
               by_station: bool) -> list[dict]:
    """Sum of the rollup over [day_from, day_to], grouped as asked."""
    cols = [DailyStat.metric.label("metric"),
            *_grouping(DailyStat, station_path, own_station_id, period, by_population, by_station)]
    stmt = select(*cols, func.sum(DailyStat.value).label("value")).where(
        DailyStat.station_path.startswith(station_path, autoescape=False), DailyStat.metric.in_(metrics),
        DailyStat.population == ALL, and_(DailyStat.day >= day_from, DailyStat.day <= day_to))
    # By position: the grouped expressions carry bind parameters that PostgreSQL would not match up.
    stmt = stmt.group_by(*(literal_column(str(i)) for i in range(1, len(cols) + 1)))
    return [dict(r._mapping) for r in (await session.execute(stmt)).all()]


async def distinct_served(session: AsyncSession, *, station_path: str, own_station_id: int, day_from: date,
                          day_to: date, period: str | None, by_population: bool, by_station: bool) -> list[dict]:
    """Distinct volunteers with a counted record in [day_from, day_to], per group asked."""
    cols = _grouping(ServedDay, station_path, own_station_id, period, by_population, by_station)
    stmt = select(*cols, func.count(func.distinct(ServedDay.volunteer_id)).label("value")).where(
        ServedDay.station_path.startswith(station_path, autoescape=False),
        ServedDay.day >= day_from, ServedDay.day <= day_to, ServedDay.records > 0)
    if cols:
        stmt = stmt.group_by(*(literal_column(str(i)) for i in range(1, len(cols) + 1)))
    return [dict(r._mapping) for r in (await session.execute(stmt)).all()]
