"""Two replicas of each service (one database) behind a gateway given both (CASES_URLS, ...), all
real processes: requests spread over both; one replica of every service killed (SIGKILL) under a
load of reads and of creates that carry an Idempotency-Key or a client-made id loses no request and
writes nothing twice; the gateway counts each down, and once one is started again probes it back
and uses it again."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import re
import time
import uuid

import asyncpg
import httpx
import pytest

from tests.fixtures.people import id_number
from tests.reliability.conftest import SERVICES, Platform, quiet, seed_root, start_platform

pytestmark = pytest.mark.slow

REPLICAS = ("cases", "cases-2")
_SERVED = re.compile(r'^haolin_http_requests_total\{[^}]*route="/v1/[^"]*"[^}]*\} (\S+)$', re.MULTILINE)


@pytest.fixture(scope="module")
async def replicated(database_url, tmp_path_factory):
    """Two processes of each, as `make run REPLICAS=2` names them (cases, cases-2, ...); the load goes
    through the first gateway."""
    platform = await start_platform(database_url, tmp_path_factory.mktemp("replicas"), replicas=2,
                                    env={"GATEWAY_REPLICA_PROBE_S": "0.2", "GATEWAY_REPLICA_PROBE_MAX_S": "0.5"})
    try:
        yield platform
    finally:
        platform.stop()


async def served(platform: Platform, name: str) -> float:
    """Resource requests the replica has answered since it started (its own /metrics)."""
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(platform.processes[name].url + "/metrics")).text
    return sum(float(v) for v in _SERVED.findall(text))


async def replicas_seen(client: httpx.AsyncClient, service: str = "cases") -> list[str]:
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    return r.json()["replicas"][service]


def gateway_metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    found = re.search(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$", text, re.MULTILINE)
    assert found, f"no {name}{{{wanted}}} in the gateway's /metrics"
    return float(found.group(1))


class TestTwoReplicasOfEachService:
    async def test_spread_killed_under_load_then_back(self, replicated: Platform, database_url):
        await replicated.ensure_up()
        await seed_root(replicated)
        async with httpx.AsyncClient(base_url=replicated.gateway_url, timeout=30) as client:
            r = await client.post("/v1/auth/token", data={"username": "admin", "password": "admin-test-password"})
            assert r.status_code == 200, r.text
            client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            for service in SERVICES:
                assert await replicas_seen(client, service) == ["up", "up"], service

            # Spread: both replicas answer a share.
            before = [await served(replicated, name) for name in REPLICAS]
            for _ in range(20):
                assert (await client.get("/v1/beneficiaries", params={"limit": 1})).status_code == 200
            after = [await served(replicated, name) for name in REPLICAS]
            shares = [a - b for a, b in zip(after, before)]
            assert sum(shares) == 20 and min(shares) >= 5, shares

            # (The gateway may have found a replica down while they all started.)
            metrics = (await client.get("/metrics")).text
            downs = {s: gateway_metric(metrics, "haolin_upstream_replica_downs_total", service=s, replica="2")
                     for s in SERVICES}

            # Load on every service: creates with an Idempotency-Key, creates with a client-made id,
            # reads; the second replica of each killed midway.
            answers: list[tuple[str, int, str]] = []
            ids: dict[str, set[str]] = {"cases.beneficiary": set(), "projects.project": set(),
                                        "volunteers.volunteer": set()}
            sent = dict.fromkeys(ids, 0)
            stop = asyncio.Event()
            run = uuid.uuid4().hex[:8]
            born = (dt.date(1960, 1, 1) + dt.timedelta(days=n) for n in itertools.count())
            today = dt.date.today()

            async def create(table: str, what: str, path: str, body: dict, key: str | None = None) -> None:
                sent[table] += 1
                headers = {"Idempotency-Key": key} if key else {}
                r = await client.post(path, json=body, headers=headers)
                answers.append((what, r.status_code, r.text[:200]))
                if r.status_code in (200, 201):
                    ids[table].add(r.json()["id"])

            async def worker(w: int) -> None:
                i = 0
                while not stop.is_set():
                    i += 1
                    await create("cases.beneficiary", "beneficiary with key", "/v1/beneficiaries",
                                 {"name": f"负载{w}-{i}"}, key=f"replicas-{run}-b-{w}-{i:06d}")
                    made = f"tablet-{run}-{w}-{i}"
                    await create("cases.beneficiary", "beneficiary with id", "/v1/beneficiaries",
                                 {"id": made, "name": f"平板{w}-{i}"})
                    r = await client.get(f"/v1/beneficiaries/{made}")
                    answers.append(("read", r.status_code, r.text[:200]))
                    r = await client.get("/v1/beneficiaries", params={"limit": 5})
                    answers.append(("list", r.status_code, r.text[:200]))
                    await create("projects.project", "project with key", "/v1/projects",
                                 {"name": f"项目{w}-{i}", "purchaser": "民政局", "operator": "社工机构",
                                  "starts_on": today.isoformat(), "ends_on": (today + dt.timedelta(days=90)).isoformat()},
                                 key=f"replicas-{run}-p-{w}-{i:06d}")
                    r = await client.get("/v1/projects", params={"limit": 5})
                    answers.append(("projects", r.status_code, r.text[:200]))
                    await create("volunteers.volunteer", "volunteer with id", "/v1/volunteers",
                                 {"id": f"vol-{run}-{w}-{i}", "name": f"志愿者{w}-{i}",
                                  "id_number": id_number(f"510104{next(born):%Y%m%d}123")})
                    await create("volunteers.volunteer", "volunteer with key", "/v1/volunteers",
                                 {"name": f"志愿者甲{w}-{i}", "id_number": id_number(f"510104{next(born):%Y%m%d}123")},
                                 key=f"replicas-{run}-v-{w}-{i:06d}")

            workers = [asyncio.create_task(worker(w)) for w in range(6)]
            await asyncio.sleep(2.0)
            for service in SERVICES:
                replicated.kill(f"{service}-2")
            await asyncio.sleep(2.0)
            stop.set()
            await asyncio.gather(*workers)

            failed = [a for a in answers if a[1] not in (200, 201)]
            assert not failed, failed[:5]
            assert len(answers) >= 48, len(answers)  # every worker round at least once
            # Nothing written twice: one row per create sent, each the one its answer named.
            conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
            try:
                for table, made in ids.items():
                    stored = {r["id"] for r in await conn.fetch(f"SELECT id FROM {table}")}
                    assert len(made) == sent[table] and stored == made, table
            finally:
                await conn.close()

            # Each counted down once, and requests kept going to the other replica.
            text = (await client.get("/metrics")).text
            for service in SERVICES:
                assert await replicas_seen(client, service) == ["up", "down"], service
                assert gateway_metric(text, "haolin_upstream_replica_downs_total", service=service,
                                      replica="2") == downs[service] + 1, service
                assert gateway_metric(text, "haolin_upstream_replica_down", service=service, replica="2") == 1
            # At least the request that found it gone went again, to the first.
            assert gateway_metric(text, "haolin_upstream_retries_total", service="cases") >= 1
            before = await served(replicated, "cases")
            for _ in range(10):
                assert (await client.get("/v1/beneficiaries", params={"limit": 1})).status_code == 200
            assert await served(replicated, "cases") - before == 10

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
