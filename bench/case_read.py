"""Reading one case by id: a bare FastAPI + asyncpg floor, the cases service, and the gateway.

    .venv/bin/python -m bench.case_read [--duration 10] [--rounds 3] [--cases 10000]

On loopback only. Starts the embedded PostgreSQL if it is not running (and stops it
at the end only then), rebuilds the scratch database `haolin_bench` with the real
migrations, makes throwaway keys, seeds a station replica (/1/2/), beneficiaries and
cases through the cases service's own API, then runs, each as `make run` runs a
process (uvicorn, one worker, uvloop, httptools, --no-access-log):

  bare     bench.bare_read:main: FastAPI + an asyncpg pool, one SELECT by id, no auth
  cases    services.cases.app:main, GET /v1/cases/{id} straight to it
  gateway  gateway.app:main in front of the cases service, GET /v1/cases/{id}

and drives each with wrk (2 threads, 64 connections, 10 s after a 2 s warm-up, rounds
interleaved so machine noise spreads over all three), rotating over the seeded case ids
(bench/rotate_ids.lua) with a social worker's token for station 2 (/1/2/). While wrk
runs it reads every process's CPU time from /proc, so the figures come with CPU per
request per process; then (unless --no-profile) one extra run per service under
`py-spy record` says where the service's CPU goes.

Writes bench/results/case_read.json and the "Case read by id" figures in
bench/README.md (between the case_read markers). Every process it starts it stops,
also on error; the scratch database is dropped at the end unless --keep-db.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path

from bench.suite import Server, plain  # the same processes and URLs as the suite

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
TMP = RESULTS / "tmp"  # git-ignored: logs, the id list, profiles
README = BENCH / "README.md"
LUA = BENCH / "rotate_ids.lua"
DB_NAME = "haolin_bench"
STATION_PATH, STATION_ID = "/1/2/", 2
SECTION = "## Case read by id"
BEGIN, END = "<!-- case_read:begin -->", "<!-- case_read:end -->"
COMMAND = ".venv/bin/python -m bench.case_read"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- processes

def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def postgres_cpu_seconds() -> float:
    """The whole server: the postmaster, its live children (backends, writers...) and the
    children it has reaped (a backend whose connection closed mid-run still counts)."""
    from ops import pg

    master = int((pg.DEFAULT_DATA / "postmaster.pid").read_text().split()[0])
    fields = Path(f"/proc/{master}/stat").read_text().rsplit(")", 1)[1].split()
    total = sum(int(f) for f in fields[11:15]) / CLK_TCK  # utime, stime, cutime, cstime
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == master:
                    total += cpu_seconds(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                pass
    return total


# ---------------------------------------------------------------- database and seed

async def recreate_database(url, drop_only: bool = False) -> None:
    import asyncpg

    admin = await asyncpg.connect(plain(url.set(database="postgres")))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        if not drop_only:
            await admin.execute(f'CREATE DATABASE "{url.database}"')
    finally:
        await admin.close()


async def gateway_worker(url) -> tuple[int, int]:
    """(id, token generation) of a social worker of the bench station in the gateway's own tree, made
    beside the root station its first start made (a password no login matches)."""
    import asyncpg

    conn = await asyncpg.connect(plain(url))
    try:
        await conn.execute("""INSERT INTO gateway.station (id, parent_id, path, kind, name) VALUES ($1, 1, $2,
                              'township', 'Bench township station') ON CONFLICT DO NOTHING""", STATION_ID, STATION_PATH)
        await conn.execute("""INSERT INTO gateway."user" (username, display_name, role, station_id, password_hash)
                              SELECT 'bench.worker', 'Bench Worker', 'social_worker', $1, '!' WHERE NOT EXISTS (
                                  SELECT 1 FROM gateway."user" WHERE username = 'bench.worker')""", STATION_ID)
        row = await conn.fetchrow("""SELECT id, token_generation FROM gateway."user" WHERE username = 'bench.worker'""")
        return row["id"], row["token_generation"]
    finally:
        await conn.close()


async def seed(cases_url: str, service_token: str, worker_token: str, beneficiaries: int, cases: int) -> list[str]:
    """Station replica, beneficiaries and cases, all through the cases service's API."""
    import httpx

    svc = {"Authorization": f"Bearer {service_token}"}
    worker = {"Authorization": f"Bearer {worker_token}"}
    stations = [{"id": 1, "parent_id": None, "path": "/1/", "kind": "district", "name": "Bench district",
                 "change_seq": 1000},
                {"id": STATION_ID, "parent_id": 1, "path": STATION_PATH, "kind": "township",
                 "name": "Bench township station", "change_seq": 1001}]
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    async with httpx.AsyncClient(base_url=cases_url, timeout=30, limits=limits) as client:
        r = await client.put("/internal/stations", json={"stations": stations}, headers=svc)
        r.raise_for_status()
        gate = asyncio.Semaphore(16)
        populations = (["elderly"], ["elderly", "elderly_alone"], [], ["elderly_empty_nest"])
        risks = ("low", "medium", "high", "critical")

        async def post(path: str, body: dict) -> str:
            async with gate:
                r = await client.post(path, json=body, headers=worker)
                if r.status_code != 201:
                    raise RuntimeError(f"POST {path}: {r.status_code} {r.text[:300]}")
                return r.json()["id"]

        people = await asyncio.gather(*(post("/v1/beneficiaries", {
            "name": f"受益人{i:04d}", "gender": ("female", "male")[i % 2],
            "birth_on": f"19{40 + i % 50:02d}-0{1 + i % 9}-1{i % 10}", "populations": populations[i % 4],
        }) for i in range(beneficiaries)))
        ids = await asyncio.gather(*(post("/v1/cases", {
            "beneficiary_id": people[i % len(people)], "title": f"独居老人居家安全 {i}",
            "presenting_problem": "独居，子女在外地；行动不便，需要定期探访和居家安全评估。" * 2,
            "risk_level": risks[i % 4],
        }) for i in range(cases)))
    return ids


