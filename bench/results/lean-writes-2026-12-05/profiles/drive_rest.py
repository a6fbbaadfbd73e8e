"""Drive scenario 6 (REST creates, 64 clients) or 5a (pushes of 1,000) against `bench serve`, for py-spy."""
import asyncio, json, sys, time, uuid, datetime
import aiohttp, asyncpg

SERVE = json.load(open(sys.argv[1]))
MODE, SECONDS = sys.argv[2], float(sys.argv[3])
DSN = sys.argv[4]

async def main():
    gw = SERVE["urls"]["gateway"]
    worker = SERVE["worker"]
    county = SERVE["picks"]["county"]
    conn = await asyncpg.connect(DSN)
    cases = [r["id"] for r in await conn.fetch(
        "SELECT id FROM cases.\"case\" WHERE station_path LIKE $1 AND deleted_at IS NULL AND status <> 'closed' AND opened_on < current_date LIMIT 500",
        county["path"] + "%")]
    await conn.close()
    day = datetime.date.today().isoformat()
    hdr = worker
    done = 0
    end = time.monotonic() + SECONDS
    async with aiohttp.ClientSession() as s:
        if MODE == "rest":
            async def client(k):
                nonlocal done
                n = k
                while time.monotonic() < end:
                    body = {"served_on": day, "mode": "phone", "content": "电话回访", "service_type": "social_assistance",
                            "person_times": 1, "duration_minutes": 15}
                    async with s.post(f"{gw}/v1/cases/{cases[n % len(cases)]}/service-records", json=body, headers=hdr) as r:
                        await r.read()
                        assert r.status == 201, (r.status, await r.text())
                    done += 1; n += 64
            await asyncio.gather(*(client(k) for k in range(64)))
        else:
            print("push mode needs a device; not used")
    print(MODE, done, "in", SECONDS, "s:", done / SECONDS, "/s")

asyncio.run(main())
