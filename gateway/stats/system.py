"""The station system's figures the gateway counts in its own tables: the tree's stations by tier
and the accounts by role (shared.stats OWN_METRICS), as rows of the counting contract so that they
merge with the services' answers (gateway/stats/figures.py).

Both are levels at a period's end, in the tree as it is: a station moved to another parent counts
under its new one in every period, as the services' records do once their replicas have moved.
A station counts from the day it was created until the day it was deleted; `stations.started` is
the stations created in the period and still in the tree at its end. An account counts from the day
it was made until the day it was disabled.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import BigInteger, Date, and_, cast, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import Station, User
from shared import clock
from shared.contracts.stats.schemas import StatsQuery
from shared.rollup import group_by_position, own_station, period_table
from shared.scope import under
from shared.stats import ALL, OWN_METRICS, PERIODS, STAFF_ROLES, TIERS, Metric

Key = tuple[str | None, int | None]  # period, station


def _day(stamp):
    """A timestamp's day in the platform's time zone."""
    return cast(func.timezone(clock.timezone_name(), stamp), Date)


def _child(path_column, station_path: str):
    """The child of the queried node under which a path lies; the node itself counts as the node."""
    child = func.split_part(func.substr(path_column, len(station_path) + 1), "/", 1)
    return func.coalesce(cast(func.nullif(child, ""), BigInteger), own_station(station_path))


async def own_rows(session: AsyncSession, query: StatsQuery) -> list[dict]:
    """The rows of the gateway's own metrics asked in `query` (all of them when it names none)."""
    asked = {m for m in (query.metrics or OWN_METRICS) if m in OWN_METRICS}
    if not asked:
        return []
    period = next((g for g in query.group_by if g in PERIODS), None)
    by_station = "station" in query.group_by
    bucket = period_table(query.from_on, query.to_on, period)
    groups = []
    if period:
        groups.append(bucket.c.period)
    if by_station:
        groups.append(_child(Station.path, query.station_path).label("station"))
    sums: dict[tuple[Metric, Key], int] = defaultdict(int)

    def key(row) -> Key:
        found = row._mapping
        return (found["period"].isoformat() if period else None, found["station"] if by_station else None)

    created, deleted = _day(Station.created_at), _day(Station.deleted_at)
    live = and_(created <= bucket.c.last, or_(Station.deleted_at.is_(None), deleted > bucket.c.last))
    stations = select(*groups, Station.kind, func.count().label("n"),
                      func.count().filter(created >= bucket.c.first).label("started")) \
        .select_from(Station).join(bucket, true()).where(under(Station.path, query.station_path), live)
    for row in (await session.execute(group_by_position(stations, len(groups) + 1))).all():
        sums[(Metric.stations_total, key(row))] += row.n
        sums[(Metric.stations_started, key(row))] += row.started
        if row.kind in TIERS:
            sums[(Metric(f"stations.{row.kind}"), key(row))] += row.n

    roles = {role: metric for metric, role in STAFF_ROLES.items() if metric in asked}
    if roles:
        made, disabled = _day(User.created_at), _day(User.disabled_at)
        active = and_(made <= bucket.c.last, or_(User.disabled_at.is_(None), disabled > bucket.c.last))
        users = select(*groups, User.role, func.count().label("n")).select_from(User) \
            .join(Station, Station.id == User.station_id).join(bucket, true()) \
            .where(under(Station.path, query.station_path), User.role.in_(list(roles)), active)
        for row in (await session.execute(group_by_position(users, len(groups) + 1))).all():
            sums[(roles[row.role], key(row))] += row.n

    population = ALL if "population" in query.group_by else None
    return [{"metric": m.value, "population": population, "period": k[0], "station": k[1], "value": float(v)}
            for (m, k), v in sums.items() if m in asked and v]
