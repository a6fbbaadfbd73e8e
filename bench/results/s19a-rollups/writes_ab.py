"""What the trigger adds to a write: the same rollup.add (3 keys, a random station's today) committed
one after another, with the ancestor triggers enabled and disabled (= daily_stat only, as before),
alternating in blocks; median ms per transaction."""
import asyncio, json, random, statistics, sys, time
from datetime import date
from decimal import Decimal
import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine, AsyncSession
sys.path.insert(0, "/work/wt/s19a")
from shared import rollup
from services.cases.models import DailyStat

async def main(url, n):
    plain = url.replace("+asyncpg", "")
    conn = await asyncpg.connect(plain)
    stations = [(r["id"], r["path"]) for r in await conn.fetch("SELECT id, path FROM cases.station")]
    engine = create_async_engine(url)
    times = {"triggers on (after)": [], "triggers off (before)": []}
    rnd = random.Random(7)
    for block in range(n // 50):
        for label, on in (("triggers on (after)", True), ("triggers off (before)", False)):
            await conn.execute(f"ALTER TABLE cases.daily_stat {'ENABLE' if on else 'DISABLE'} TRIGGER USER")
            for _ in range(50):
                sid, path = rnd.choice(stations)
                deltas = {(sid, path, date(2026, 12, 5), "person_times.casework", p): Decimal(1)
                          for p in ("_all", "elderly", "disabled")}
                t = time.perf_counter()
                async with AsyncSession(engine) as s, s.begin():
                    await rollup.add(s, DailyStat, deltas)
                times[label].append((time.perf_counter() - t) * 1000)
    await conn.execute("ALTER TABLE cases.daily_stat ENABLE TRIGGER USER")
    for statement in rollup.rebuild_sql("cases"):
        pass
    async with conn.transaction():
        for statement in rollup.rebuild_sql("cases"):
            await conn.execute(statement)
    await conn.close(); await engine.dispose()
    res = {k: {"median_ms": round(statistics.median(v), 2), "p90_ms": round(sorted(v)[int(len(v) * .9)], 2),
               "n": len(v)} for k, v in times.items()}
    print(res)
    return res

if __name__ == "__main__":
    json.dump(asyncio.run(main(sys.argv[1], int(sys.argv[2]))), open(sys.argv[3], "w"), indent=2)