async def analyze(url) -> None:
    import asyncpg

    conn = await asyncpg.connect(plain(url))
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def server_version(url) -> str:
    import asyncpg

    conn = await asyncpg.connect(plain(url))
    try:
        return await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()


# ---------------------------------------------------------------- wrk

def to_ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    number, unit = float(m.group(1)), m.group(2)
    return number * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def wrk(base_url: str, ids_file: Path, headers: dict[str, str], args, pids: dict[str, list[int]],
        warm_up: bool = True) -> dict:
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", "--latency", "-s", str(LUA)]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    tail = [base_url, "--", str(ids_file), "/v1/cases/"]
    # Warm the pools first, so the figure is steady state, not connection set-up.
    if warm_up:
        subprocess.run(cmd + ["-d2s"] + tail, capture_output=True, check=True)
    before = {name: sum(cpu_seconds(p) for p in ps) for name, ps in pids.items()}
    before["postgres"] = postgres_cpu_seconds()
    # wrk is the only child reaped during the run: its CPU is the change in our children's usage.
    wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd + [f"-d{args.duration}s"] + tail, capture_output=True, text=True, check=True).stdout
    wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    after = {name: sum(cpu_seconds(p) for p in ps) for name, ps in pids.items()}
    after["postgres"] = postgres_cpu_seconds()
    after["wrk"] = wrk_after.ru_utime + wrk_after.ru_stime
    before["wrk"] = wrk_before.ru_utime + wrk_before.ru_stime
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    cpu = {name: after[name] - before[name] for name in after}
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE).group(1)),
        "p99_ms": to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE).group(1)),
        "requests": requests,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": socket_errors.group(1).strip() if socket_errors else None,
        "cpu_s": {k: round(v, 2) for k, v in cpu.items()},
        "cpu_us_per_request": {k: round(v / requests * 1e6) for k, v in cpu.items()} if requests else {},
    }


# ---------------------------------------------------------------- py-spy

