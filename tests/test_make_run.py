"""`make run` end to end: `python -m ops.run` starts every process against the test
database, the gateway serves the merged docs and logs the admin in, and Ctrl-C
(SIGINT) leaves no process behind."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def children_of(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


class TestMakeRun:
    async def test_starts_everything_serves_docs_logs_in_and_stops_on_ctrl_c(self, database_url, tmp_path):
        gateway_port, cases_port, projects_port, volunteers_port = free_ports(4)
        env = {**os.environ, "DATABASE_URL": database_url, "GATEWAY_PORT": str(gateway_port),
               "CASES_PORT": str(cases_port), "PROJECTS_PORT": str(projects_port),
               "VOLUNTEERS_PORT": str(volunteers_port), "HAOLIN_READY_TIMEOUT_S": "60"}
        log = tmp_path / "run.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "ops.run"], cwd=ROOT, env=env, stdout=out,
                                    stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{gateway_port}"
        try:
            deadline = time.monotonic() + 90
            while "Haolin is running." not in log.read_text(errors="replace"):
                assert proc.poll() is None, f"ops.run exited early:\n{log.read_text(errors='replace')[-4000:]}"
                assert time.monotonic() < deadline, f"not ready:\n{log.read_text(errors='replace')[-4000:]}"
                await asyncio.sleep(0.25)

            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                assert (await client.get("/docs")).status_code == 200
                r = await client.get("/openapi.json")
                assert r.status_code == 200
                doc = r.json()
                assert "/v1/cases" in doc["paths"]
                # The Authorize button on /docs covers the proxied operations too.
                scheme = next(iter(doc["paths"]["/v1/cases"]["get"]["security"][0]))
                flow = doc["components"]["securitySchemes"][scheme]["flows"]["password"]
                assert flow["tokenUrl"] == "/v1/auth/token"
                r = await client.post("/v1/auth/token", data={"username": "admin",
                                                              "password": os.environ["ADMIN_PASSWORD"]})
                assert r.status_code == 200, r.text
                token = r.json()["access_token"]
                # Through the proxy to the real cases service and back.
                r = await client.get("/v1/cases", headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 200, r.text

            children = children_of(proc.pid)
            assert len(children) == 4, children
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=20) == 0, log.read_text(errors="replace")[-4000:]
            deadline = time.monotonic() + 5
            while any(alive(pid) for pid in children) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert not any(alive(pid) for pid in children)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
