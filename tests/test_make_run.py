"""`make run` end to end: `python -m ops.run` starts every process against the test
database, the gateway serves the merged docs and logs the admin in, a process that dies is
started again, and Ctrl-C (SIGINT) leaves no process behind."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
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


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@dataclass
class Run:
    """`python -m ops.run` on free ports, its output in `log`; its run file at `run_file`."""

    proc: subprocess.Popen
    log: Path
    run_file: Path
    ports: dict[str, int]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def wait_for(self, text: str, after: int = 0, timeout_s: float = 90) -> None:
        """Until `text` is printed (after the first `after` characters of output)."""
        deadline = time.monotonic() + timeout_s
        while text not in self.output()[after:]:
            assert self.proc.poll() is None, f"ops.run exited early:\n{self.output()[-4000:]}"
            assert time.monotonic() < deadline, f"no {text!r}:\n{self.output()[-4000:]}"
            await asyncio.sleep(0.25)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def start_run(database_url: str, tmp_path: Path, ports: dict[str, int] | None = None, **extra_env: str) -> Run:
    names = ("gateway", "cases", "projects", "volunteers")
    ports = ports or dict(zip(names, free_ports(4), strict=True))
    run_file = tmp_path / "run.json"
    env = {**os.environ, "DATABASE_URL": database_url, "HAOLIN_READY_TIMEOUT_S": "60",
           "HAOLIN_RUN_FILE": str(run_file), "HAOLIN_METRICS_DIR": str(tmp_path / "metrics"),
           **{f"{n.upper()}_PORT": str(p) for n, p in ports.items()}, **extra_env}
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ops.run"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    return Run(proc, log, run_file, ports)


class TestMakeRun:
    async def test_starts_everything_serves_docs_logs_in_and_stops_on_ctrl_c(self, database_url, tmp_path):
        run = start_run(database_url, tmp_path)
        proc, log, base = run.proc, run.log, run.base
        try:
            await run.wait_for("Haolin is running.")
            # The banner shows the dashboard first, as the README does, then the API.
            banner = log.read_text(errors="replace").split("Haolin is running.", 1)[1]
            assert banner.index(f"Dashboard:     {base}/dashboard") < banner.index(f"{base}/docs"), banner
            assert "XDG_RUNTIME_DIR" not in log.read_text(errors="replace")
            # The CLI in another terminal finds this run's ports in its run file.
            written = json.loads(run.run_file.read_text())
            assert written["pid"] == proc.pid and written["gateway_url"] == base
            assert written["processes"]["cases"] == f"http://127.0.0.1:{run.ports['cases']}"

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
            assert not run.run_file.exists()
        finally:
            run.stop()

    async def test_a_process_that_dies_is_started_again_and_serves(self, database_url, tmp_path):
        run = start_run(database_url, tmp_path)
        try:
            await run.wait_for("Haolin is running.")
            cases = next(pid for pid in children_of(run.proc.pid) if "services.cases.app" in cmdline(pid))
            seen = len(run.output())
            os.kill(cases, signal.SIGKILL)

            await run.wait_for("cases was stopped by SIGKILL; restarting it in 1 s", after=seen)
            await run.wait_for(f"cases is serving again at http://127.0.0.1:{run.ports['cases']}", after=seen)
            assert run.proc.poll() is None
            again = next(pid for pid in children_of(run.proc.pid) if "services.cases.app" in cmdline(pid))
            assert again != cases and alive(again)
            assert len(children_of(run.proc.pid)) == 4
            # Through the gateway to the new cases process.
            async with httpx.AsyncClient(base_url=run.base, timeout=30) as client:
                r = await client.post("/v1/auth/token", data={"username": "admin",
                                                              "password": os.environ["ADMIN_PASSWORD"]})
                r = await client.get("/v1/cases", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
                assert r.status_code == 200, r.text
        finally:
            run.stop()

    async def test_two_workers_each_then_ctrl_c_leaves_no_worker_behind(self, database_url, tmp_path):
        """`make run WORKERS=2`: every process is uvicorn's supervisor with two workers; the platform
        serves through them, /metrics of each answers for its workers, and Ctrl-C stops them all."""
        run = start_run(database_url, tmp_path, WORKERS="2")
        try:
            await run.wait_for("Haolin is running.")
            processes = children_of(run.proc.pid)
            assert len(processes) == 4, processes
            workers = {pid: [w for w in children_of(pid) if "spawn_main" in cmdline(w)] for pid in processes}
            assert all(len(found) == 2 for found in workers.values()), {cmdline(p): w for p, w in workers.items()}
            async with httpx.AsyncClient(base_url=run.base, timeout=30) as client:
                r = await client.post("/v1/auth/token", data={"username": "admin",
                                                              "password": os.environ["ADMIN_PASSWORD"]})
                assert r.status_code == 200, r.text
                headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
                for _ in range(4):
                    assert (await client.get("/v1/cases", headers=headers)).status_code == 200
                await asyncio.sleep(1.5)  # every worker has written its counts
                text = (await client.get("/metrics")).text
                assert 'haolin_http_requests_total{method="GET",route="/v1/cases",status_class="2xx"} 4.0' in text
            for name in ("gateway", "cases", "projects", "volunteers"):
                assert len(list((tmp_path / "metrics" / name).glob("counter_*.db"))) >= 1, name

            # uvicorn's supervisor of cases killed outright: its workers go too (they would keep the
            # port), and cases starts again with two new ones.
            cases = next(pid for pid in processes if "services.cases.app" in cmdline(pid))
            seen = len(run.output())
            os.kill(cases, signal.SIGKILL)
            await run.wait_for(f"cases is serving again at http://127.0.0.1:{run.ports['cases']}", after=seen)
            assert not any(alive(pid) for pid in workers.pop(cases))
            processes = children_of(run.proc.pid)
            again = next(pid for pid in processes if "services.cases.app" in cmdline(pid))
            workers[again] = [w for w in children_of(again) if "spawn_main" in cmdline(w)]
            assert len(workers[again]) == 2

            run.proc.send_signal(signal.SIGINT)
            assert run.proc.wait(timeout=30) == 0, run.output()[-4000:]
            every = processes + [w for found in workers.values() for w in found]
            deadline = time.monotonic() + 10
            while any(alive(pid) for pid in every) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert not any(alive(pid) for pid in every)
        finally:
            run.stop()

    async def test_two_replicas_of_each_service_behind_the_gateway(self, database_url, tmp_path):
        """`make run REPLICAS=2`: each service twice (its second at its port + 10), the gateway given both
        and spreading over them; Ctrl-C stops all seven processes."""
        from ops.run import REPLICA_PORT_STEP, _port_free

        while True:  # ports whose second replica's port is free too
            ports = dict(zip(("gateway", "cases", "projects", "volunteers"), free_ports(4), strict=True))
            if all(_port_free("127.0.0.1", p + REPLICA_PORT_STEP) for n, p in ports.items() if n != "gateway"):
                break
        run = start_run(database_url, tmp_path, ports, REPLICAS="2")
        try:
            await run.wait_for("Haolin is running.")
            processes = children_of(run.proc.pid)
            assert len(processes) == 7, [cmdline(p) for p in processes]
            second = f"http://127.0.0.1:{ports['cases'] + REPLICA_PORT_STEP}"
            assert f"cases-2:       {second}  (internal service)" in run.output()
            assert json.loads(run.run_file.read_text())["processes"]["cases-2"] == second
            async with httpx.AsyncClient(base_url=run.base, timeout=30) as client:
                # The gateway may have found a service not started yet: its next probe finds it up.
                everyone = {"cases": ["up", "up"], "projects": ["up", "up"], "volunteers": ["up", "up"]}
                deadline = time.monotonic() + 20
                while (ready := (await client.get("/readyz")).json())["replicas"] != everyone:
                    assert time.monotonic() < deadline, ready
                    await asyncio.sleep(0.25)
                r = await client.post("/v1/auth/token", data={"username": "admin",
                                                              "password": os.environ["ADMIN_PASSWORD"]})
                headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
                for _ in range(20):
                    assert (await client.get("/v1/cases", headers=headers)).status_code == 200
                # Each replica answers its own /metrics: both took a share.
                for url in (f"http://127.0.0.1:{ports['cases']}", second):
                    text = (await client.get(url + "/metrics")).text
                    served = re.search(r'^haolin_http_requests_total\{method="GET",route="/v1/cases",'
                                       r'status_class="2xx"\} (\S+)$', text, re.MULTILINE)
                    assert served and float(served.group(1)) >= 3, (url, served)

            run.proc.send_signal(signal.SIGINT)
            assert run.proc.wait(timeout=30) == 0, run.output()[-4000:]
            deadline = time.monotonic() + 10
            while any(alive(pid) for pid in processes) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert not any(alive(pid) for pid in processes)
        finally:
            run.stop()

    async def test_a_process_that_cannot_start_at_all_stops_everything(self, database_url, tmp_path):
        run = start_run(database_url, tmp_path, CASES_MAX_BODY_BYTES="not a number")
        try:
            assert run.proc.wait(timeout=90) == 1, run.output()[-4000:]
        finally:
            run.stop()
        output = run.output()
        assert "error: cases exited with code" in output and "before it answered /readyz" in output, output[-4000:]
        assert "restarting" not in output and "Haolin is running." not in output
        assert not run.run_file.exists()


async def seen_by_a_client(run: Run) -> dict:
    """What a client and an operator see of a run: the merged API document (asked several times,
    so every worker answers it), the series /metrics lists, and the shape of the request log lines."""
    await run.wait_for("Haolin is running.")
    async with httpx.AsyncClient(base_url=run.base, timeout=30) as client:
        docs = [(await client.get("/openapi.json")).json() for _ in range(6)]
        assert all(doc == docs[0] for doc in docs)
        r = await client.post("/v1/auth/token", data={"username": "admin", "password": os.environ["ADMIN_PASSWORD"]})
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        for _ in range(4):
            assert (await client.get("/v1/cases", headers=headers)).status_code == 200
        await asyncio.sleep(1.5)  # every worker has written its counts
        metrics = (await client.get("/metrics")).text
    series = {re.sub(r"\{.*", "", line.split(" ")[0]) for line in metrics.splitlines() if line and line[0] != "#"}
    requests = [line for line in metrics.splitlines() if line.startswith("haolin_http_requests_total{")
                and 'route="/v1/cases"' in line]
    logged = [json.loads(line.split(" | ", 1)[1]) for line in run.output().splitlines()
              if " | {" in line and '"path": "/v1/cases"' in line]
    return {"doc": docs[0], "series": series, "cases_requests": requests,
            "log_keys": {frozenset(entry) for entry in logged}, "logged": len(logged)}


class TestWorkersChangeNothingOutside:
    async def test_one_and_two_workers_give_the_same_api_document_metrics_and_logs(self, database_url, tmp_path):
        seen = {}
        for workers in ("1", "2"):
            (tmp_path / workers).mkdir()
            run = start_run(database_url, tmp_path / workers, WORKERS=workers)
            try:
                seen[workers] = await seen_by_a_client(run)
            finally:
                run.proc.send_signal(signal.SIGINT)
                run.proc.wait(timeout=30)
                run.stop()
        one, two = seen["1"], seen["2"]
        assert one["doc"] == two["doc"]
        assert one["series"] == two["series"] and "haolin_http_requests_total" in one["series"]
        assert one["cases_requests"] == two["cases_requests"] and one["cases_requests"]
        assert one["log_keys"] == two["log_keys"] and len(one["log_keys"]) == 1
        assert one["logged"] == two["logged"] >= 4
