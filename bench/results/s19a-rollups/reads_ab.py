"""Old (per-station daily_stat, prefix scan) against new (ancestor_stat) reads of the same figures,
on the bench's kept small database: median of N runs each, alternating."""
import asyncio, importlib.util, json, statistics, sys, time
from datetime import date
from sqlalchemy.ext.asyncio import create_async_engine, AsyncSession

sys.path.insert(0, "/work/wt/s19a")
from shared import rollup as new
from services.cases.models import DailyStat as CasesDS
from services.projects.models import DailyStat as ProjectsDS

spec = importlib.util.spec_from_file_location("old_rollup", "/tmp/s19a-base/shared/rollup.py")
old = importlib.util.module_from_spec(spec); spec.loader.exec_module(old)

FLOWS = ["person_times.casework", "cases.new", "cases.closed", "cases.reopened", "beneficiaries.registered",
         "resources.linked_yuan"]
ASKS = {
    "province month summary (cases flows)": dict(model=CasesDS, metrics=FLOWS, day_from=date(2026, 11, 1),
        day_to=date(2026, 11, 30), period=None, by_population=False, by_station=False),
    "province year by day (cases flows)": dict(model=CasesDS, metrics=FLOWS, day_from=date(2025, 1, 1),
        day_to=date(2025, 12, 31), period="day", by_population=False, by_station=False),
    "province by city, one month (cases flows)": dict(model=CasesDS, metrics=FLOWS, day_from=date(2026, 11, 1),
        day_to=date(2026, 11, 30), period=None, by_population=False, by_station=True),
    "province cases.open by month, a year (stock)": dict(model=CasesDS, metrics=["cases.open"],
        day_from=date(2025, 1, 1), day_to=date(2025, 12, 31), period="month", by_population=False,
        by_station=False, running=True),
    "province year summary by population (projects)": dict(model=ProjectsDS, metrics=["person_times.group",
        "person_times.community", "groups", "group_sessions", "activities"], day_from=date(2025, 1, 1),
        day_to=date(2025, 12, 31), period=None, by_population=True, by_station=False),
}

async def main(url, n):
    engine = create_async_engine(url)
    out = {}
    async with AsyncSession(engine) as s:
        for name, ask in ASKS.items():
            ask = dict(ask); model = ask.pop("model")
            times = {"daily_stat (before)": [], "ancestor_stat (after)": []}
            answers = {}
            for i in range(n):
                for label, mod in (("daily_stat (before)", old), ("ancestor_stat (after)", new)):
                    t = time.perf_counter()
                    rows = await mod.sums(s, model, station_path="/1/", own_station_id=1, **ask)
                    times[label].append((time.perf_counter() - t) * 1000)
                    answers[label] = sorted(json.dumps(r, sort_keys=True) for r in rows)
            same = answers["daily_stat (before)"] == answers["ancestor_stat (after)"]
            out[name] = {k: round(statistics.median(v), 2) for k, v in times.items()} | {"same_rows": same,
                                                                                        "rows": len(answers["ancestor_stat (after)"])}
            print(name, out[name], flush=True)
    await engine.dispose()
    return out

if __name__ == "__main__":
    res = asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    json.dump(res, open(sys.argv[3], "w"), indent=2)
