"""64 concurrent writers, each committing rollup.add (3 keys, a random station's today) in a loop for
10 s: transactions/s, p50/p99, and how often a sample of pg_stat_activity finds a writer waiting on a
lock. Variants: no ancestor triggers (daily_stat only, as before), triggers with 16 shards near the
root (as shipped), triggers without shards (SHARDS = 1)."""
import asyncio, json, random, statistics, sys, time
from datetime import date
from decimal import Decimal
import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine, AsyncSession
sys.path.insert(0, "/work/wt/s19a")
from shared import rollup
from services.cases.models import DailyStat

async def variant(url, plain, stations, seconds=10, clients=64):
    engine = create_async_engine(url, pool_size=clients, max_overflow=0)
    times, stop = [], time.monotonic() + seconds
    waits = {"samples": 0, "lock_waiting": 0}

    async def writer(i):
        rnd = random.Random(i)
        while time.monotonic() < stop:
            sid, path = rnd.choice(stations)
            deltas = {(sid, path, date(2026, 12, 5), "person_times.casework", p): Decimal(1)
                      for p in ("_all", "elderly", "disabled")}
            t = time.perf_counter()
            async with AsyncSession(engine) as s, s.begin():
                await rollup.add(s, DailyStat, deltas)
            times.append((time.perf_counter() - t) * 1000)

    async def sampler():
        c = await asyncpg.connect(plain)
        while time.monotonic() < stop:
            rows = await c.fetch("SELECT wait_event_type FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND state = 'active' AND query LIKE '%daily_stat%' AND pid <> pg_backend_pid()")
            waits["samples"] += len(rows)
            waits["lock_waiting"] += sum(1 for r in rows if r["wait_event_type"] == "Lock")
            await asyncio.sleep(0.05)
        await c.close()

    await asyncio.gather(sampler(), *(writer(i) for i in range(clients)))
    await engine.dispose()
    times.sort()
    return {"tx_per_s": round(len(times) / seconds, 1), "p50_ms": round(statistics.median(times), 1),
            "p99_ms": round(times[int(len(times) * .99)], 1),
            "writers_seen_waiting_on_a_lock": f"{waits['lock_waiting']}/{waits['samples']}"}

async def main(url, out):
    plain = url.replace("+asyncpg", "")
    conn = await asyncpg.connect(plain)
    stations = [(r["id"], r["path"]) for r in await conn.fetch("SELECT id, path FROM cases.station")]
    function = rollup.ancestor_trigger_sql("cases")[0]
    res = {}
    for rnd in range(2):
        for name in ("no ancestor triggers (before)", "triggers, 16 shards (after)", "triggers, no shards"):
            await conn.execute(f"ALTER TABLE cases.daily_stat {'DISABLE' if 'no ancestor' in name else 'ENABLE'} TRIGGER USER")
            await conn.execute(function.replace(f"% {rollup.SHARDS}", "% 1") if "no shards" in name else function)
            r = await variant(url, plain, stations)
            res.setdefault(name, []).append(r)
            print(name, r, flush=True)
    await conn.execute("ALTER TABLE cases.daily_stat ENABLE TRIGGER USER")
    await conn.execute(function)
    async with conn.transaction():
        for statement in rollup.rebuild_sql("cases"):
            await conn.execute(statement)
    await conn.close()
    json.dump(res, open(out, "w"), indent=2)

asyncio.run(main(sys.argv[1], sys.argv[2]))
