"""Scenario 8 (issue 20): the morning sync storm. Every township and village station's tablet comes
online within a few minutes (at province 4,451 tablets over 5 minutes; proportionally fewer and a
shorter window at the smaller scales, so the bench stays short) and syncs as WatermelonDB does:
an incremental pull, a push of 20 records made offline, then a pull.

The 20 records span two services: a newly registered person, a case for them and 10 service records
(cases), 4 activities under a project and the person's attendance at each (projects). A tablet told
to come back (429 or 503 with Retry-After) waits as long as it is told and tries the same request
again until it is done; any other answer is an error.

Before the storm each tablet is registered (POST /v1/devices, as scenario 5 does) and makes its
first, full pull, so the storm's pulls are incremental, as a tablet's morning sync is. Not timed.

Measured: wall time from the first arrival until the last tablet is done, p50/p99 of one tablet's
whole sync (from its arrival, waits included), errors and retries, the peak memory of every process
during the storm (VmHWM after /proc/<pid>/clear_refs, as scenario 7 does), and whether every pushed
record was counted: the uncached dashboard summary for today before and after must differ by exactly
what was pushed, and the tables must hold each pushed record once, with nothing else added.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid

from bench import loadgen

# Per scale: tablets, and the window their arrivals are spread over (seconds).
TABLETS = {"tiny": (6, 2.0), "small": (200, 30.0), "province": (4_451, 300.0)}
SCHEMA_VERSION = "2"  # as scenario 5 pulls
SERVICE_RECORDS, ACTIVITIES = 10, 4  # + a person and a case: 20 records per push
RETRY_STATUSES = (429, 503)
TARGET_P99_S = 30.0
TABLES = {"cases.beneficiary": "beneficiaries", 'cases."case"': "cases", "cases.service_record": "service_records",
          "projects.activity": "activities", "projects.attendance": "attendances"}


def changes_for(station_id: int, project_id: str, day: str) -> dict[str, dict]:
    """One tablet's offline work, as WatermelonDB pushes it."""
    def uid(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex}"

    person = {"id": uid("b"), "name": "王五", "populations": '["elderly"]', "station_id": station_id}
    case = {"id": uid("c"), "beneficiary_id": person["id"], "title": "入户照护", "opened_on": day}
    records = [{"id": uid("sr"), "case_id": case["id"], "served_on": day, "mode": "home_visit", "content": "入户探访",
                "service_type": "elder_child_care", "person_times": 1} for _ in range(SERVICE_RECORDS)]
    activities = [{"id": uid("a"), "project_id": project_id, "station_id": station_id, "title": "重阳节敬老活动",
                   "kind": "festival", "held_on": day, "anonymous_count": 0} for _ in range(ACTIVITIES)]
    attendances = [{"id": uid("att"), "activity_id": a["id"], "beneficiary_id": person["id"]} for a in activities]
    made = {"beneficiaries": [person], "cases": [case], "service_records": records, "activities": activities,
            "attendances": attendances}
    return {table: {"created": rows, "updated": [], "deleted": []} for table, rows in made.items()}


async def _stations(dsn: str, wanted: int) -> list[dict]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("""SELECT id, path FROM gateway.station WHERE kind IN ('township', 'village')
                                   ORDER BY md5(id::text) LIMIT $1""", wanted)
        return [dict(r) for r in rows]
    finally:
        await conn.close()


