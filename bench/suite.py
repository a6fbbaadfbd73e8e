"""`python -m bench run --scale tiny|small|province`: load a province, start the real processes, run
every scenario of issue 7 against its same-run baseline, the photo uploads of issue 22 (scenario 7,
bench/uploads.py) and the sync storm of issue 20 (scenario 8, bench/storm.py); write
bench/results/<scale>-<date>.json/.md.

Processes are started as `make run` starts them (ops/run.py: one uvicorn each, uvloop, httptools,
no access log) on free loopback ports, against a scratch database `haolin_bench_<scale>` on the
embedded PostgreSQL (started if it is not running, and then stopped at the end). Besides the
gateway as shipped, a second gateway with GATEWAY_STATS_CACHE_S=0 answers the "uncached" scenarios,
and bench/bare_read.py is the floor of scenario 1. Files go to local disk, as with `make run`, in a
scratch folder under bench/results/tmp removed at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench import loadgen, province, raw, report, storm, uploads
from bench.loadgen import median, percentile
from ops.run import server as server_command

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TMP = RESULTS / "tmp"

# Per scale: seconds of each throughput run, sequential repeats of a latency measurement, repeats
# of the raw-SQL baselines, sync rounds, seconds of the write scenario, photos uploaded and how many of
# them differ.
PLAN = {
    "tiny": {"seconds": 1, "repeats": 5, "raw_repeats": 2, "pulls": 1, "pushes": 1, "push_records": 100,
             "write_s": 1, "warm_up": 0, "uploads": 32, "photos": 2},
    "small": {"seconds": 10, "repeats": 30, "raw_repeats": 3, "pulls": 1, "pushes": 1, "push_records": 1_000,
              "write_s": 10, "warm_up": 2, "uploads": 256, "photos": 8},
    "province": {"seconds": 10, "repeats": 30, "raw_repeats": 2, "pulls": 2, "pushes": 2, "push_records": 1_000,
                 "write_s": 10, "warm_up": 2, "uploads": 256, "photos": 8},
}
SYNC_PULL_RECORDS = 100_000  # scenario 5: a station with at least this many records
WRITE_CLIENTS = 64


_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"bench {time.monotonic() - _T0:6.1f}s | {message}", flush=True)


def _die_with_parent() -> None:
    # Linux: a benchmark killed outright (a test's timeout) takes its servers with it.
    import ctypes
    import signal

    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# ------------------------------------------------------------------ processes

def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The bare floors of scenario 1 (and bench/case_read.py).
FLOORS = frozenset({"bench.bare_read:main"})


class Server:
    """One process as ops/run.py starts it (a floor: as stock uvicorn), its output to a log file under
    bench/results/tmp."""

    def __init__(self, name: str, factory: str, env: dict[str, str], port: int | None = None) -> None:
        self.name, self.port = name, port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = TMP / f"{name}.log"
        self._out = self.log.open("wb")
        # GATEWAY_WORKERS=2 (CASES_WORKERS...) as `make run` takes it: uvicorn workers, /metrics across them.
        workers = int(env.get(f"{name.split('_')[0].upper()}_WORKERS") or 1) if factory.startswith(
            ("gateway.", "services.")) else 1
        if factory in FLOORS:
            # A floor is what anyone gets from the framework: stock uvicorn, as its documentation starts it.
            cmd = [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1",
                   "--port", str(self.port), "--loop", "uvloop", "--http", "httptools", "--no-access-log"]
        else:
            cmd = [sys.executable, "-m", *server_command(factory, "127.0.0.1", self.port, workers)]
        if workers > 1:
            metrics = TMP / "metrics" / name
            metrics.mkdir(parents=True, exist_ok=True)
            for old in metrics.glob("*.db"):
                old.unlink()
            env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=self._out,
                                     stderr=subprocess.STDOUT,
                                     preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)

    def wait_ready(self, path: str = "/readyz", timeout: float = 90) -> None:
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + path, timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not become ready; see {self.log}")
            time.sleep(0.1)

    def memory_kib(self) -> dict[str, int]:
        """VmRSS and VmHWM (the peak resident size since the process started), KiB."""
        out = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
        return out

    def reset_peak(self) -> bool:
        """Start VmHWM again from the current size (Linux clear_refs), so that a scenario's peak is its own."""
        try:
            Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._out.close()


class CpuMeter:
    """CPU seconds each of our processes (and the whole PostgreSQL server) spends during a measurement.

    On a machine shared with other work, requests per second and latencies move with whatever else
    runs; CPU time per request moves much less, so every scenario also reports it."""

    def __init__(self, servers: dict[str, Server]) -> None:
        self.servers = servers

    def snapshot(self) -> dict[str, float]:
        from bench.case_read import cpu_seconds, postgres_cpu_seconds

        found = {name: sum(cpu_seconds(pid) for pid in _tree(s.proc.pid)) for name, s in self.servers.items()}
        found["postgres"] = postgres_cpu_seconds()
        return found

    @contextlib.contextmanager
    def measure(self):
        """Yields a dict that holds, after the block, the CPU seconds of each process that used any."""
        spent: dict[str, float] = {}
        before = self.snapshot()
        yield spent
        after = self.snapshot()
        spent.update({k: round(after[k] - before[k], 3) for k in after if after[k] - before[k] >= 0.01})


