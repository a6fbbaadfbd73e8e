"""The daily rollup (shared.rollup on this service's table): adjusted in the record's transaction, summed per stats query."""

from datetime import date

from sqlalchemy import Date, Numeric, String, and_, column, func, literal, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from services.projects.models import DailyStat, Project
from shared import rollup
from shared.scope import under
from shared.stats import ALL, Metric


async def add(session: AsyncSession, deltas: dict) -> None:
    await rollup.add(session, DailyStat, deltas)


async def add_raw(conn, deltas: dict) -> None:
    await rollup.add_raw(conn, DailyStat, deltas)


async def sums(session: AsyncSession, **query) -> list[dict]:
    return await rollup.sums(session, DailyStat, **query)


# The projects' figures, read from the project table itself: a project counts in a period by its contract
# dates, which a rollup of days could not follow (a changed end date would move every day in between).
# A project still planned has not started its work and counts in none of them.
async def project_figures(session: AsyncSession, metrics: list[Metric], *, station_path: str, own_station_id: int,
                          day_from: date, day_to: date, period: str | None, by_population: bool,
                          by_station: bool) -> list[dict]:
    """projects.active (contract period overlapping the period), .started (starting in it), .closed (closed,
    its contract period ending in it) and .budget_yuan (the budget of the active ones, by funding source
    under `population`), those of `metrics`, per group asked: rows of {metric, population?, period?,
    station?, value}. One statement for all four (each a FILTER of one scan of the subtree's projects),
    and one more for the budget by source."""
    bucket = rollup.period_table(day_from, day_to, period)
    started = Project.status != "planned"
    running = and_(started, Project.starts_on <= bucket.c.last, Project.ends_on >= bucket.c.first)
    where = {Metric.projects_active: running, Metric.projects_budget: running,
             Metric.projects_started: and_(started, Project.starts_on.between(bucket.c.first, bucket.c.last)),
             Metric.projects_closed: and_(Project.status == "closed",
                                          Project.ends_on.between(bucket.c.first, bucket.c.last))}
    values = {m: (func.sum(Project.budget_total_yuan) if m == Metric.projects_budget else func.count(Project.id))
              .filter(where[m]) for m in metrics}
    rows = await _project_rows(session, values, or_(*(where[m] for m in metrics)), bucket,
                               literal(ALL) if by_population else None, station_path=station_path,
                               own_station_id=own_station_id, period=period, by_station=by_station)
    if Metric.projects_budget in metrics and by_population:
        line = func.jsonb_to_recordset(Project.budget).table_valued(
            column("source", String), column("amount_yuan", Numeric)).render_derived(with_types=True).lateral("line")
        rows += await _project_rows(session, {Metric.projects_budget: func.sum(line.c.amount_yuan)}, running,
                                    bucket.join(line, true()), line.c.source, station_path=station_path,
                                    own_station_id=own_station_id, period=period, by_station=by_station)
    return rows


async def _project_rows(session: AsyncSession, values: dict, where, source, population, *, station_path: str,
                        own_station_id: int, period: str | None, by_station: bool) -> list[dict]:
    """One row per group and metric of `values` (metric -> its aggregate) over the subtree's live projects."""
    cols = rollup.grouping(Project, station_path=station_path, own_station_id=own_station_id, period=None,
                           population=population, by_station=by_station)
    if period:
        cols.append(column("period", Date).label("period"))
    stmt = select(*cols, *(value.label(f"v{i}") for i, value in enumerate(values.values()))) \
        .select_from(Project).join(source, true()).where(
            under(Project.station_path, station_path), Project.deleted_at.is_(None), where)
    if cols:
        stmt = rollup.group_by_position(stmt, len(cols))
    out = []
    for r in (await session.execute(stmt)).all():
        group = {c.name: r._mapping[c.name] for c in cols}
        out += [{**group, "metric": metric, "value": r._mapping[f"v{i}"]} for i, metric in enumerate(values)]
    return out
