"""Two replicas of the cases service (one database) behind a gateway given both (CASES_URLS), all
real processes: requests spread over both; one replica killed (SIGKILL) under a load of reads and
of creates that carry an Idempotency-Key or a client-made id loses no request and writes nothing
twice; the gateway counts it down, and once it is started again probes it back and uses it again."""

from __future__ import annotations

import asyncio
import re
import time
import uuid

import asyncpg
import httpx
import pytest

from tests.reliability.conftest import MODULES, Platform, Process, platform_env, quiet, seed_root
from tests.test_make_run import free_ports

pytestmark = pytest.mark.slow

REPLICAS = ("cases-1", "cases-2")
_SERVED = re.compile(r'^haolin_http_requests_total\{[^}]*route="/v1/[^"]*"[^}]*\} (\S+)$', re.MULTILINE)


@pytest.fixture(scope="module")
async def replicated(database_url, tmp_path_factory):
    """The gateway and two replicas of the cases service; projects and volunteers are not started
    (nothing here needs them)."""
    logs = tmp_path_factory.mktemp("replicas")
    gateway, one, two, nowhere = free_ports(4)
    env = platform_env(database_url, {"gateway": gateway, "cases": one, "projects": nowhere, "volunteers": nowhere})
    env.update({"CASES_URLS": f"http://127.0.0.1:{one},http://127.0.0.1:{two}",
                "GATEWAY_REPLICA_PROBE_S": "0.2", "GATEWAY_REPLICA_PROBE_MAX_S": "0.5"})
    platform = Platform(env=env)
    platform.processes = {"gateway": Process("gateway", gateway, logs / "gateway.log"),
                          "cases-1": Process("cases-1", one, logs / "cases-1.log", module=MODULES["cases"]),
                          "cases-2": Process("cases-2", two, logs / "cases-2.log", module=MODULES["cases"])}
    try:
        for name in platform.processes:
            platform.start(name)
        await platform.wait_ready()
        yield platform
    finally:
        platform.stop()


async def served(platform: Platform, name: str) -> float:
    """Resource requests the replica has answered since it started (its own /metrics)."""
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(platform.processes[name].url + "/metrics")).text
    return sum(float(v) for v in _SERVED.findall(text))


async def replicas_seen(client: httpx.AsyncClient) -> list[str]:
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    return r.json()["replicas"]["cases"]


def gateway_metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    found = re.search(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$", text, re.MULTILINE)
    assert found, f"no {name}{{{wanted}}} in the gateway's /metrics"
    return float(found.group(1))


class TestTwoCasesReplicas:
    async def test_spread_killed_under_load_then_back(self, replicated: Platform, database_url):
        await replicated.ensure_up()
        await seed_root(replicated, services=("cases",))  # projects and volunteers are not started
        async with httpx.AsyncClient(base_url=replicated.gateway_url, timeout=30) as client:
            r = await client.post("/v1/auth/token", data={"username": "admin", "password": "admin-test-password"})
            assert r.status_code == 200, r.text
            client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            assert await replicas_seen(client) == ["up", "up"]

            # Spread: both replicas answer a share.
            before = [await served(replicated, name) for name in REPLICAS]
            for _ in range(20):
                assert (await client.get("/v1/beneficiaries", params={"limit": 1})).status_code == 200
            after = [await served(replicated, name) for name in REPLICAS]
            shares = [a - b for a, b in zip(after, before)]
            assert sum(shares) == 20 and min(shares) >= 5, shares

            # (The gateway may have found a replica down while they all started.)
            downs = gateway_metric((await client.get("/metrics")).text, "haolin_upstream_replica_downs_total",
                                   service="cases", replica="2")

            # Load: creates with an Idempotency-Key, creates with a client-made id, reads; cases-2 killed midway.
            answers: list[tuple[str, int, str]] = []
            ids: set[str] = set()
            sent = 0
            stop = asyncio.Event()
            run = uuid.uuid4().hex[:8]

            async def worker(w: int) -> None:
                nonlocal sent
                i = 0
                while not stop.is_set():
                    i += 1
                    sent += 2
                    r = await client.post("/v1/beneficiaries", json={"name": f"负载{w}-{i}"},
                                          headers={"Idempotency-Key": f"replicas-{run}-{w}-{i:06d}"})
                    answers.append(("create with key", r.status_code, r.text[:200]))
                    if r.status_code in (200, 201):
                        ids.add(r.json()["id"])
                    made = f"tablet-{run}-{w}-{i}"
                    r = await client.post("/v1/beneficiaries", json={"id": made, "name": f"平板{w}-{i}"})
                    answers.append(("create with id", r.status_code, r.text[:200]))
                    ids.add(made)
                    r = await client.get(f"/v1/beneficiaries/{made}")
                    answers.append(("read", r.status_code, r.text[:200]))
                    r = await client.get("/v1/beneficiaries", params={"limit": 5})
                    answers.append(("list", r.status_code, r.text[:200]))

            workers = [asyncio.create_task(worker(w)) for w in range(6)]
            await asyncio.sleep(2.0)
            replicated.kill("cases-2")
            await asyncio.sleep(2.0)
            stop.set()
            await asyncio.gather(*workers)

            failed = [a for a in answers if a[1] not in (200, 201)]
            assert not failed, failed[:5]
            assert len(answers) >= 40, len(answers)
            # Nothing written twice: one row per create sent, each the one its answer named.
            conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
            try:
                stored = {r["id"] for r in await conn.fetch("SELECT id FROM cases.beneficiary")}
            finally:
                await conn.close()
            assert len(ids) == sent and stored == ids

            # Counted down once, and requests kept going to the other replica.
            assert await replicas_seen(client) == ["up", "down"]
            text = (await client.get("/metrics")).text
            assert gateway_metric(text, "haolin_upstream_replica_downs_total", service="cases",
                                  replica="2") == downs + 1
            assert gateway_metric(text, "haolin_upstream_replica_down", service="cases", replica="2") == 1
            # At least the request that found it gone went again, to cases-1.
            assert gateway_metric(text, "haolin_upstream_retries_total", service="cases") >= 1
            before = await served(replicated, "cases-1")
            for _ in range(10):
                assert (await client.get("/v1/beneficiaries", params={"limit": 1})).status_code == 200
            assert await served(replicated, "cases-1") - before == 10

            # Started again: probed back and used again.
            replicated.start("cases-2")
            await replicated.wait_ready("cases-2")
            deadline = time.monotonic() + 10
            while await replicas_seen(client) != ["up", "up"]:
                assert time.monotonic() < deadline, "the gateway did not probe cases-2 back"
                await asyncio.sleep(0.1)
            # Used again: at once for most requests, though a replica still busy with its first (slow)
            # requests gets fewer for a moment, the fewest in flight taking the next.
            deadline = time.monotonic() + 10
            while await served(replicated, "cases-2") < 5:
                assert time.monotonic() < deadline, "the gateway did not send cases-2 requests again"
                for _ in range(10):
                    assert (await client.get("/v1/beneficiaries", params={"limit": 1})).status_code == 200
        await quiet(replicated.env["DATABASE_URL"])
