"""Several replicas of one service (CASES_URLS=a,b): which replica takes a request, which request
may go again to another replica, and which replica is left alone until it answers again.

The one home of these rules: the resource proxy (gateway/upstream/proxy.py) and every contract
client (through `ReplicaTransport`, the transport of the gateway's pooled httpx clients) call
`ReplicaSet.send`.

- **Which replica**: the live one with the fewest requests in flight from this process, ties taken
  in turn (round robin), so equal replicas share the load evenly and a slow one gets less.
- **When another is tried**: when the replica could not be reached (connection refused, connect
  timeout, no route), the request never left: any request goes to the next replica, and the
  replica is counted down. When the replica dropped the connection after the request went out
  (it died while answering), the request may have been carried out: it goes again only when
  repeating it cannot do it twice (`repeatable`). A replica that answers, even with an error, or
  that is only slow, is not tried again elsewhere: the deadline (upstream_timeout_s) covers every
  attempt, and a slow service must not receive each request once per replica.
- **Down, then back**: a replica counted down is tried only when no live one is left; it is asked
  `/readyz` after replica_probe_s, then twice as long after each failed probe (at most
  replica_probe_max_s), and takes requests again once it answers 200 (or once it answers a
  request it was tried for as the last one left).

Each gateway worker keeps its own view: a replica is counted down by the first request of each
worker that finds it gone, at the cost of one refused connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import aiohttp
import httpx
import orjson
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("haolin.gateway.replicas")

T = TypeVar("T")

# Reads: sent twice, they still change nothing.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
IDEMPOTENCY_KEY = b"idempotency-key"


def repeatable(method: str, headers: Iterable[tuple[bytes, bytes]], body: bytes | None) -> bool:
    """May this request be sent again after it may have reached a replica? A read may; a create that
    carries an `Idempotency-Key` (shared/idempotency.py: the second gets the first's answer) or a
    client-made `id` in its JSON body (shared/records.py: a retry with the same id and body gets the
    record made) may. Nothing else: a POST without either would write twice, and a PUT or DELETE
    that went through answers the retry 412 or 404, a failure for what succeeded."""
    if method in SAFE_METHODS:
        return True
    if any(k.lower() == IDEMPOTENCY_KEY and v for k, v in headers):
        return True
    if method != "POST" or not body or body.lstrip()[:1] != b"{":
        return False
    try:
        created = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(created, dict) and bool(created.get("id"))


def _causes(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def unsent(exc: BaseException) -> bool:
    """Did the request fail before it could reach the replica (refused, no route, connect timeout)?"""
    for cause in _causes(exc):
        if isinstance(cause, aiohttp.ClientError):
            # httpx-aiohttp maps every aiohttp connection error, a dropped connection included, to
            # httpx.ConnectTimeout: aiohttp's own error, the cause, is the one that tells.
            return isinstance(cause, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError))
    for cause in _causes(exc):
        if isinstance(cause, (httpx.ConnectError, httpx.ConnectTimeout, ConnectionRefusedError)):
            return True
    return False


def dropped(exc: BaseException) -> bool:
    """Did the replica close the connection on the request without an answer (it died or stopped)?
    A timeout is not: the replica is there, only slow."""
    for cause in _causes(exc):
        if isinstance(cause, (aiohttp.ServerDisconnectedError, aiohttp.ClientConnectionResetError,
                              httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, ConnectionResetError,
                              BrokenPipeError)):
            return True
        if isinstance(cause, aiohttp.ClientOSError) and not isinstance(cause, TimeoutError):
            return True
    return False


@dataclass(eq=False)
class Replica:
    """One address of a service, as this process sees it."""

    number: int  # 1, 2, ...: how /readyz and /metrics name it (addresses are nobody's business outside)
    base: str
    in_flight: int = 0
    up: bool = True
    probe_at: float = 0.0
    failed_probes: int = 0
    # httpx's view of the base, to point a contract client's request at this replica.
    url: httpx.URL | None = None

    def __post_init__(self) -> None:
        self.url = httpx.URL(self.base)


Probe = Callable[[Replica], Awaitable[bool]]


class ReplicaSet:
    """One service's replicas; `send` takes a request to one of them."""

    def __init__(self, service: str, bases: Sequence[str], probe: Probe, probe_s: float = 1.0,
                 probe_max_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        if not bases:
            raise ValueError(f"{service}: no address")
        self.service = service
        self.replicas = tuple(Replica(i, base.rstrip("/")) for i, base in enumerate(bases, start=1))
        self._probe = probe
        self.probe_s, self.probe_max_s = probe_s, probe_max_s
        self._clock = clock
        self._turn = 0
        self._prober: asyncio.Task | None = None
        # Since start, for /metrics: requests sent again to another replica, times each replica went down.
        self.retries = 0
        self.downs = {r.number: 0 for r in self.replicas}

    def order(self) -> list[Replica]:
        """The replicas in the order one request tries them: the live ones, fewest in flight first and
        ties in turn; then those counted down, the one probed soonest first."""
        replicas = self.replicas
        if len(replicas) == 1:
            return [replicas[0]]
        start = self._turn = (self._turn + 1) % len(replicas)
        turn = replicas[start:] + replicas[:start]
        live = sorted((r for r in turn if r.up), key=lambda r: r.in_flight)
        if len(live) == len(replicas):
            return live
        return live + sorted((r for r in turn if not r.up), key=lambda r: r.probe_at)

    async def send(self, call: Callable[[Replica], Awaitable[T]],
                   may_repeat: Callable[[], bool] | None = None) -> T:
        """`call` on one replica after another, until one answers. `may_repeat` tells whether the request
        may go again after it may have reached a replica (`repeatable`); asked only then."""
        last: BaseException | None = None
        for replica in self.order():
            if last is not None:
                self.retries += 1
            replica.in_flight += 1
            try:
                answer = await call(replica)
            except Exception as exc:
                if unsent(exc):
                    self.mark_down(replica, exc)
                elif not (dropped(exc) and may_repeat is not None and may_repeat()):
                    raise
                last = exc
                continue
            finally:
                replica.in_flight -= 1
            if not replica.up:
                self.mark_up(replica, "it answered")
            return answer
        assert last is not None
        raise last

    def mark_down(self, replica: Replica, exc: BaseException | None = None) -> None:
        if not replica.up:
            return
        replica.up, replica.failed_probes = False, 0
        replica.probe_at = self._clock() + self.probe_s
        self.downs[replica.number] += 1
        log.warning("%s replica %d (%s) is down (%s); probing it every %.1f s or more", self.service,
                    replica.number, replica.base, type(exc).__name__ if exc else "probe", self.probe_s)
        if self._prober is None or self._prober.done():
            with contextlib.suppress(RuntimeError):  # no running loop: nothing to probe with
                # A context of its own: not the request's that found the replica down (its request id).
                self._prober = asyncio.get_running_loop().create_task(
                    self._probing(), name=f"probe-{self.service}-replicas", context=contextvars.Context())

    def mark_up(self, replica: Replica, why: str) -> None:
        if replica.up:
            return
        replica.up, replica.failed_probes = True, 0
        log.info("%s replica %d (%s) is up again (%s)", self.service, replica.number, replica.base, why)

    async def _probing(self) -> None:
        """While any replica is down: probe each when its time comes. Ends when all are up."""
        while True:
            down = [r for r in self.replicas if not r.up]
            if not down:
                return
            now = self._clock()
            due = [r for r in down if r.probe_at <= now]
            if not due:
                await asyncio.sleep(min(r.probe_at for r in down) - now)
                continue
            answered = await asyncio.gather(*(self._probe(r) for r in due), return_exceptions=True)
            now = self._clock()
            for replica, ok in zip(due, answered):
                if ok is True:
                    self.mark_up(replica, "it answered /readyz")
                elif not replica.up:
                    replica.failed_probes += 1
                    replica.probe_at = now + min(self.probe_s * 2 ** replica.failed_probes, self.probe_max_s)

    def status(self) -> list[str]:
        """"up" or "down" per replica, in the order of the setting."""
        return ["up" if r.up else "down" for r in self.replicas]

    async def aclose(self) -> None:
        if self._prober is not None:
            self._prober.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._prober
            self._prober = None


class ReplicaTransport(httpx.AsyncBaseTransport):
    """The transport of a contract client (an httpx.AsyncClient on the first replica's address): each
    request goes to the replica `ReplicaSet.send` picks, through the service's one pooled transport."""

    def __init__(self, replicas: ReplicaSet, inner: httpx.AsyncBaseTransport) -> None:
        self.replicas = replicas
        self.inner = inner
        first = replicas.replicas[0].url
        self._prefix = first.raw_path.rstrip(b"/")

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path
        if self._prefix and path.startswith(self._prefix):
            path = path[len(self._prefix):]

        async def call(replica: Replica) -> httpx.Response:
            url = replica.url
            request.url = request.url.copy_with(scheme=url.scheme, host=url.host, port=url.port,
                                                raw_path=url.raw_path.rstrip(b"/") + path)
            request.headers["Host"] = url.netloc.decode("ascii")
            return await self.inner.handle_async_request(request)

        def may_repeat() -> bool:
            try:
                body = request.content
            except httpx.RequestNotRead:  # a streamed body cannot be sent twice
                return request.method in SAFE_METHODS
            return repeatable(request.method, request.headers.raw, body)

        return await self.replicas.send(call, may_repeat)

    async def aclose(self) -> None:
        await self.replicas.aclose()
        await self.inner.aclose()


class ReplicaCollector(Collector):
    """/metrics: which replicas this gateway counts down, how often each went down, and how many
    requests went again to another replica. Read when scraped."""

    def __init__(self, sets: Callable[[], Iterable[ReplicaSet]]) -> None:
        self._sets = sets

    def collect(self):
        # A gauge of "down", not of "up": over several workers a scrape adds the workers' gauges up
        # (shared/multiprocess.py), and 0 must mean the same healthy state whatever their number.
        down = GaugeMetricFamily("haolin_upstream_replica_down",
                                 "1 while the gateway counts the replica down (summed over its workers)",
                                 labels=["service", "replica"])
        downs = CounterMetricFamily("haolin_upstream_replica_downs", "Times the replica was counted down",
                                    labels=["service", "replica"])
        retries = CounterMetricFamily("haolin_upstream_retries",
                                      "Requests sent again to another replica of the service", labels=["service"])
        for replicas in self._sets():
            for replica in replicas.replicas:
                number = str(replica.number)
                down.add_metric([replicas.service, number], 0 if replica.up else 1)
                downs.add_metric([replicas.service, number], replicas.downs[replica.number])
            retries.add_metric([replicas.service], replicas.retries)
        return [down, downs, retries]