def _tree(pid: int) -> list[int]:
    """A process and its children (uvicorn's workers), whose CPU counts as the process's."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [pid, *(c for child in children for c in _tree(int(child)))]


def per_request(spent: dict[str, float], requests: int, unit: float = 1e6) -> dict[str, float]:
    """CPU per request (µs by default) of each process, and their total."""
    if not requests:
        return {}
    out = {k: round(v / requests * unit, 1) for k, v in spent.items()}
    out["total"] = round(sum(spent.values()) / requests * unit, 1)
    return out


# ------------------------------------------------------------------ database

def plain(url) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(url, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(plain(url.set(database="postgres")))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _accounts(dsn: str, wanted: list[tuple[str, int, str]]) -> list[tuple[int, int]]:
    """(id, token generation) of an account per (role, station id, username); made when missing, with a
    password no login matches. Role admin: the bootstrap admin."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        out = []
        for role, station_id, username in wanted:
            if role == "admin":
                username = "admin"
            else:
                await conn.execute(
                    """INSERT INTO gateway."user" (username, display_name, role, station_id, password_hash, created_by)
                       SELECT $1::varchar, $1::varchar, $2, $3, '!', 'bench' WHERE NOT EXISTS (
                           SELECT 1 FROM gateway."user" WHERE lower(username) = lower($1::varchar))""",
                    username, role, station_id)
            row = await conn.fetchrow('SELECT id, token_generation FROM gateway."user" WHERE username = $1', username)
            out.append((row["id"], row["token_generation"]))
        return out
    finally:
        await conn.close()


async def _fetch(dsn: str, sql: str, *args):
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


def _keys(name: str) -> dict[str, str]:
    """The keys a scratch database was sealed with: kept beside it so --reuse-db can read it again."""
    from ops.keys import generate_signing_pair
    from shared.crypto import generate_key

    path = TMP / f"{name}.keys.json"
    if path.exists():
        return json.loads(path.read_text())
    private, public = generate_signing_pair()
    keys = {"JWT_PRIVATE_KEY": private, "JWT_PUBLIC_KEY": public, "FIELD_ENCRYPTION_KEYS": f"k1:{generate_key()}",
            "BLIND_INDEX_KEY": f"bench-{uuid.uuid4().hex}"}
    path.write_text(json.dumps(keys))
    return keys


async def _manifest(dsn: str) -> dict | None:
    import asyncpg

    try:
        conn = await asyncpg.connect(dsn)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        value = await conn.fetchval("SELECT to_regclass('public.bench_manifest') IS NOT NULL")
        return json.loads(await conn.fetchval("SELECT body FROM public.bench_manifest")) if value else None
    finally:
        await conn.close()


