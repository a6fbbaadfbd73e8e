"""The platform as real processes, for faults that only real processes have: a service
killed (SIGKILL) or frozen (SIGSTOP) while the gateway waits on it, a database that goes
away under the processes' connection pools.

Each process is `uvicorn --factory <module>:main` on a free port, as `make run` starts it,
against the test database. Timeouts are shortened so a fault shows within seconds.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

from shared.db import Database, asyncpg_dsn
# The in-process gateway and its helpers, for the tests that need no real processes.
from tests.test_make_run import free_ports

ROOT = Path(__file__).resolve().parent.parent.parent
MODULES = {"gateway": "gateway.app", "cases": "services.cases.app", "projects": "services.projects.app",
           "volunteers": "services.volunteers.app"}
SERVICES = ("cases", "projects", "volunteers")
# Short enough that every fault shows within a few seconds, long enough for a loaded 2-core CI box.
UPSTREAM_TIMEOUT_S = 3.0
STATS_TIMEOUT_S = 1.5


@dataclass
class Process:
    name: str
    port: int
    log: Path
    proc: subprocess.Popen | None = None
    # The app's module when `name` is not one of MODULES (a second replica: "cases-2").
    module: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Platform:
    """The gateway and the three services as processes; `kill`, `freeze` and `ensure_up`."""

    env: dict[str, str]
    processes: dict[str, Process] = field(default_factory=dict)
    frozen: set[str] = field(default_factory=set)

    @property
    def gateway_url(self) -> str:
        return self.processes["gateway"].url

    def start(self, name: str) -> None:
        p = self.processes[name]
        module = p.module or MODULES[name]
        with p.log.open("ab") as out:
            p.proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--factory", f"{module}:main", "--host", "127.0.0.1",
                 "--port", str(p.port), "--no-access-log"],
                cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)

    async def wait_ready(self, *names: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=2) as client:
            for name in names or tuple(self.processes):
                p = self.processes[name]
                while True:
                    assert p.alive(), f"{name} exited:\n{self.tail(name)}"
                    try:
                        if (await client.get(p.url + "/readyz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    assert time.monotonic() < deadline, f"{name} not ready:\n{self.tail(name)}"
                    await asyncio.sleep(0.1)

    def tail(self, name: str, n: int = 4000) -> str:
        return self.processes[name].log.read_text(errors="replace")[-n:]

    def kill(self, name: str) -> None:
        """SIGKILL: the process dies at once, its sockets reset by the kernel."""
        p = self.processes[name]
        assert p.proc is not None
        p.proc.kill()
        p.proc.wait()
        self.frozen.discard(name)

    def freeze(self, name: str) -> None:
        """SIGSTOP: the kernel still accepts connections for it, nobody answers."""
        self.processes[name].proc.send_signal(signal.SIGSTOP)
        self.frozen.add(name)

    def thaw(self, name: str) -> None:
        """SIGCONT: a frozen process carries on (and answers requests whose callers have gone)."""
        self.processes[name].proc.send_signal(signal.SIGCONT)
        self.frozen.discard(name)

    def pid(self, name: str) -> int:
        return self.processes[name].proc.pid

    async def ensure_up(self) -> None:
        """Every process running and ready again (a test before may have killed or frozen one)."""
        restarted = []
        for name in list(self.frozen):
            self.thaw(name)
        for name, p in self.processes.items():
            if not p.alive():
                self.start(name)
                restarted.append(name)
        if restarted:
            await self.wait_ready(*restarted)

    def stop(self) -> None:
        for name, p in self.processes.items():
            if p.proc is None or p.proc.poll() is not None:
                continue
            if name in self.frozen:
                p.proc.send_signal(signal.SIGCONT)
            p.proc.terminate()
        for p in self.processes.values():
            if p.proc is None:
                continue
            try:
                p.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.proc.kill()
                p.proc.wait()


def platform_env(database_url: str, ports: dict[str, int]) -> dict[str, str]:
    return {
        **os.environ, "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1",
        **{f"{s.upper()}_URL": f"http://127.0.0.1:{ports[s]}" for s in SERVICES},
        # The services check references to each other's records through the gateway.
        "GATEWAY_URL": f"http://127.0.0.1:{ports['gateway']}",
        "GATEWAY_UPSTREAM_TIMEOUT_S": str(UPSTREAM_TIMEOUT_S), "GATEWAY_STATS_TIMEOUT_S": str(STATS_TIMEOUT_S),
        # A push's own (longer) hop timeout, short here: a frozen service must be given up on in time.
        "GATEWAY_SYNC_PUSH_TIMEOUT_S": str(UPSTREAM_TIMEOUT_S),
        "GATEWAY_STATS_CACHE_S": "0", "GATEWAY_STATION_PUSH_INTERVAL_S": "0.5",
        # Cheap argon2: the tests log in, they do not measure hashing.
        "GATEWAY_PASSWORD_TIME_COST": "1", "GATEWAY_PASSWORD_MEMORY_KIB": "1024", "GATEWAY_PASSWORD_PARALLELISM": "1",
    }


async def start_platform(database_url: str, logs: Path, env: dict[str, str] | None = None) -> Platform:
    """`env`: settings of the test's own on top of platform_env's."""
    ports = dict(zip(MODULES, free_ports(len(MODULES)), strict=True))
    platform = Platform(env={**platform_env(database_url, ports), **(env or {})})
    for name, port in ports.items():
        platform.processes[name] = Process(name, port, logs / f"{name}.log")
    try:
        for name in MODULES:
            platform.start(name)
        await platform.wait_ready()
    except BaseException:
        platform.stop()
        raise
    return platform


@pytest.fixture(scope="module")
async def platform(database_url, tmp_path_factory):
    platform = await start_platform(database_url, tmp_path_factory.mktemp("platform"))
    try:
        yield platform
    finally:
        platform.stop()


@pytest.fixture
async def live(platform: Platform):
    """The platform up, with the root station (id 1, '/1/') in the gateway and in every
    service's replica: every test starts from truncated tables."""
    await platform.ensure_up()
    await seed_root(platform)
    yield platform
    await quiet(platform.env["DATABASE_URL"])