# Each busy sample goes to the innermost frame of its stack that one of these rules claims
# (first rule that matches that frame), so the shares add up to 100%.
LAYERS = [  # a frame reads "function (path:line)", the path relative to site-packages or the repository
    ("asyncpg (driver)", re.compile(r"[(/]asyncpg/")),
    ("SQLAlchemy (ORM, Core, async adaption, dialect)", re.compile(r"[(/]sqlalchemy/")),
    ("pydantic (validate, serialize)", re.compile(r"[(/]pydantic(_core)?/")),
    ("token verification (PyJWT, cryptography)", re.compile(r"[(/](jwt|cryptography)/")),
    ("request log line (logging, JsonFormatter)", re.compile(r"[(/]logging/|^format \(.*observability\.py")),
    ("aiohttp client (gateway upstream)", re.compile(r"[(/](aiohttp|yarl|multidict)/")),
    ("FastAPI (routing, dependencies, encoders)", re.compile(r"[(/]fastapi/")),
    ("Starlette", re.compile(r"[(/]starlette/")),
    ("uvicorn (httptools protocol)", re.compile(r"[(/]uvicorn/")),
    ("thread pool hand-offs (anyio, threading)", re.compile(r"[(/]anyio/|[(/]threading\.py|[(/]concurrent/")),
    ("Haolin code (shared/, services/, gateway/)", re.compile(r"[(/](shared|services|gateway|bench)/")),
    ("event loop, asyncio", re.compile(r"[(/]asyncio/|uvloop")),
]
OTHER = "other (stdlib, json, uuid...)"


def py_spy_record(spy: str, pid: int, seconds: int, out: Path) -> subprocess.Popen:
    return subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "200", "--gil",
                             "--format", "raw", "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def summarise_profile(raw: Path) -> dict:
    layers = collections.Counter()
    leaf = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames, n = stack.split(";"), int(count)
        total += n
        leaf[re.sub(r":\d+\)$", ")", frames[-1])] += n
        layers[next((label for frame in reversed(frames) for label, rule in LAYERS if rule.search(frame)), OTHER)] += n
    total = total or 1
    return {"samples": total,
            "layer_pct": {label: round(100 * layers[label] / total, 1) for label in [*(l for l, _ in LAYERS), OTHER]},
            "top_self_pct": {k: round(100 * v / total, 1) for k, v in leaf.most_common(15)}}


# ---------------------------------------------------------------- report

