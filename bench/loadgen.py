"""Load generators: wrk for GET throughput when it is installed, an asyncio + aiohttp client otherwise
and for everything wrk cannot judge (POSTs whose every answer must be counted, fan-outs of several
calls per iteration, streamed pulls).

wrk (`apt-get install -y wrk`) costs far less CPU per request than any Python client, which matters
on two cores shared with the servers: with the Python client the figures are lower for both sides
of a ratio. Every result says which generator made it.
"""

from __future__ import annotations

import asyncio
import collections
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

LUA = Path(__file__).resolve().parent / "rotate_ids.lua"


@dataclass
class Result:
    generator: str
    requests: int
    errors: int  # non-2xx/3xx answers and socket errors
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    statuses: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def _to_ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[m.group(2)]


def wrk(base_url: str, path_prefix: str, ids: list[str] | None, headers: dict[str, str], connections: int,
        seconds: float, tmp: Path, threads: int = 2, warm_up_s: float = 2) -> Result:
    """GET `path_prefix` + each id in turn (or `path_prefix` alone when ids is None)."""
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", "--latency"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    if ids:
        ids_file = tmp / "wrk_ids.txt"
        ids_file.write_text("\n".join(ids) + "\n")
        tail = ["-s", str(LUA), base_url, "--", str(ids_file), path_prefix]
    else:
        tail = [base_url + path_prefix]
    if warm_up_s:
        subprocess.run(cmd + [f"-d{int(warm_up_s)}s"] + tail, capture_output=True, check=True)
    out = subprocess.run(cmd + [f"-d{max(1, int(seconds))}s"] + tail, capture_output=True, text=True,
                         check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(int(g) for g in sock.groups()) if sock else 0)
    return Result("wrk", requests, errors, seconds, float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
                  _to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE).group(1)),
                  _to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE).group(1)))


Call = Callable[[object, int], Awaitable[int]]  # (aiohttp session, request number) -> HTTP status


async def run_calls(call: Call, concurrency: int, seconds: float | None = None, total: int | None = None,
                    warm_up: int = 0) -> Result:
    """`concurrency` workers calling `call` until `seconds` pass or `total` calls are made."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=120)
    latencies: list[float] = []
    statuses: collections.Counter = collections.Counter()
    counter = iter(range(10**12))
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        for i in range(warm_up):
            await call(session, -1 - i)
        deadline = time.perf_counter() + seconds if seconds else None

        async def worker() -> None:
            while True:
                n = next(counter)
                if (total is not None and n >= total) or (deadline and time.perf_counter() >= deadline):
                    return
                t = time.perf_counter()
                try:
                    status = await call(session, n)
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                    status = type(exc).__name__
                latencies.append((time.perf_counter() - t) * 1000)
                statuses[status] += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    errors = sum(n for s, n in statuses.items() if not (isinstance(s, int) and 200 <= s < 400))
    return Result("python-aiohttp", len(latencies), errors, elapsed, len(latencies) / elapsed if elapsed else 0.0,
                  percentile(latencies, 0.5), percentile(latencies, 0.99), {str(k): v for k, v in statuses.items()})


def get_call(base_url: str, paths: list[str], headers: dict[str, str], expect: int = 200) -> Call:
    async def call(session, n: int) -> int:
        async with session.get(base_url + paths[n % len(paths)], headers=headers) as r:
            await r.read()
            return r.status if r.status == expect else -r.status

    return call


def throughput(base_url: str, path_prefix: str, ids: list[str] | None, headers: dict[str, str], connections: int,
               seconds: float, tmp: Path, use_wrk: bool, expect: int = 200, warm_up: bool = True) -> Result:
    """Requests per second of GETs, by wrk when asked (and installed), else by the Python client."""
    if use_wrk:
        return wrk(base_url, path_prefix, ids, headers, connections, seconds, tmp, warm_up_s=2 if warm_up else 0)
    paths = [path_prefix + i for i in ids] if ids else [path_prefix]
    return asyncio.run(run_calls(get_call(base_url, paths, headers, expect), connections, seconds=seconds,
                                 warm_up=min(20, len(paths)) if warm_up else 0))


def timed(fn: Callable[[], object], repeat: int) -> tuple[list[float], object]:
    """Run `fn` `repeat` times one after another: each run's milliseconds, and the last answer."""
    times, answer = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        answer = fn()
        times.append((time.perf_counter() - t) * 1000)
    return times, answer


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