async def quiet(database_url: str, for_s: float = 0.5, within_s: float = 15) -> None:
    """Until the processes have run no transaction for `for_s`: a service thawed after SIGSTOP
    still works through the requests its callers gave up on, and the next test's TRUNCATE must
    not meet them half-way (a deadlock)."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        deadline, calm_since = time.monotonic() + within_s, None
        while time.monotonic() < deadline:
            busy = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name LIKE 'haolin-%' AND state <> 'idle' AND pid <> pg_backend_pid()")
            now = time.monotonic()
            calm_since = (calm_since or now) if busy == 0 else None
            if calm_since is not None and now - calm_since >= for_s:
                return
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def seed_root(platform: Platform) -> None:
    from gateway.config import GatewaySettings
    from gateway.identity.bootstrap import ensure_admin

    settings = GatewaySettings(database_url=platform.env["DATABASE_URL"], password_time_cost=1,
                               password_memory_kib=1024, password_parallelism=1)
    db = Database.connect(settings, "haolin-tests")
    try:
        await ensure_admin(db, settings)
    finally:
        await db.engine.dispose()
    # The gateway's station pusher (every 0.5 s here) brings the root to each service's replica.
    conn = await asyncpg.connect(asyncpg_dsn(platform.env["DATABASE_URL"]))
    try:
        deadline = time.monotonic() + 20
        while True:
            counts = [await conn.fetchval(f"SELECT count(*) FROM {s}.station WHERE path = '/1/'") for s in SERVICES]
            if counts == [1, 1, 1]:
                break
            assert time.monotonic() < deadline, f"the gateway did not push the root station: {counts}"
            await asyncio.sleep(0.1)
    finally:
        await conn.close()


def problem(r: httpx.Response, status: int | tuple[int, ...]) -> dict:
    """The body of a problem+json answer with that status (or one of those)."""
    statuses = (status,) if isinstance(status, int) else status
    assert r.status_code in statuses, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == r.status_code and body["title"] and body["type"], body
    assert "Traceback" not in r.text
    return body
