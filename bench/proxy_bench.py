"""Requests/second straight to a service and through the gateway's proxy, on loopback.

    .venv/bin/python -m bench.proxy_bench [--duration 10] [--connections 64]

Starts bench.apps' upstream and, in turn, a gateway with each upstream transport
(uvicorn, one worker each, uvloop + httptools, as `make run` starts them), drives
them with wrk (apt-get install wrk) and prints one line per case. Every process it
starts it stops.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from ops.run import server

ROOT = Path(__file__).resolve().parent.parent
PATH = "/v1/cases/c-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(factory: str, port: int, env: dict[str, str]):
    cmd = [sys.executable, "-m", *server(factory, "127.0.0.1", port), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env})
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{factory} did not start")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def wrk(url: str, duration: int, connections: int) -> tuple[float, str]:
    # Warm the pools first so the figure is steady state, not connection set-up.
    subprocess.run(["wrk", "-t1", f"-c{connections}", "-d2s", url], capture_output=True, check=True)
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    note = f"p50 {p50}, p99 {p99}" + (f", {errors.group(1)} non-2xx" if errors else "")
    return rps, note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=1, help="repeat every case; other load on the box skews one run")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y wrk")
    # Access logs off on both ends (no configure_logging in bench.apps): the hop, not stdout, is measured.
    quiet: dict[str, str] = {}
    up_port = free_port()
    cases = [("httpcore", "bench.apps:gateway"), ("httpx+aiohttp", "bench.apps:gateway"),
             ("aiohttp", "bench.apps:gateway"),
             ("raw aiohttp", "bench.apps:gateway_raw_aiohttp")]
    with serve("bench.apps:upstream", up_port, quiet) as upstream:
        for _ in range(args.rounds):
            rps, note = wrk(upstream + PATH, args.duration, args.connections)
            print(f"direct to the service               {rps:8.0f} req/s  ({note})", flush=True)
            for transport, factory in cases:
                env = {**quiet, "BENCH_TRANSPORT": transport, "CASES_URL": upstream}
                with serve(factory, free_port(), env) as gateway:
                    rps, note = wrk(gateway + PATH, args.duration, args.connections)
                    print(f"through the gateway ({transport:<13}) {rps:8.0f} req/s  ({note})", flush=True)


if __name__ == "__main__":
    main()
