"""One service's distinct sets read from the rows against the kept sets (never built, warm, stale the
first time, stale again after one more write), on the bench's kept small database
(`python -m bench run --scale small --keep-db`), province /1/. A write is stood in for by a write of
nothing to one village's rollup row of a SET_COUNTERS metric on the range's last day: it moves the
change count as a real write does, and the sets stay what they were, so every answer can be compared.

    HAOLIN_PG_PORT=55411 .venv/bin/python bench/results/s19e-distinct-sets/reads_ab.py > reads-small.json
"""
import asyncio
import json
import statistics
import time
from datetime import date

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

import services.cases.models as cases
import services.projects.models as projects
from ops import pg
from services.cases.service.counting import SERVED as CASES_SERVED
from services.projects.service.counting import SERVED as PROJECTS_SERVED
from shared.contracts.activity.server import active
from shared.contracts.persons.schemas import PersonsQuery
from shared.contracts.stats.schemas import StatsQuery
from shared.distinct_sets import Kept
from shared.persons import persons

MONTH = dict(station_path="/1/", from_on=date(2026, 11, 1), to_on=date(2026, 11, 30))
YEAR = dict(station_path="/1/", from_on=date(2025, 1, 1), to_on=date(2025, 12, 31))
RUNS = 5


async def main() -> None:
    base = make_url(pg.start()).set(database="haolin_bench_small")
    engine = create_async_engine(base.set(drivername="postgresql+asyncpg"), isolation_level="AUTOCOMMIT")
    raw = await asyncpg.connect(base.set(drivername="postgresql").render_as_string(hide_password=False))
    village, path = await raw.fetchrow("SELECT id, path FROM cases.station WHERE kind = 'village' "
                                       "AND path LIKE '/1/%' ORDER BY id LIMIT 1")
    keep = lambda: AsyncSession(engine)  # noqa: E731

    async def timed(read) -> tuple[float, object]:
        async with AsyncSession(engine) as session:
            t = time.perf_counter()
            answer = await read(session)
            return (time.perf_counter() - t) * 1000, answer

    async def written(schema: str, metric: str, day: date) -> None:
        await raw.execute(f"""
            INSERT INTO {schema}.daily_stat AS d (station_id, day, metric, population, station_path, value)
            VALUES ($1, $2, $3, '_all', $4, 0)
            ON CONFLICT (station_id, day, metric, population) DO UPDATE SET value = d.value""",
                          village, day, metric, path)

    found = {}
    for models, served, schema, metric in ((cases, CASES_SERVED, "cases", "person_times.casework"),
                                           (projects, PROJECTS_SERVED, "projects", "person_times.group")):
        kept = Kept.of(models)
        asks = {
            "persons, a month by population": (PersonsQuery(**MONTH, group_by=["population"]),
                lambda s, q, k=None: persons(s, models.PersonDay, q, k, keep if k else None)),
            "persons, a year": (PersonsQuery(**YEAR, group_by=["year"]),
                lambda s, q, k=None: persons(s, models.PersonDay, q, k, keep if k else None)),
            "active stations and workers, a month by population": (StatsQuery(**MONTH, group_by=["population"]),
                lambda s, q, k=None: active(s, served, q, k, keep if k else None)),
        }
        for name, (query, read) in asks.items():
            rows = []
            cold, warm, first_stale, stale = [], [], [], []
            for _ in range(RUNS):
                await raw.execute(f"DELETE FROM {schema}.distinct_set")
                ms, truth = await timed(lambda s: read(s, query))
                rows.append(ms)
                ms, answer = await timed(lambda s: read(s, query, kept))
                cold.append(ms)
                assert answer == truth or name.startswith("persons")  # bitmaps may differ in their runs only
                warm.append((await timed(lambda s: read(s, query, kept)))[0])
                await written(schema, metric, query.to_on)
                first_stale.append((await timed(lambda s: read(s, query, kept)))[0])
                await written(schema, metric, query.to_on)
                stale.append((await timed(lambda s: read(s, query, kept)))[0])
            found[f"{schema}: {name}"] = {k: round(statistics.median(v), 1) for k, v in (
                ("rows", rows), ("kept, never built", cold), ("kept, warm", warm),
                ("stale, first time (nothing kept below: grouped scan)", first_stale), ("stale again (one more village write)", stale))}
        found[f"{schema}: kept rows after these reads"] = await raw.fetchval(
            f"SELECT count(*) FROM {schema}.distinct_set")
    await raw.close()
    await engine.dispose()
    print(json.dumps(found, indent=2, ensure_ascii=False))


asyncio.run(main())
