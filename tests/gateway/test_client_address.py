"""Who the client is: the gateway's peer, unless that peer is a proxy listed in
GATEWAY_TRUSTED_PROXIES. A header a client writes itself (X-Forwarded-For, X-Real-IP) never
resets the per-address login limit, also under uvicorn as `make run` starts it."""

from __future__ import annotations

import asyncio
import os
import time

import httpx

from ops.loopback import free_port
from ops.run import SPECS, Child, launch, stop_children

SPOOFED = {"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9"}


async def login(client: httpx.AsyncClient, headers: dict | None = None) -> int:
    r = await client.post("/v1/auth/token", data={"username": "nobody", "password": "wrong password"},
                          headers=headers or {})
    return r.status_code


class TestThePerAddressLimit:
    async def test_a_spoofed_header_under_uvicorn_as_make_run_starts_it(self, database_url):
        """uvicorn believes X-Forwarded-For from a loopback peer unless told not to: a client on
        the same machine could then claim any address and start afresh."""
        gateway = next(spec for spec in SPECS if spec.public)
        port = free_port()
        nowhere = f"http://127.0.0.1:{free_port()}"
        env = {**os.environ, "GATEWAY_LOGIN_PER_ADDRESS_PER_MINUTE": "3", "GATEWAY_PASSWORD_TIME_COST": "1",
               "GATEWAY_PASSWORD_MEMORY_KIB": "1024", "GATEWAY_PASSWORD_PARALLELISM": "1",
               "CASES_URL": nowhere, "PROJECTS_URL": nowhere, "VOLUNTEERS_URL": nowhere}
        child = Child(gateway, "127.0.0.1", port, env)
        launch(child, [])
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                deadline = time.monotonic() + 60
                while True:
                    assert child.proc.poll() is None, "the gateway exited"
                    try:
                        if (await client.get("/readyz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    assert time.monotonic() < deadline, "the gateway did not start"
                    await asyncio.sleep(0.2)
                assert [await login(client) for _ in range(3)] == [401] * 3
                assert await login(client, SPOOFED) == 429
                assert await login(client, {"X-Forwarded-For": "203.0.113.10"}) == 429
        finally:
            stop_children([child])

    async def test_a_spoofed_header_in_process(self, gateway_factory):
        gw = await gateway_factory(login_per_address_per_minute=3)
        assert [await login(gw) for _ in range(3)] == [401] * 3
        assert await login(gw, SPOOFED) == 429

    async def test_behind_a_trusted_load_balancer_each_client_has_its_own_limit(self, gateway_factory, db):
        gw = await gateway_factory(login_per_address_per_minute=2, trusted_proxies="10.0.0.5")
        balancer = type(gw)(transport=httpx.ASGITransport(app=gw.app, client=("10.0.0.5", 4000)),
                            base_url="http://gateway")
        stranger = type(gw)(transport=httpx.ASGITransport(app=gw.app, client=("198.51.100.4", 4000)),
                            base_url="http://gateway")
        async with balancer, stranger:
            one, two = {"X-Forwarded-For": "203.0.113.1"}, {"X-Forwarded-For": "203.0.113.2"}
            assert [await login(balancer, one) for _ in range(3)] == [401, 401, 429]
            assert await login(balancer, two) == 401  # another client behind the same balancer
            # A client that is not the balancer claims to be one behind it: its own address counts.
            assert [await login(stranger, two) for _ in range(3)] == [401, 401, 429]
        # The audit log and the throttle name the client the balancer vouched for.
        assert {r["address"] for r in await db.fetch("SELECT address FROM gateway.login_throttle")} == {
            "203.0.113.1", "203.0.113.2", "198.51.100.4"}
