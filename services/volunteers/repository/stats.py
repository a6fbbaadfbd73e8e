"""The daily rollup (shared.rollup) and the served-day table: adjusted in the record's transaction, read per stats query."""

from datetime import date
from decimal import Decimal

from sqlalchemy import delete, func, literal, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.volunteers.models import DailyStat, ServedDay
from shared import rollup
from shared.scope import sql_name, under
from shared.stats import ALL


async def add(session: AsyncSession, deltas: dict[tuple[int, str, date, str], Decimal]) -> None:
    """deltas: (station_id, station_path, day, metric) -> amount; volunteer rows are all of population ALL."""
    await rollup.add(session, DailyStat, {(*k, ALL): v for k, v in deltas.items()})


async def add_raw(conn, deltas: dict[tuple[int, str, date, str], Decimal]) -> None:
    """`add` on a lean write path's asyncpg connection (shared.db.raw_connection)."""
    await rollup.add_raw(conn, DailyStat, {(*k, ALL): v for k, v in deltas.items()})


_SERVED = ("INSERT INTO {t} AS s (volunteer_id, day, station_id, station_path, records) "
           "SELECT * FROM unnest($1::text[], $2::date[], $3::bigint[], $4::text[], $5::int[]) "
           "ON CONFLICT (volunteer_id, day, station_id) DO UPDATE SET records = s.records + excluded.records")
_SERVED_GONE = ("DELETE FROM {t} WHERE (volunteer_id, day, station_id) IN "
                "(SELECT * FROM unnest($1::text[], $2::date[], $3::bigint[])) AND records <= 0")


async def add_served_raw(conn, deltas: dict[tuple[str, date, int, str], int]) -> None:
    """`add_served` on a lean write path's asyncpg connection: the same rows, one statement for all."""
    keys = sorted(k for k, v in deltas.items() if v)  # a fixed lock order between writers
    if not keys:
        return
    table = sql_name(ServedDay.__table__)
    columns = [list(c) for c in zip(*keys, strict=True)]
    await conn.execute(_SERVED.format(t=table), *columns, [deltas[k] for k in keys])
    if any(deltas[k] < 0 for k in keys):
        await conn.execute(_SERVED_GONE.format(t=table), *columns[:3])


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
        set_={"records": ServedDay.records + stmt.excluded.records},  # a row's path moves only with its station
    )
    await session.execute(stmt)
    keys = [(r["volunteer_id"], r["day"], r["station_id"]) for r in rows]
    await session.execute(delete(ServedDay).where(
        tuple_(ServedDay.volunteer_id, ServedDay.day, ServedDay.station_id).in_(keys), ServedDay.records <= 0))


async def sums(session: AsyncSession, **query) -> list[dict]:
    """Sum of the rollup, grouped as asked; grouping by population gives the rows under ALL."""
    return await rollup.sums(session, DailyStat, populations=False, **query)


async def distinct_served(session: AsyncSession, *, station_path: str, own_station_id: int, day_from: date,
                          day_to: date, period: str | None, by_population: bool, by_station: bool) -> list[dict]:
    """Distinct volunteers with a counted record in [day_from, day_to], per group asked."""
    cols = rollup.grouping(ServedDay, station_path=station_path, own_station_id=own_station_id, period=period,
                           population=literal(ALL) if by_population else None, by_station=by_station)
    stmt = select(*cols, func.count(func.distinct(ServedDay.volunteer_id)).label("value")).where(
        under(ServedDay.station_path, station_path),
        ServedDay.day >= day_from, ServedDay.day <= day_to, ServedDay.records > 0)
    if cols:
        stmt = rollup.group_by_position(stmt, len(cols))
    return [dict(r._mapping) for r in (await session.execute(stmt)).all()]