def median_of(rounds: list[dict]) -> dict:
    mid = sorted(rounds, key=lambda r: r["rps"])[len(rounds) // 2]
    return {"rps": statistics.median(r["rps"] for r in rounds), "p50_ms": mid["p50_ms"], "p99_ms": mid["p99_ms"],
            "cpu_us_per_request": mid["cpu_us_per_request"]}


def fmt_ms(ms: float) -> str:
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    return f"{ms:.1f} ms" if ms < 100 else f"{ms:.0f} ms"


def render(result: dict) -> str:
    m, a = result["machine"], result["args"]
    names = {"bare": "bare FastAPI + asyncpg, one SELECT (floor)",
             "cases": "cases service, `GET /v1/cases/{id}` direct",
             "gateway": "through the gateway, `GET /v1/cases/{id}`"}
    lines = [
        f"{result['date']}, commit {result['commit']}, {m['cores']} cores ({m['cpu']}; wrk, PostgreSQL and the Python processes share them), "
        f"Python {m['python']}, PostgreSQL {m['postgres']}, " +
        ", ".join(f"{k} {v}" for k, v in m["packages"].items()) + ".",
        "",
        "```sh",
        result["command"],
        "```",
        "",
        (f"{a['cases']:,} cases of {a['beneficiaries']} beneficiaries in station {STATION_PATH}, made through the cases "
         f"service's API; wrk {a['threads']} threads, {a['connections']} connections, {a['duration']} s after a 2 s "
         f"warm-up, rotating over every case id, a social worker's token for {STATION_PATH}. Median of "
         f"{a['rounds']} rounds (each round's req/s in brackets; p50/p99 of the median round):"),
        "",
        "| path | req/s | of the floor | p50 | p99 |",
        "|---|---|---|---|---|",
    ]
    floor = result["summary"]["bare"]["rps"]
    for key in ("bare", "cases", "gateway"):
        s = result["summary"][key]
        each = " / ".join(f"{r['rps']:,.0f}" for r in result["rounds"][key])
        lines.append(f"| {names[key]} | **{s['rps']:,.0f}** ({each}) | {s['rps'] / floor:.2f} | "
                     f"{fmt_ms(s['p50_ms'])} | {fmt_ms(s['p99_ms'])} |")
    errors = {k: sum(r["non_2xx"] for r in v) for k, v in result["rounds"].items()}
    lines += ["", "Non-2xx answers in all rounds: " + ", ".join(f"{k} {v}" for k, v in errors.items()) + ".", ""]
    lines += ["CPU per request (µs, from /proc during the median round; `postgres` is every server process):", "",
              "| path | wrk | bare app | cases service | gateway | postgres |", "|---|---|---|---|---|---|"]
    for key in ("bare", "cases", "gateway"):
        c = result["summary"][key]["cpu_us_per_request"]
        cells = [str(c.get(p, "")) if c.get(p, 0) >= 5 else "-" for p in ("wrk", "bare", "cases", "gateway", "postgres")]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    prof = result.get("profile")
    if prof:
        lines += ["", ("`py-spy record --gil` (200 Hz, Python frames only, samples in which the process holds the GIL) "
                       "of each service during an extra, uncounted run; each sample counted for the innermost layer on "
                       "its stack (uvloop's C code shows as its Python caller, `Runner.run`, under event loop):"), "",
                  "| | cases service (direct) | gateway process |", "|---|---|---|"]
        for label in [*(l for l, _ in LAYERS), OTHER]:
            c = prof.get("cases", {}).get("layer_pct", {}).get(label, 0)
            g = prof.get("gateway", {}).get("layer_pct", {}).get(label, 0)
            lines.append(f"| {label} | {c}% | {g}% |")
    lines += ["", "Raw figures: `bench/results/case_read.json`."]
    return "\n".join(lines)


def update_readme(body: str) -> None:
    text = README.read_text()
    block = f"{BEGIN}\n{body}\n{END}"
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\nWhat a real read costs end to end (token, ORM, database), " \
               f"against a bare FastAPI + asyncpg floor.\n\n{block}\n"
    README.write_text(text)


def git_state() -> str:
    """The commit measured, and whether code outside bench/ differed from it."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=False).stdout
    dirty = subprocess.run(["git", "status", "--porcelain", "--", ".", ":!bench"], cwd=ROOT, capture_output=True,
                           text=True, check=False).stdout.strip()
    return head.strip() + (" + uncommitted changes outside bench/" if dirty else "")


def machine(postgres: str) -> dict:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    packages = {}
    for name in ("fastapi", "starlette", "uvicorn", "pydantic", "SQLAlchemy", "asyncpg", "uvloop", "httptools",
                 "aiohttp"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False).stdout.split("\n")[0]
    return {"cores": os.cpu_count(), "cpu": cpu, "python": platform.python_version(), "postgres": postgres,
            "kernel": platform.release(), "wrk": wrk_version.strip(), "packages": packages}


# ---------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--beneficiaries", type=int, default=300)
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy runs")
    parser.add_argument("--no-readme", action="store_true", help="write the JSON only")
    parser.add_argument("--keep-db", action="store_true", help=f"leave {DB_NAME} for a look afterwards")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y wrk")
    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    profile = not args.no_profile and spy is not None
    if not args.no_profile and not profile:
        print("py-spy not found (.venv/bin/pip install py-spy): no profile", flush=True)

    from sqlalchemy.engine import make_url

    from ops import pg
    from ops.keys import generate_signing_pair
    from ops.migrate import upgrade_all
    from shared.auth import TokenSigner
    from shared.principals import Principal, Role
    from shared.crypto import generate_key

    TMP.mkdir(parents=True, exist_ok=True)
    started_pg = not pg.is_running()
    servers: list[Server] = []
    url = None
    try:
        url = make_url(pg.start()).set(database=DB_NAME)
        db_url = url.render_as_string(hide_password=False)
        print(f"database {DB_NAME}: recreating, migrating", flush=True)
        asyncio.run(recreate_database(url))
        upgrade_all(db_url)

        private, public = generate_signing_pair()
        env = {"DATABASE_URL": db_url, "JWT_PUBLIC_KEY": public, "JWT_PRIVATE_KEY": private,
               "FIELD_ENCRYPTION_KEYS": f"k1:{generate_key()}", "BLIND_INDEX_KEY": "bench-blind-index-key",
               "ADMIN_PASSWORD": "bench-admin-password"}
        # No inherited per-process overrides: every process reads the bench database.
        for name in ("CASES_DATABASE_URL", "GATEWAY_DATABASE_URL", "JWT_PUBLIC_KEY_FILE", "JWT_PRIVATE_KEY_FILE"):
            os.environ.pop(name, None)
        os.environ.update(env)
        signer = TokenSigner(private, "haolin", "haolin")
        worker = Principal(user_id="bench-worker", role=Role.social_worker, station_id=STATION_ID,
                           station_path=STATION_PATH, name="Bench Worker")
        token = signer.access_token(worker, ttl_s=4 * 3600)

        cases = Server("cases", "services.cases.app:main", dict(os.environ))
        servers.append(cases)
        cases.wait_ready()
        t0 = time.monotonic()
        ids = asyncio.run(seed(cases.url, signer.service_token(), token, args.beneficiaries, args.cases))
        print(f"seeded {len(ids):,} cases in {time.monotonic() - t0:.0f} s through the API", flush=True)
        asyncio.run(analyze(url))
        ids_file = TMP / "case_ids.txt"
        ids_file.write_text("\n".join(ids) + "\n")

        # Unreachable projects/volunteers: the gateway's station pusher logs and retries, off the measured path.
        gateway = Server("gateway", "gateway.app:main", {**os.environ, "CASES_URL": cases.url})
        bare = Server("bare", "bench.bare_read:main", {**os.environ, "BENCH_DSN": plain(url)})
        servers += [gateway, bare]
        gateway.wait_ready()
        bare.wait_ready("/healthz")

        # The gateway checks every token against its account: the reads' worker is a real one there.
        user_id, generation = asyncio.run(gateway_worker(url))
        worker = Principal(user_id=str(user_id), role=Role.social_worker, station_id=STATION_ID,
                           station_path=STATION_PATH, name="Bench Worker", generation=generation)
        headers = {"Authorization": f"Bearer {signer.access_token(worker, ttl_s=4 * 3600)}"}
        targets = {"bare": bare, "cases": cases, "gateway": gateway}
        sizes = {}
        for key, server in targets.items():  # one read each: all answer 200 with the same case
            req = urllib.request.Request(f"{server.url}/v1/cases/{ids[0]}", headers=headers)
            with urllib.request.urlopen(req, timeout=5) as r:
                body = r.read()
                assert r.status == 200 and json.loads(body)["id"] == ids[0], (key, r.status, body[:200])
                sizes[key] = len(body)

        pids = {"bare": [bare.proc.pid], "cases": [cases.proc.pid], "gateway": [gateway.proc.pid]}
        rounds: dict[str, list[dict]] = {k: [] for k in targets}
        for n in range(args.rounds):
            for key, server in targets.items():
                res = wrk(server.url, ids_file, headers, args, pids)
                rounds[key].append(res)
                print(f"round {n + 1} {key:<8} {res['rps']:8.0f} req/s  p50 {fmt_ms(res['p50_ms'])}  "
                      f"p99 {fmt_ms(res['p99_ms'])}  non-2xx {res['non_2xx']}  cpu/req {res['cpu_us_per_request']}",
                      flush=True)

        profiles = {}
        if profile:
            for key, pid in (("cases", cases.proc.pid), ("gateway", gateway.proc.pid)):
                raw = TMP / f"pyspy_{key}.txt"
                recorder = py_spy_record(spy, pid, args.duration - 2, raw)
                time.sleep(1)  # attached; the pools are warm from the rounds, so no warm-up run
                wrk(targets[key].url, ids_file, headers, args, {}, warm_up=False)
                recorder.wait(30)
                if raw.exists():
                    profiles[key] = summarise_profile(raw)
                    print(f"profile {key}: {profiles[key]['layer_pct']}", flush=True)

        result = {
            "date": dt.date.today().isoformat(),
            "commit": git_state(),
            "command": COMMAND + ("" if sys.argv[1:] == [] else " " + " ".join(sys.argv[1:])),
            "args": vars(args),
            "machine": machine(asyncio.run(server_version(url))),
            "response_bytes": sizes,
            "summary": {k: median_of(v) for k, v in rounds.items()},
            "rounds": rounds,
            "profile": profiles,
        }
        floor = result["summary"]["bare"]["rps"]
        for s in result["summary"].values():
            s["of_floor"] = round(s["rps"] / floor, 3)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "case_read.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        if not args.no_readme:
            update_readme(render(result))
        print(render(result))
    finally:
        for server in reversed(servers):
            server.stop()
        if url is not None and not args.keep_db:
            try:
                asyncio.run(recreate_database(url, drop_only=True))
            except Exception as exc:  # noqa: BLE001 -- cleanup: say so, and still stop the server below
                print(f"could not drop {DB_NAME}: {exc}", file=sys.stderr)
        if started_pg:
            pg.stop()


if __name__ == "__main__":
    main()
