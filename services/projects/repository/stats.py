"""The daily rollup: adjusted in the record's transaction, summed per stats query."""

from datetime import date
from decimal import Decimal

from sqlalchemy import BigInteger, Date, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.projects.models import DailyStat
from shared.stats import ALL, DATE_TRUNC


async def add(session: AsyncSession, deltas: dict[tuple[int, str, date, str, str], Decimal]) -> None:
    """deltas: (station_id, station_path, day, metric, population) -> amount, merged per key beforehand
    because one INSERT .. ON CONFLICT cannot touch the same row twice."""
    rows = [{"station_id": k[0], "station_path": k[1], "day": k[2], "metric": k[3], "population": k[4], "value": v}
            for k, v in deltas.items() if v]
    if not rows:
        return
    stmt = pg_insert(DailyStat).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[DailyStat.station_id, DailyStat.day, DailyStat.metric, DailyStat.population],
        set_={"value": DailyStat.value + stmt.excluded.value, "station_path": stmt.excluded.station_path},
    )
    await session.execute(stmt)


async def sums(session: AsyncSession, *, station_path: str, own_station_id: int, metrics: list[str],
               day_from: date | None, day_to: date, period: str | None, by_population: bool,
               by_station: bool) -> list[dict]:
    """Sum of the rollup over [day_from, day_to] grouped as asked; day_from None = since the beginning."""
    cols = [DailyStat.metric.label("metric")]
    if by_population:
        cols.append(DailyStat.population.label("population"))
    if period:
        cols.append(cast(func.date_trunc(DATE_TRUNC[period], DailyStat.day), Date).label("period"))
    if by_station:
        # The child of the queried node under which the row lies; rows of the node itself count as the node.
        child = func.split_part(func.substr(DailyStat.station_path, len(station_path) + 1), "/", 1)
        cols.append(func.coalesce(cast(func.nullif(child, ""), BigInteger), own_station_id).label("station"))
    stmt = select(*cols, func.sum(DailyStat.value).label("value")).where(
        DailyStat.station_path.startswith(station_path, autoescape=False),
        DailyStat.metric.in_(metrics), DailyStat.day <= day_to)
    if day_from is not None:
        stmt = stmt.where(DailyStat.day >= day_from)
    if not by_population:
        stmt = stmt.where(DailyStat.population == ALL)
    # By position: the grouped expressions carry bind parameters that PostgreSQL would not match up.
    stmt = stmt.group_by(*(literal_column(str(i)) for i in range(1, len(cols) + 1)))
    return [dict(r._mapping) for r in (await session.execute(stmt)).all()]
