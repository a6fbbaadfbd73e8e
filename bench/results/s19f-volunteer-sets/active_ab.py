"""volunteers.active of the province /1/ for last month, read as before (count(DISTINCT volunteer_id) over
served_day, the statement the service sent until this change) against the kept sets (never built, then
warm), on the bench's kept small database, paired: the same snapshot of the machine's load for both.

    HAOLIN_PG_PORT=55412 .venv/bin/python bench/results/s19f-volunteer-sets/active_ab.py > active-small.json
"""
import asyncio
import json
import statistics
import time
from datetime import date, timedelta

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from ops import pg
from services.volunteers.repository.stats import distinct_served
from shared import clock
from shared.distinct_sets import month_end

RUNS = 20
BEFORE = text("""SELECT count(DISTINCT volunteer_id) FROM volunteers.served_day
                 WHERE station_path LIKE '/1/%' AND day >= :lo AND day <= :hi AND records > 0""")


async def main() -> None:
    base = make_url(pg.start()).set(database="haolin_bench_small")
    engine = create_async_engine(base.set(drivername="postgresql+asyncpg"), isolation_level="AUTOCOMMIT")
    keep = async_sessionmaker(engine)
    first = (clock.today().replace(day=1) - timedelta(days=1)).replace(day=1)
    last = month_end(first)
    async with AsyncSession(engine) as s:
        await s.execute(text("DELETE FROM volunteers.distinct_set"))

    async def kept(s):
        rows = await distinct_served(s, station_path="/1/", own_station_id=1, day_from=first, day_to=last,
                                     period=None, by_population=False, by_station=False, keep=keep)
        return rows[0]["value"]

    async def before(s):
        return (await s.execute(BEFORE, {"lo": first, "hi": last})).scalar()

    async def timed(read):
        async with AsyncSession(engine) as s:
            t = time.perf_counter()
            value = await read(s)
            return (time.perf_counter() - t) * 1000, value

    cold_ms, cold = await timed(kept)
    samples = {"before": [], "kept": []}
    values = set()
    for _ in range(RUNS):
        for name, read in (("before", before), ("kept", kept)):
            ms, value = await timed(read)
            samples[name].append(ms)
            values.add(value)
    print(json.dumps({"month": [first.isoformat(), last.isoformat()], "runs": RUNS, "answers": sorted(values | {cold}),
                      "never_built_ms": round(cold_ms, 2),
                      **{f"{k}_p50_ms": round(statistics.median(v), 2) for k, v in samples.items()}}, indent=2))
    await engine.dispose()


asyncio.run(main())