async def _counts(dsn: str, ids: dict[str, list[str]]) -> tuple[dict[str, int], dict[str, int]]:
    """Rows per table, and how many of the pushed ids each holds."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        total = {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}
        found = {t: await conn.fetchval(f"SELECT count(*) FROM {t} WHERE id = ANY($1::text[])", ids.get(name, []))
                 for t, name in TABLES.items()}
        return total, found
    finally:
        await conn.close()


def run(runner) -> None:
    """`runner` is the suite's Run."""
    from bench.suite import log, per_request, today  # the suite imports this module

    tablets, window = TABLETS[runner.scale.name]
    day = today().isoformat()
    admin = runner.token("admin", 1, "/1/", "admin")
    base = runner.url("gateway")
    stations = asyncio.run(_stations(runner.dsn, tablets))
    import httpx

    r = httpx.post(base + "/v1/projects", headers=admin, timeout=30, json={
        "name": f"敬老项目 {uuid.uuid4().hex[:6]}", "purchaser": "省民政厅", "operator": "好邻社工中心",
        "starts_on": (today().replace(day=1)).isoformat(), "ends_on": day})
    if r.status_code != 201:
        raise RuntimeError(f"POST /v1/projects: {r.status_code} {r.text[:300]}")
    project_id = r.json()["id"]
    devices: list[dict] = [{} for _ in stations]
    tag = uuid.uuid4().hex[:8]  # a reused database keeps the tablets of earlier runs, and names are unique
    pull_params = {"schema_version": SCHEMA_VERSION, "migration": "null"}

    async def register(session, n: int) -> int:
        async with session.post(base + "/v1/devices", headers=admin,
                                json={"station_id": stations[n]["id"], "name": f"storm {tag} {n}"}) as resp:
            if resp.status != 201:
                return -resp.status
            device = {"Authorization": f"Bearer {(await resp.json())['credential']}"}
        async with session.get(base + "/v1/sync", headers=device,
                               params={**pull_params, "last_pulled_at": "null"}) as resp:
            if resp.status != 200:
                return -resp.status
            devices[n] = {"headers": device, "timestamp": json.loads(await resp.read())["timestamp"]}
        return 200

    t = time.perf_counter()
    ready = asyncio.run(loadgen.run_calls(register, 8, total=len(stations)))
    if ready.errors:
        raise RuntimeError(f"registering the storm's tablets: {ready.statuses}")
    log(f"8 storm: {len(stations)} tablets registered and pulled once in {time.perf_counter() - t:.1f} s")

    def figures() -> dict:
        got = runner.get("gateway_nocache", "/v1/stats/summary", admin, {"station_id": 1, "from": day, "to": day})
        return {k: v["value"] for k, v in got.json()["figures"].items()}

    pushes = [changes_for(s["id"], project_id, day) for s in stations]
    ids = {name: [row["id"] for p in pushes for row in p[name]["created"]] for name in TABLES.values()}
    before, (rows_before, _) = figures(), asyncio.run(_counts(runner.dsn, ids))
    rng = random.Random(20)
    arrivals = sorted(rng.uniform(0, window) for _ in stations)
    durations: list[float] = []
    retries, errors, failures = {"429": 0, "503": 0}, 0, []
    finished: list[float] = []

    async def storm() -> float:
        import aiohttp

        async def call(session, method: str, n: int, **kw) -> dict | None:
            nonlocal errors
            while True:
                async with session.request(method, base + "/v1/sync", headers=devices[n]["headers"], **kw) as resp:
                    body = await resp.read()
                    if resp.status in RETRY_STATUSES and "Retry-After" in resp.headers:
                        retries[str(resp.status)] += 1
                        await asyncio.sleep(float(resp.headers["Retry-After"]))
                        continue
                    if resp.status not in (200, 204):
                        errors += 1
                        failures.append(f"{method} {resp.status}: {body[:200].decode(errors='replace')}")
                        return None
                    return json.loads(body) if body else {}

        async def tablet(session, n: int, start: float) -> None:
            await asyncio.sleep(max(0.0, start + arrivals[n] - time.perf_counter()))
            began = time.perf_counter()
            try:
                pulled = await call(session, "GET", n, params={**pull_params,
                                                                "last_pulled_at": str(devices[n]["timestamp"])})
                if pulled is None:
                    return
                if await call(session, "POST", n, params={"last_pulled_at": str(pulled["timestamp"])},
                              json=pushes[n]) is None:
                    return
                if await call(session, "GET", n, params={**pull_params,
                                                          "last_pulled_at": str(pulled["timestamp"])}) is None:
                    return
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                nonlocal errors
                errors += 1
                failures.append(type(exc).__name__)
                return
            durations.append(time.perf_counter() - began)
            finished.append(time.perf_counter() - start)

        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as session:
            start = time.perf_counter()
            await asyncio.gather(*(tablet(session, n, start) for n in range(len(stations))))
            return time.perf_counter() - start

    servers = runner.servers
    reset = all(s.reset_peak() for s in servers.values())
    with runner.cpu.measure() as spent:
        asyncio.run(storm())
    memory = {name: s.memory_kib() for name, s in servers.items()}
    peaks_mb = {name: round(m["VmHWM"] / 1024, 1) for name, m in memory.items()}
    wall = max(finished, default=float("inf")) - arrivals[0]
    # The arrivals fill the window, so the last tablet comes almost at its end: how long the system
    # still took after the last arrival says whether it kept up.
    drain = max(finished, default=float("inf")) - arrivals[-1]

    after, (rows_after, found) = figures(), asyncio.run(_counts(runner.dsn, ids))
    done = len(durations)
    pushed = {name: len(rows) for name, rows in ids.items()}
    expected_rows = {t: pushed[name] if done == len(stations) else None for t, name in TABLES.items()}
    # Every pushed record stored once and nothing else added (ids are keys: a second copy would be a new id).
    rows_ok = all(found[t] == pushed[name] and rows_after[t] - rows_before[t] == pushed[name]
                  for t, name in TABLES.items())
    counted = {"person_times.casework": SERVICE_RECORDS * done, "person_times.community": ACTIVITIES * done,
               "beneficiaries.registered": done}
    moved = {k: after.get(k, 0) - before.get(k, 0) for k in counted}
    all_counted = moved == counted
    p50, p99 = loadgen.percentile(durations, 0.5), loadgen.percentile(durations, 0.99)
    met = (done == len(stations) and errors == 0 and rows_ok and all_counted and wall <= window
           and p99 < TARGET_P99_S)
    runner.add(id="8", name=f"sync storm: {len(stations):,} tablets arriving over {window:.0f} s, "
                            "each pull + push of 20 records + pull",
               unit="s (until the last tablet is done)", value=wall, higher_is_better=False,
               p50_ms=p50 * 1000, p99_ms=p99 * 1000, errors=errors, generator="python-aiohttp, scheduled arrivals",
               cpu_ms=per_request(spent, max(done, 1), unit=1e3),
               target={"text": f"every tablet done within {window:.0f} s of the first arrival, one tablet's sync "
                               f"p99 < {TARGET_P99_S:.0f} s, no errors, every record stored once and counted",
                       "met": met},
               detail=f"{done:,} of {len(stations):,} tablets done in {wall:.1f} s after the first arrival "
                      f"({drain:.1f} s after the "
                      f"last, {arrivals[-1] - arrivals[0]:.1f} s after the first); one "
                      f"tablet's sync p50 {p50:.2f} s, p99 {p99:.2f} s; retries after 429/503 {retries}; errors "
                      f"{errors}; rows {'each pushed record stored once' if rows_ok else 'NOT as pushed'}; "
                      f"today's summary moved {moved} "
                      f"({'every record counted' if all_counted else 'NOT every record counted'}); peak RSS "
                      f"(VmHWM{'' if reset else ', since start'}) "
                      + ", ".join(f"{k} {v:.0f} MB" for k, v in peaks_mb.items()),
               tablets=len(stations), done=done, window_s=window, after_last_arrival_s=round(drain, 3),
               retries=retries, failures=failures[:20],
               pushed=pushed, rows_found={t: found[t] for t in TABLES}, expected_rows=expected_rows,
               rows_added={t: rows_after[t] - rows_before[t] for t in TABLES}, rows_ok=rows_ok,
               summary_moved=moved, summary_expected=counted, all_counted=all_counted, peak_reset=reset,
               peak_rss_mb=peaks_mb, memory_kib=memory)
