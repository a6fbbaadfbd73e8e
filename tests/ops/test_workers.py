"""A gateway under uvicorn with two workers, started as `make run GATEWAY_WORKERS=2` starts it: the
login limit, the end of a disabled account's tokens, the station pusher's leader and /metrics hold
for the process, not for each worker."""

from __future__ import annotations

import asyncio
import os
import re
import time

import asyncpg
import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict

from gateway.replication import LEADER_KEY
from ops.loopback import free_port
from ops.run import SPECS, Child, Failed, command, launch, stop_children
from tests.fixtures.gateway import ADMIN_PASSWORD, PASSWORD

GATEWAY = next(spec for spec in SPECS if spec.public)


async def started(child: Child, client: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + 90
    while True:
        assert child.proc.poll() is None, "the gateway exited: " + "\n".join(child.tail)
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the gateway did not start"
        await asyncio.sleep(0.2)


def healthz_count(text: str) -> float:
    found = re.search(r'^haolin_http_requests_total\{method="GET",route="/healthz",status_class="2xx"\} (\S+)$',
                      text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


class TestWorkersSetting:
    def test_per_process_then_all_then_one(self):
        assert GATEWAY.workers({}) == 1
        assert GATEWAY.workers({"WORKERS": "2"}) == 2
        assert GATEWAY.workers({"WORKERS": "2", "GATEWAY_WORKERS": "3"}) == 3
        assert "--workers" not in command(GATEWAY, "127.0.0.1", 8000, 1)
        assert command(GATEWAY, "127.0.0.1", 8000, 2)[-2:] == ["--workers", "2"]

    @pytest.mark.parametrize("value", ["0", "two", "-1"])
    def test_a_bad_value_is_refused(self, value):
        with pytest.raises(Failed, match="GATEWAY_WORKERS"):
            GATEWAY.workers({"GATEWAY_WORKERS": value})


class TestReplicasSetting:
    def test_per_service_then_all_then_one_and_the_gateway_once(self):
        cases = next(spec for spec in SPECS if spec.name == "cases")
        assert cases.replicas({}) == 1
        assert cases.replicas({"REPLICAS": "2"}) == 2
        assert cases.replicas({"REPLICAS": "2", "CASES_REPLICAS": "3"}) == 3
        assert GATEWAY.replicas({"REPLICAS": "2", "GATEWAY_REPLICAS": "2"}) == 1

    def test_a_bad_value_is_refused(self):
        cases = next(spec for spec in SPECS if spec.name == "cases")
        with pytest.raises(Failed, match="CASES_REPLICAS"):
            cases.replicas({"REPLICAS": "0"})


class TestTwoGatewayWorkers:
    async def test_limits_leader_and_metrics_are_the_process_s(self, database_url, tmp_path):
        port = free_port()
        nowhere = f"http://127.0.0.1:{free_port()}"
        env = {**os.environ, "GATEWAY_WORKERS": "2", "HAOLIN_METRICS_DIR": str(tmp_path),
               "GATEWAY_LOGIN_PER_ADDRESS_PER_MINUTE": "5", "GATEWAY_STATION_PUSH_INTERVAL_S": "0.2",
               "GATEWAY_PASSWORD_TIME_COST": "1", "GATEWAY_PASSWORD_MEMORY_KIB": "1024",
               "GATEWAY_PASSWORD_PARALLELISM": "1",
               "CASES_URL": nowhere, "PROJECTS_URL": nowhere, "VOLUNTEERS_URL": nowhere}
        child = Child(GATEWAY, "127.0.0.1", port, env)
        launch(child, [])
        db = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
        try:
            base = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                await started(child, client)

                # Both workers run the pusher's loop on a lock connection of their own; one holds the lock.
                async def pushers() -> int:
                    return await db.fetchval("SELECT count(*) FROM pg_stat_activity "
                                             "WHERE application_name = 'haolin-gateway-pusher'")
                deadline = time.monotonic() + 30
                while await pushers() < 2:
                    assert time.monotonic() < deadline, "both workers did not start their pusher"
                    await asyncio.sleep(0.2)
                await asyncio.sleep(0.5)
                assert await db.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                    "AND (classid::bigint << 32 | objid::bigint) = $1", LEADER_KEY) == 1

                # Each request on a connection of its own, so that both workers take some.
                async def once(method: str, path: str, **kwargs) -> httpx.Response:
                    async with httpx.AsyncClient(base_url=base, timeout=30) as fresh:
                        return await fresh.request(method, path, **kwargs)

                # A user's token, seen (and its account kept) by both workers, ends on both as soon as
                # the account is disabled on one: two logins of the address's five.
                r = await once("POST", "/v1/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD})
                admin = {"Authorization": f"Bearer {r.json()['access_token']}"}
                r = await once("POST", "/v1/users", headers=admin, json={
                    "username": "wk1", "display_name": "Wk1", "role": "social_worker", "station_id": 1,
                    "password": PASSWORD})
                assert r.status_code == 201, r.text
                user_id = r.json()["id"]
                r = await once("POST", "/v1/auth/token", data={"username": "wk1", "password": PASSWORD})
                worker = {"Authorization": f"Bearer {r.json()['access_token']}"}
                seen = await asyncio.gather(*(once("GET", "/v1/me", headers=worker) for _ in range(20)))
                assert {r.status_code for r in seen} == {200}
                assert (await once("POST", f"/v1/users/{user_id}/disable", headers=admin)).status_code == 200
                seen = await asyncio.gather(*(once("GET", "/v1/me", headers=worker) for _ in range(20)))
                assert {r.status_code for r in seen} == {401}

                async def login() -> int:
                    r = await once("POST", "/v1/auth/token", data={"username": "nobody", "password": "wrong"})
                    return r.status_code
                assert [await login() for _ in range(6)] == [401] * 3 + [429] * 3

                async def healthz(_: int) -> None:
                    async with httpx.AsyncClient(base_url=base, timeout=30) as once:
                        assert (await once.get("/healthz")).status_code == 200
                for _ in range(4):
                    await asyncio.gather(*(healthz(i) for i in range(20)))
                # The other worker writes its counts every second; each scrape counts itself after it answers.
                await asyncio.sleep(1.5)
                text = (await client.get("/metrics")).text
                assert healthz_count(text) == 80
                assert "haolin_db_pool_max" in text and "haolin_http_request_duration_seconds_bucket" in text

            workers = [f for f in os.listdir(tmp_path / "gateway") if f.startswith("counter_")]
            assert len(workers) == 2, workers
            served = []
            for name in workers:
                values = MmapedDict.read_all_values_from_file(str(tmp_path / "gateway" / name))
                served.append(sum(v for key, v, _, _ in values if '"/healthz"' in key and "_total" in key))
            assert sum(served) == 80 and all(served), served  # both answered some, and the scrape added them
        finally:
            await db.close()
            stop_children([child])