def prepare(scale: province.Scale, url, keys: dict[str, str], reuse: bool) -> dict:
    from ops.migrate import upgrade_all

    dsn = plain(url)
    if reuse:
        found = asyncio.run(_manifest(dsn))
        if found and found["scale"] == province.asdict(scale):
            log(f"reusing {url.database} (loaded {found['loaded_on']})")
            return found
    log(f"database {url.database}: recreating, migrating, loading scale {scale.name} "
        f"({scale.stations:,} stations, {scale.beneficiaries:,} beneficiaries)")
    asyncio.run(_admin(url, f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    asyncio.run(_admin(url, f'CREATE DATABASE "{url.database}"'))
    upgrade_all(url.render_as_string(hide_password=False))
    t = time.monotonic()
    manifest = asyncio.run(province.load(dsn, scale, province.Keys(keys["FIELD_ENCRYPTION_KEYS"],
                                                                   keys["BLIND_INDEX_KEY"]),
                                         today(), log=lambda m: log(m)))
    manifest["load_s"] = round(time.monotonic() - t, 1)
    manifest["loaded_on"] = dt.date.today().isoformat()

    async def keep() -> None:
        import asyncpg

        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("CREATE TABLE public.bench_manifest (body text)")
            await conn.execute("INSERT INTO public.bench_manifest VALUES ($1)", json.dumps(manifest))
        finally:
            await conn.close()

    asyncio.run(keep())
    log(f"loaded in {manifest['load_s']:.0f} s: {manifest['counts']}")
    return manifest


def today() -> dt.date:
    from shared import clock

    return clock.today()


# ------------------------------------------------------------------ what the scenarios use

async def pick(dsn: str) -> dict:
    """Stations, ids and dates the scenarios use, chosen from the loaded data."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        county = await conn.fetchrow(
            """SELECT s.id, s.path FROM gateway.station s JOIN (
                   SELECT split_part(station_path, '/', 4)::bigint AS id, count(*) AS n FROM cases."case"
                   GROUP BY 1) c ON c.id = s.id ORDER BY c.n DESC, s.id LIMIT 1""")
        case_ids = [r["id"] for r in await conn.fetch(
            """SELECT id FROM cases."case" WHERE station_path LIKE $1 || '%' ORDER BY md5(id) LIMIT 10000""",
            county["path"])]
        township = await conn.fetchrow(
            """SELECT s.id, s.path FROM gateway.station s JOIN (
                   SELECT split_part(station_path, '/', 5)::bigint AS id, count(*) AS n FROM cases.service_record
                   GROUP BY 1) c ON c.id = s.id ORDER BY c.n DESC, s.id LIMIT 1""")
        stations = {r["path"]: r["id"] for r in await conn.fetch("SELECT id, path FROM gateway.station")}
        per_path: dict[str, int] = {}
        for table in raw.SYNCED_TABLES:
            for r in await conn.fetch(f"SELECT station_path, count(*) AS n FROM {table} GROUP BY 1"):
                per_path[r["station_path"]] = per_path.get(r["station_path"], 0) + r["n"]
        subtree = {p: sum(n for q, n in per_path.items() if q.startswith(p)) for p in stations}
        big = [p for p, n in subtree.items() if n >= SYNC_PULL_RECORDS]
        sync_path = min(big, key=lambda p: subtree[p]) if big else max(subtree, key=lambda p: subtree[p])
        push_cases = await conn.fetch(
            """SELECT id FROM cases."case" WHERE station_path LIKE $1 || '%' AND closed_on IS NULL
               ORDER BY md5(id) LIMIT 50""", sync_path)
        # Scenario 5c: attendances of the station's activities by its people; 5d: its volunteers' hours.
        push_activities = await conn.fetch(
            """SELECT id FROM projects.activity WHERE station_path LIKE $1 || '%' AND deleted_at IS NULL
               ORDER BY md5(id) LIMIT 50""", sync_path)
        push_people = await conn.fetch(
            """SELECT id FROM cases.beneficiary WHERE station_path LIKE $1 || '%' AND deleted_at IS NULL
               ORDER BY md5(id) LIMIT 1000""", sync_path)
        push_volunteers = await conn.fetch(
            """SELECT id FROM volunteers.volunteer WHERE station_path LIKE $1 || '%' AND deleted_at IS NULL
               ORDER BY md5(id) LIMIT 50""", sync_path)
        # 5e: activities under a project of the station's subtree (filed at the project's station), or else
        # of a station above it (filed at the tablet's own).
        push_project = await conn.fetchrow(
            """SELECT id, CASE WHEN station_path LIKE $1 || '%' THEN station_id END AS station_id, starts_on, ends_on
               FROM projects.project
               WHERE deleted_at IS NULL AND (station_path LIKE $1 || '%' OR $1 LIKE station_path || '%')
               ORDER BY station_path LIKE $1 || '%' DESC, ends_on DESC, id LIMIT 1""", sync_path)
        write_cases = await conn.fetch(
            """SELECT id, station_id, station_path FROM cases."case" WHERE closed_on IS NULL
               ORDER BY md5(id) LIMIT 2000""")
        max_seq = await conn.fetchval("SELECT max(change_seq) FROM gateway.station")
    finally:
        await conn.close()
    now = today()
    month_end = now.replace(day=1) - dt.timedelta(days=1)
    return {"county": dict(county), "case_ids": case_ids, "township": dict(township),
            "month": (month_end.replace(day=1), month_end), "year": (dt.date(now.year - 1, 1, 1),
                                                                     dt.date(now.year - 1, 12, 31)),
            "sync_station": {"id": stations[sync_path], "path": sync_path, "records": subtree[sync_path]},
            "push_cases": [r["id"] for r in push_cases], "write_cases": [dict(r) for r in write_cases],
            "push_activities": [r["id"] for r in push_activities], "push_people": [r["id"] for r in push_people],
            "push_volunteers": [r["id"] for r in push_volunteers],
            "push_project": dict(push_project) if push_project else None,
            "max_change_seq": max_seq, "stations": len(stations)}


# ------------------------------------------------------------------ scenarios

class Run:
    def __init__(self, scale: province.Scale, plan: dict, servers: dict[str, Server], signer, dsn: str,
                 picks: dict, use_wrk: bool) -> None:
        self.scale, self.plan, self.servers, self.signer, self.dsn = scale, plan, servers, signer, dsn
        self.picks, self.use_wrk = picks, use_wrk
        self.scenarios: list[dict] = []
        self.cpu = CpuMeter(servers)
        self._http = None

    def token(self, role: str, station_id: int, station_path: str, user: str) -> dict[str, str]:
        return self.tokens([(role, station_id, station_path, user)])[0]

    def tokens(self, wanted: list[tuple[str, int, str, str]]) -> list[dict[str, str]]:
        """Tokens as the gateway signs them, each (role, station, path, username) of a real account: the
        gateway checks every token against its account. An admin's is the bootstrap admin's; the others'
        accounts are made here on first use."""
        from shared.principals import Principal, Role

        accounts = asyncio.run(_accounts(self.dsn, [(role, station_id, user) for role, station_id, _, user in wanted]))
        out = []
        for (role, station_id, station_path, user), (user_id, generation) in zip(wanted, accounts, strict=True):
            principal = Principal(user_id=str(user_id), role=Role(role), station_id=station_id,
                                  station_path=station_path, name=user, generation=generation)
            out.append({"Authorization": f"Bearer {self.signer.access_token(principal, ttl_s=6 * 3600)}"})
        return out

    def url(self, name: str) -> str:
        return self.servers[name].url

    def get(self, name: str, path: str, headers: dict, params: dict | None = None, expect: int = 200):
        # One client for the run, its connections kept alive as a dashboard's browser keeps them. A new
        # client per request (httpx.get) builds a TLS context first: ~24 ms of the load generator's own
        # CPU, which the sequential scenarios (3a, 3c, 3d, 4) counted as answer time until 2026-12-06.
        import httpx

        if self._http is None:
            self._http = httpx.Client(timeout=300)
        r = self._http.get(self.url(name) + path, headers=headers, params=params)
        if r.status_code != expect:
            raise RuntimeError(f"GET {name}{path}: {r.status_code} {r.text[:300]}")
        return r

    def add(self, **scenario) -> None:
        baseline, value = scenario.get("baseline"), scenario["value"]
        if baseline and baseline.get("value"):
            scenario["ratio"] = round(value / baseline["value"], 3) if scenario.get("higher_is_better", True) \
                else round(baseline["value"] / value, 3)
        self.scenarios.append(scenario)
        met = scenario["target"]["met"]
        log(f"{scenario['id']} {scenario['name']}: {value:,.1f} {scenario['unit']}"
            + (f" (baseline {baseline['value']:,.1f}, ratio {scenario.get('ratio')})" if baseline else "")
            + f" -> target {scenario['target']['text']}: {'met' if met else 'NOT met'}")

    def add_sequential(self, id: str, name: str, times: list[float], cpu_ms: dict, baseline: str,
                       raw_times: list[float], raw_cpu_ms: dict, target: dict, **rest) -> None:
        """A scenario of sequential requests (p50 in ms, lower is better) against `baseline`, the same
        answer computed by SQL over the raw records."""
        p50 = median(times)
        self.add(id=id, name=name, unit="ms (p50)", value=p50, higher_is_better=False, p50_ms=p50,
                 p99_ms=percentile(times, 0.99), errors=0, generator="sequential requests", cpu_ms=cpu_ms,
                 baseline={"name": baseline, "value": median(raw_times), "p50_ms": median(raw_times),
                           "cpu_ms": raw_cpu_ms},
                 target=target, **rest)

    def throughput(self, server: str, prefix: str, ids, headers, expect: int = 200) -> loadgen.Result:
        """A warm-up, then the measured run with the CPU each process spent per request."""
        if self.plan["warm_up"]:
            loadgen.throughput(self.url(server), prefix, ids, headers, 64, self.plan["warm_up"], TMP, self.use_wrk,
                               expect, warm_up=False)
        with self.cpu.measure() as spent:
            result = loadgen.throughput(self.url(server), prefix, ids, headers, 64, self.plan["seconds"], TMP,
                                        self.use_wrk, expect, warm_up=not self.plan["warm_up"])
        result.cpu_us = per_request(spent, result.requests)
        return result

    def calls(self, call, concurrency: int, seconds: float, warm_up: int = 2) -> loadgen.Result:
        with self.cpu.measure() as spent:
            result = asyncio.run(loadgen.run_calls(call, concurrency, seconds=seconds, warm_up=warm_up))
        result.cpu_us = per_request(spent, result.requests + warm_up)
        return result

    def sequential(self, fn, repeat: int) -> tuple[list[float], object, dict]:
        with self.cpu.measure() as spent:
            times, answer = loadgen.timed(fn, repeat)
        return times, answer, per_request(spent, repeat, unit=1e3)

    # 1 and 2: reads by id through the gateway, straight to the service, and the bare floor.
    def reads(self) -> None:
        county = self.picks["county"]
        headers = self.token("social_worker", county["id"], county["path"], "bench-worker")
        ids = self.picks["case_ids"]
        results = {}
        for _ in range(1 if self.scale.name == "tiny" else 3):  # interleaved rounds: noise spreads over all three
            for name in ("bare", "gateway", "cases", "gateway_unchecked"):
                results.setdefault(name, []).append(self.throughput(name, "/v1/cases/", ids, headers))
        best = {k: sorted(v, key=lambda r: r.rps)[len(v) // 2] for k, v in results.items()}
        rounds = {k: [round(r.rps) for r in v] for k, v in results.items()}
        g, b, c, u = best["gateway"], best["bare"], best["cases"], best["gateway_unchecked"]
        self.add(id="1", name="case read by id through the gateway", unit="req/s", value=g.rps,
                 p50_ms=g.p50_ms, p99_ms=g.p99_ms, errors=g.errors, generator=g.generator, cpu_us=g.cpu_us,
                 baseline={"name": "bare FastAPI + asyncpg, same SELECT by primary key", "value": b.rps,
                           "p50_ms": b.p50_ms, "p99_ms": b.p99_ms, "errors": b.errors, "cpu_us": b.cpu_us},
                 target={"text": ">= 50% of the baseline", "met": g.rps >= 0.5 * b.rps and g.errors == 0},
                 rounds=rounds, detail=f"{len(ids):,} cases of county {county['id']}, 64 connections; "
                                       f"without the live-account check (issue 15's item 3), same run: "
                                       f"{u.rps:,.0f} req/s, ratio {u.rps / b.rps:.3f}",
                 without_account_check={"value": u.rps, "ratio": round(u.rps / b.rps, 3), "p50_ms": u.p50_ms,
                                        "p99_ms": u.p99_ms, "errors": u.errors, "cpu_us": u.cpu_us})
        self.add(id="2a", name="proxied read (GET /v1/cases/{id}) through the gateway", unit="req/s", value=g.rps,
                 p50_ms=g.p50_ms, p99_ms=g.p99_ms, errors=g.errors, generator=g.generator, cpu_us=g.cpu_us,
                 baseline={"name": "the same read straight to the cases service", "value": c.rps,
                           "p50_ms": c.p50_ms, "p99_ms": c.p99_ms, "errors": c.errors, "cpu_us": c.cpu_us},
                 target={"text": ">= 50% of the baseline", "met": g.rps >= 0.5 * c.rps and g.errors == 0},
                 rounds=rounds)

    # 2: the summary fan-out against the five internal calls made straight to the services.
    def fanout(self) -> None:
        township = self.picks["township"]
        frm, to = self.picks["month"]
        admin = self.token("admin", 1, "/1/", "admin")
        # Each request ends on another day of the month: concurrent identical requests would share one
        # computation in the gateway (gateway/stats/cache.py), which the direct calls cannot.
        ends = [to - dt.timedelta(days=i) for i in range(28)]
        paths = [f"/v1/stats/summary?station_id={township['id']}&from={frm}&to={end}" for end in ends]
        via = self.calls(loadgen.get_call(self.url("gateway_nocache"), paths, admin), 16, self.plan["seconds"])
        service = {"Authorization": f"Bearer {self.signer.service_token()}"}

        async def direct(session, n: int) -> int:
            body = {"station_path": township["path"], "from": frm.isoformat(), "to": ends[n % len(ends)].isoformat(),
                    "group_by": ["population"]}
            calls = [(s, "/internal/stats", body) for s in ("cases", "projects", "volunteers")] + \
                    [(s, "/internal/persons", body) for s in ("cases", "projects")]

            async def one(service_name, path, payload):
                async with session.post(self.url(service_name) + path, json=payload, headers=service) as r:
                    await r.read()
                    return r.status

            statuses = await asyncio.gather(*(one(*c) for c in calls))
            return 200 if all(s == 200 for s in statuses) else -max(statuses)

        straight = self.calls(direct, 16, self.plan["seconds"])
        self.add(id="2b", name="dashboard summary fan-out to three services (uncached)", unit="req/s",
                 value=via.rps, p50_ms=via.p50_ms, p99_ms=via.p99_ms, errors=via.errors, generator=via.generator,
                 cpu_us=via.cpu_us,
                 baseline={"name": "its five internal calls (3 stats, 2 persons) sent straight to the services, "
                                   "concurrently", "value": straight.rps, "p50_ms": straight.p50_ms,
                           "p99_ms": straight.p99_ms, "errors": straight.errors, "cpu_us": straight.cpu_us},
                 target={"text": ">= 25% of the baseline", "met": via.rps >= 0.25 * straight.rps and via.errors == 0},
                 detail=f"township {township['id']}, {frm} to {to}, 16 concurrent clients")

    # 3: the province summary for a month, uncached, against SQL over the raw records; and 304 polls.
    def dashboard(self) -> None:
        frm, to = self.picks["month"]
        admin = self.token("admin", 1, "/1/", "admin")
        params = {"station_id": 1, "from": frm.isoformat(), "to": to.isoformat()}
        self.get("gateway_nocache", "/v1/stats/summary", admin, params)  # warm the pools
        times, answer, cpu_ms = self.sequential(
            lambda: self.get("gateway_nocache", "/v1/stats/summary", admin, params), self.plan["repeats"])
        figures, degraded = answer.json()["figures"], answer.json()["degraded"]
        raw_times, computed, raw_cpu_ms = self.sequential(lambda: asyncio.run(raw.summary(self.dsn, "/1/", frm, to)),
                                                          self.plan["raw_repeats"])
        agree = raw.compare(figures, computed)
        p50 = median(times)
        self.add_sequential(
            "3a", "dashboard summary, province, one month, uncached", times, cpu_ms,
            "the same figures by SQL over the raw records", raw_times, raw_cpu_ms,
            {"text": "p50 < 20 ms and >= 200x faster than the baseline",
             "met": p50 < 20 and median(raw_times) >= 200 * p50},
            detail=f"{frm} to {to}; figures agree with the raw SQL: {agree['agree']}"
                   + (f"; services left out: {degraded}" if degraded else ""), agreement=agree)
        r = self.get("gateway", "/v1/stats/summary", admin, params)
        etag = r.headers["etag"]
        path = f"/v1/stats/summary?station_id=1&from={frm}&to={to}"
        polls = self.throughput("gateway", path, None, {**admin, "If-None-Match": etag}, expect=304)
        self.add(id="3b", name="dashboard polls with If-None-Match, unchanged (304)", unit="req/s", value=polls.rps,
                 p50_ms=polls.p50_ms, p99_ms=polls.p99_ms, errors=polls.errors, generator=polls.generator,
                 cpu_us=polls.cpu_us,
                 target={"text": ">= 3,000 polls/s", "met": polls.rps >= 3000 and polls.errors == 0},
                 detail="the gateway as shipped (GATEWAY_STATS_CACHE_S=5, an answer that took long to compute "
                        "kept 10 times as long, then served while recomputed), 64 connections")
        self.views(admin)

    # 3c and 3d (issue 19): a province's year day by day, and the province broken down into its cities.
    def views(self, admin: dict) -> None:
        year_from, year_to = self.picks["year"]
        frm, to = self.picks["month"]
        asks = [
            ("3c", "timeseries, province, a year day by day (person-times), uncached", "/v1/stats/timeseries",
             {"station_id": 1, "metric": "person_times", "interval": "day", "from": year_from.isoformat(),
              "to": year_to.isoformat()}, 100,
             lambda body: f"{len(body['series'][0]['values'])} days of {year_from.year}"),
            ("3d", "breakdown of the province into its cities, a month (person-times), uncached", "/v1/stats/breakdown",
             {"station_id": 1, "metric": "person_times", "from": frm.isoformat(), "to": to.isoformat()}, 30,
             lambda body: f"{len(body['rows'])} cities, {frm} to {to}"),
        ]
        for id_, name, path, params, target_ms, describe in asks:
            self.get("gateway_nocache", path, admin, params)  # warm the pools
            times, answer, cpu_ms = self.sequential(lambda: self.get("gateway_nocache", path, admin, params),
                                                    self.plan["repeats"])
            p50 = median(times)
            self.add(id=id_, name=name, unit="ms (p50)", value=p50, higher_is_better=False, p50_ms=p50,
                     p99_ms=percentile(times, 0.99), errors=0, generator="sequential requests", cpu_ms=cpu_ms,
                     target={"text": f"p50 < {target_ms} ms", "met": p50 < target_ms},
                     detail=describe(answer.json()))

    # 4: distinct persons served in a year, province.
    def persons(self) -> None:
        frm, to = self.picks["year"]
        admin = self.token("admin", 1, "/1/", "admin")
        params = {"station_id": 1, "metric": "persons", "interval": "year", "from": frm.isoformat(),
                  "to": to.isoformat()}
        self.get("gateway_nocache", "/v1/stats/timeseries", admin, params)
        times, answer, cpu_ms = self.sequential(
            lambda: self.get("gateway_nocache", "/v1/stats/timeseries", admin, params),
            max(3, self.plan["repeats"] // 3))
        series = answer.json()["series"][0]
        raw_times, exact, raw_cpu_ms = self.sequential(lambda: asyncio.run(raw.persons(self.dsn, "/1/", frm, to)),
                                                       self.plan["raw_repeats"])
        self.add_sequential(
            "4", "distinct persons served in a year, province (uncached)", times, cpu_ms,
            "exact count(distinct) over the raw records", raw_times, raw_cpu_ms,
            {"text": "< 150 ms", "met": median(times) < 150},
            detail=f"{frm.year}: gateway {series['values'][0]:,} (exact: {series['exact']}), "
                   f"count(distinct) {exact:,}", answer=series, exact=exact)

    # 5: a tablet's first pull of a big station, then pushes of 1,000 records.
    def sync(self) -> None:
        import httpx

        station = self.picks["sync_station"]
        admin = self.token("admin", 1, "/1/", "bench-admin")
        r = httpx.post(self.url("gateway") + "/v1/devices", headers=admin,
                       json={"station_id": station["id"], "name": f"bench tablet {uuid.uuid4().hex[:8]}"},
                       timeout=30)  # a reused database keeps the tablets of earlier runs, and names are unique
        r.raise_for_status()
        device = {"Authorization": f"Bearer {r.json()['credential']}"}
        gateway = self.servers["gateway"]
        before = gateway.memory_kib()
        pulls = []
        for _ in range(self.plan["pulls"]):
            t = time.perf_counter()
            with self.cpu.measure() as spent:
                with httpx.stream("GET", self.url("gateway") + "/v1/sync", headers=device, timeout=600, params={
                        "last_pulled_at": "null", "schema_version": "2", "migration": "null"}) as response:
                    response.raise_for_status()
                    body = b"".join(response.iter_bytes())
            seconds = time.perf_counter() - t
            pulled = json.loads(body)
            records = sum(len(c["updated"]) + len(c["deleted"]) for c in pulled["changes"].values())
            pulls.append({"seconds": seconds, "records": records, "rps": records / seconds, "bytes": len(body),
                          "expected": station["records"], "cpu_us_per_record": per_request(spent, records)})
        after = gateway.memory_kib()
        timestamp = pulled["timestamp"]
        best = sorted(pulls, key=lambda p: p["rps"])[len(pulls) // 2]
        peak_mb = after["VmHWM"] / 1024
        self.add(id="5b", name="first sync pull of a station", unit="records/s", value=best["rps"],
                 p50_ms=best["seconds"] * 1000, errors=0, generator="one streamed GET",
                 cpu_us=best["cpu_us_per_record"],
                 target={"text": ">= 50,000 records/s, gateway peak RSS < 300 MB",
                         "met": best["rps"] >= 50_000 and peak_mb < 300},
                 detail=f"station {station['id']} ({station['path']}), {best['records']:,} records, "
                        f"{best['bytes'] / 1e6:.1f} MB; gateway RSS {before['VmRSS'] / 1024:.0f} MB before, "
                        f"peak (VmHWM) {peak_mb:.0f} MB", rounds=pulls, gateway_memory_kib={"before": before,
                                                                                           "after": after})
        cases, size = self.picks["push_cases"], self.plan["push_records"]
        day = today().isoformat()
        pushes, failed, push_cpu = [], [], {}
        for _ in range(self.plan["pushes"]):
            records = [{"id": str(uuid.uuid4()), "case_id": cases[i % len(cases)], "served_on": day,
                        "mode": "home_visit", "content": "入户探访，了解近况", "service_type": "elder_child_care",
                        "person_times": 1} for i in range(size)]
            t = time.perf_counter()
            with self.cpu.measure() as spent:
                r = httpx.post(self.url("gateway") + "/v1/sync", headers=device, params={"last_pulled_at": timestamp},
                               json={"service_records": {"created": records, "updated": [], "deleted": []}},
                               timeout=300)
            seconds = time.perf_counter() - t
            if r.status_code == 204:
                pushes.append(seconds)
                push_cpu = per_request(spent, size)
            else:
                failed.append(f"{r.status_code} after {seconds:.1f} s: {r.text[:200]}")
        p50 = median(pushes) if pushes else float("inf")
        self.add(id="5a", name=f"sync push of {size:,} service records", unit="records/s",
                 value=size / p50, p50_ms=p50 * 1000, p99_ms=max(pushes, default=p50) * 1000,
                 errors=len(failed), generator="sequential POSTs", failures=failed, cpu_us=push_cpu,
                 target={"text": ">= 20,000 records/s", "met": size / p50 >= 20_000 and not failed},
                 detail=f"{len(pushes)} pushes into {len(cases)} open cases of station {station['id']}; "
                        "request time as the client sees it (one service: its write checks the push, no dry run)")

        self.other_pushes(device, timestamp, station)

    def other_pushes(self, device: dict, timestamp, station: dict) -> None:
        """5c, 5d and 5e: pushes of 1,000 attendances (the projects service; each person checked with the cases
        service through the gateway, one lookup a push), of 1,000 volunteer-hours records, and of 1,000
        activities (each naming two volunteers, checked with the volunteers service, one lookup a push)."""
        import httpx

        size, day = self.plan["push_records"], today()
        activities, people = self.picks["push_activities"], self.picks["push_people"]
        volunteers = self.picks["push_volunteers"]

        def attendances() -> list[dict]:
            offset = random.randrange(len(people))  # new (activity, person) pairs on a reused database
            return [{"id": str(uuid.uuid4()), "activity_id": activities[i % len(activities)], "session_id": None,
                     "beneficiary_id": people[(i + offset) % len(people)]} for i in range(size)]

        project = self.picks["push_project"]

        def activities_made() -> list[dict]:
            held_on = min(max(day, project["starts_on"]), project["ends_on"]).isoformat()
            return [{"id": str(uuid.uuid4()), "project_id": project["id"], "station_id": project["station_id"],
                     "title": "社区健康讲座", "kind": "lecture", "place": "社区活动室", "held_on": held_on,
                     "starts_at": "09:30", "ends_at": "11:00", "anonymous_count": 20,
                     "volunteer_ids": json.dumps([volunteers[i % len(volunteers)],
                                                  volunteers[(i + 1) % len(volunteers)]]),
                     "resources_yuan": None, "photos": "[]", "notes": "居民反映良好"} for i in range(size)]

        def hours() -> list[dict]:
            return [{"id": str(uuid.uuid4()), "volunteer_id": volunteers[i % len(volunteers)], "team_id": None,
                     "station_id": None, "activity_kind": "free_text", "activity_ref": None, "activity_title": None,
                     "served_on": (day - dt.timedelta(days=(i // len(volunteers)) % 60)).isoformat(),
                     "start_time": None, "end_time": None, "hours": 1, "content": "助老服务"} for i in range(size)]

        for key, table, what, make, among in (
                ("5c", "attendances", "attendances", attendances,
                 f"{len(activities)} activities and {len(people)} people"),
                ("5d", "volunteer_hours", "volunteer-hours records", hours, f"{len(volunteers)} volunteers"),
                ("5e", "activities", "activities", activities_made,
                 f"a project and {len(volunteers)} volunteers (two named by each activity)")):
            needs = {"5c": (activities, people), "5d": (volunteers,), "5e": (project, volunteers)}[key]
            if not all(needs):
                continue  # nothing of the kind at the station: no such push to measure
            pushes, failed, push_cpu = [], [], {}
            for _ in range(self.plan["pushes"]):
                records = make()
                t = time.perf_counter()
                with self.cpu.measure() as spent:
                    r = httpx.post(self.url("gateway") + "/v1/sync", headers=device,
                                   params={"last_pulled_at": timestamp},
                                   json={table: {"created": records, "updated": [], "deleted": []}}, timeout=300)
                seconds = time.perf_counter() - t
                if r.status_code == 204:
                    pushes.append(seconds)
                    push_cpu = per_request(spent, size)
                else:
                    failed.append(f"{r.status_code} after {seconds:.1f} s: {r.text[:200]}")
            p50 = median(pushes) if pushes else float("inf")
            self.add(id=key, name=f"sync push of {size:,} {what}", unit="records/s",
                     value=size / p50, p50_ms=p50 * 1000, p99_ms=max(pushes, default=p50) * 1000,
                     errors=len(failed), generator="sequential POSTs", failures=failed, cpu_us=push_cpu,
                     target={"text": ">= 20,000 records/s", "met": size / p50 >= 20_000 and not failed},
                     detail=f"{len(pushes)} pushes among {among} of station {station['id']}; request time as the "
                            "client sees it")

    # 6: creating service records through the gateway at 64 concurrent clients, all counted.
    def writes(self) -> None:
        cases = self.picks["write_cases"]
        admin = self.token("admin", 1, "/1/", "admin")
        day = today().isoformat()
        stations = {c["station_id"]: c["station_path"] for c in cases}
        headers = dict(zip(stations, self.tokens([("social_worker", sid, path, f"bench-worker-{sid}")
                                                  for sid, path in stations.items()]), strict=True))

        def counted() -> float:
            r = self.get("gateway_nocache", "/v1/stats/summary", admin, {"station_id": 1, "from": day, "to": day})
            return r.json()["figures"]["person_times.casework"]["value"]

        before = counted()
        base = self.url("gateway")

        async def create(session, n: int) -> int:
            case = cases[n % len(cases)]
            body = {"served_on": day, "mode": "phone", "content": "电话回访", "service_type": "social_assistance",
                    "person_times": 1, "duration_minutes": 15}
            async with session.post(f"{base}/v1/cases/{case['id']}/service-records", json=body,
                                    headers=headers[case["station_id"]]) as r:
                await r.read()
                return r.status if r.status == 201 else -r.status

        result = self.calls(create, WRITE_CLIENTS, self.plan["write_s"], warm_up=0)
        created = int(result.statuses.get("201", 0))
        after = counted()
        all_counted = after - before == created
        self.add(id="6", name="service records created through the gateway, 64 concurrent clients", unit="ms (p99)",
                 value=result.p99_ms, higher_is_better=False, p50_ms=result.p50_ms, p99_ms=result.p99_ms,
                 errors=result.errors, generator=result.generator, rps=result.rps, cpu_us=result.cpu_us,
                 target={"text": "p99 < 100 ms, no errors, every record counted in the next poll",
                         "met": result.p99_ms < 100 and result.errors == 0 and all_counted},
                 detail=f"{created:,} created ({result.rps:,.0f}/s), errors {result.errors}; "
                        f"person_times.casework for today {before:,.0f} -> {after:,.0f} "
                        f"({'every record counted' if all_counted else 'NOT every record counted'})",
                 statuses=result.statuses)


def check_replicas(dsn: str, picks: dict) -> dict:
    """The station tree: every service's replica holds the gateway's stations at the same change number."""
    rows = asyncio.run(_fetch(dsn, """
        SELECT 'gateway' AS s, count(*) AS n, max(change_seq) AS seq FROM gateway.station
        UNION ALL SELECT 'cases', count(*), max(change_seq) FROM cases.station
        UNION ALL SELECT 'projects', count(*), max(change_seq) FROM projects.station
        UNION ALL SELECT 'volunteers', count(*), max(change_seq) FROM volunteers.station"""))
    found = {r["s"]: {"stations": r["n"], "change_seq": r["seq"]} for r in rows}
    if len({(v["stations"], v["change_seq"]) for v in found.values()}) != 1:
        raise RuntimeError(f"station replicas differ from the gateway's tree: {found}")
    return found


def machine() -> dict:
    from importlib import metadata

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    load = os.getloadavg()
    return {"cores": os.cpu_count(), "cpu": cpu, "python": platform.python_version(), "kernel": platform.release(),
            "load_average_at_start": [round(x, 2) for x in load],
            "packages": {n: metadata.version(n) for n in ("fastapi", "uvicorn", "asyncpg", "SQLAlchemy", "aiohttp")}}


def run(scale_name: str, reuse_db: bool = False, keep_db: bool = False, generator: str = "auto",
        only: list[str] | None = None, out: Path = RESULTS, serve: bool = False) -> Path | None:
    """serve: start everything, write bench/results/tmp/serve.json (addresses, process ids, tokens) and
    wait for Ctrl-C instead of measuring: for profiling one path by hand (py-spy record --pid ...)."""
    from sqlalchemy.engine import make_url

    from ops import pg
    from shared.auth import TokenSigner

    scale, plan = province.SCALES[scale_name], PLAN[scale_name]
    use_wrk = {"auto": loadgen.wrk_available() and scale_name != "tiny", "wrk": True, "python": False}[generator]
    TMP.mkdir(parents=True, exist_ok=True)
    started_pg = not pg.is_running()
    servers: dict[str, Server] = {}
    url = make_url(pg.start()).set(database=f"haolin_bench_{scale_name}")
    dsn = plain(url)
    files = TMP / f"files-{scale_name}"
    began = time.monotonic()
    try:
        keys = _keys(url.database)
        manifest = prepare(scale, url, keys, reuse_db)
        picks = asyncio.run(pick(dsn))
        replicas = check_replicas(dsn, picks)
        env = {k: v for k, v in os.environ.items() if not k.endswith(("_DATABASE_URL", "_KEY_FILE"))}
        env.update(keys, DATABASE_URL=url.render_as_string(hide_password=False), ADMIN_PASSWORD="bench-admin-pass-1",
                   PYTHONUNBUFFERED="1", HAOLIN_TIMEZONE="Asia/Shanghai",
                   # A slow push or pull is measured, not cut off at the 10 s default and retried.
                   GATEWAY_UPSTREAM_TIMEOUT_S="300",
                   # Likewise a slow summary: as shipped (3 s) a service that takes longer is left out of
                   # the answer (`degraded`), which would measure the timeout rather than the work.
                   GATEWAY_STATS_TIMEOUT_S="300",
                   # Local disk, the store `make run` uses by default, in a folder of this run's own.
                   STORAGE_URL=files.as_uri())
        ports = {name: free_port() for name in ("gateway", "gateway_nocache", "cases", "projects", "volunteers")}
        env.update({f"{s.upper()}_URL": f"http://127.0.0.1:{ports[s]}" for s in ("cases", "projects", "volunteers")})
        env["GATEWAY_URL"] = f"http://127.0.0.1:{ports['gateway']}"
        for name in ("cases", "projects", "volunteers"):
            servers[name] = Server(name, f"services.{name}.app:main", env, ports[name])
        for name in ("cases", "projects", "volunteers"):
            servers[name].wait_ready()
        servers["gateway"] = Server("gateway", "gateway.app:main", env, ports["gateway"])
        servers["gateway_nocache"] = Server("gateway_nocache", "gateway.app:main",
                                            {**env, "GATEWAY_STATS_CACHE_S": "0"}, ports["gateway_nocache"])
        servers["bare"] = Server("bare", "bench.bare_read:main", {**env, "BENCH_DSN": dsn})
        servers["gateway_unchecked"] = Server("gateway_unchecked", "bench.apps:gateway_without_account_check", env)
        servers["gateway"].wait_ready()
        servers["gateway_nocache"].wait_ready()
        servers["bare"].wait_ready("/healthz")
        servers["gateway_unchecked"].wait_ready()
        time.sleep(1)  # the gateways' first station push round: it must find nothing to send
        replicas = check_replicas(dsn, picks)
        log(f"processes up; station tree and replicas agree: {replicas['gateway']}")
        runner = Run(scale, plan, servers, TokenSigner(keys["JWT_PRIVATE_KEY"], "haolin", "haolin"), dsn, picks,
                     use_wrk)
        if serve:
            county = picks["county"]
            (TMP / "serve.json").write_text(json.dumps({
                "urls": {k: v.url for k, v in servers.items()}, "pids": {k: v.proc.pid for k, v in servers.items()},
                "admin": runner.token("admin", 1, "/1/", "admin"),
                "worker": runner.token("social_worker", county["id"], county["path"], "bench-worker"),
                "picks": {k: v for k, v in picks.items() if k != "write_cases"}}, indent=2, default=str))
            log(f"serving; see {TMP / 'serve.json'}; Ctrl-C (or SIGTERM) stops")
            import signal

            def stop(*_) -> None:
                raise KeyboardInterrupt

            signal.signal(signal.SIGTERM, stop)
            with contextlib.suppress(KeyboardInterrupt):
                while all(s.proc.poll() is None for s in servers.values()):
                    time.sleep(1)
            return None
        steps = [("1", runner.reads), ("2", runner.fanout), ("3", runner.dashboard), ("4", runner.persons),
                 ("5", runner.sync), ("6", runner.writes), ("7", lambda: uploads.run(runner, files / "cases")),
                 ("8", lambda: storm.run(runner))]
        for key, step in steps:
            if not only or key in only:
                step()
        memory = {name: s.memory_kib() for name, s in servers.items()}
        result = {
            "scale": scale_name, "date": dt.date.today().isoformat(), "commit": _commit(),
            "command": f"python -m bench run --scale {scale_name}"
                       + (f" --only {' '.join(only)}" if only else ""), "machine": machine(),
            "load_generator": "wrk 2 threads" if use_wrk else "python-aiohttp", "plan": plan,
            "dataset": manifest, "replicas": replicas,
            "picks": {k: v for k, v in picks.items() if k not in ("case_ids", "write_cases", "push_cases",
                                                                   "push_activities", "push_people",
                                                                   "push_volunteers", "push_project")},
            "scenarios": runner.scenarios, "memory_kib": memory, "seconds": round(time.monotonic() - began, 1),
        }
        out.mkdir(parents=True, exist_ok=True)
        stem = out / f"{scale_name}-{result['date']}"
        stem.with_suffix(".json").write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n")
        stem.with_suffix(".md").write_text(report.markdown(result))
        log(f"wrote {stem}.json and .md in {result['seconds']:.0f} s")
        return stem.with_suffix(".json")
    finally:
        for server in reversed(list(servers.values())):
            server.stop()
        if not keep_db and not reuse_db:
            with contextlib.suppress(Exception):
                asyncio.run(_admin(url, f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        if not keep_db:
            shutil.rmtree(files, ignore_errors=True)
        if started_pg:
            pg.stop()


def _commit() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=False).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", ".", ":!bench/results"], cwd=ROOT,
                           capture_output=True, text=True, check=False).stdout.strip()
    return head + (" + uncommitted changes" if dirty else "")
