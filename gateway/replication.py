"""Pushes the station tree to every service's replica (shared/stations.py, shared.contracts.stations).

Each service reports the highest change_seq it applied; the pusher sends every station
changed after it, in change order and in batches. Station writes draw change_seq under
the tree lock, so numbers are committed in order and "everything after the cursor" never
misses a row. A push is idempotent, so any failure is repaired by the next round: the
loop runs every `interval_s`, and at once when a station endpoint calls notify().
An unreachable service is logged and retried; it never fails a request or the gateway.

One loop for the whole deployment: every gateway worker and replica runs the loop, but only the
one holding the pusher's advisory lock (shared/leader.py) pushes; the others ask for the lock
every `interval_s` and take over within that when the leader dies. A station write on any worker
wakes the leader through a notification (STATIONS_CHANNEL), and a leader that (re)connects its
listener pushes at once, since it may have missed one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from gateway.identity.repository import stations as stations_repo
from gateway.upstream.clients import SERVICES
from shared.auth import TokenSigner
from shared.contracts.calls import Clients, Service, services
from shared.contracts.stations import client as stations_contract
from shared.contracts.stations.schemas import StationReplica
from shared.db import Database
from shared.leader import Leadership
from shared.notify import Listener

log = logging.getLogger("haolin.gateway.replication")

BATCH = 1000
# The advisory lock whose holder pushes ("HAOLPUSH"), and the channel that wakes it.
LEADER_KEY = 0x4841_4F4C_5055_5348
STATIONS_CHANNEL = "haolin_station_changed"


class StationPusher:
    def __init__(self, db: Database, upstreams: Clients, signer: TokenSigner, interval_s: float,
                 services: tuple[str, ...] = SERVICES, batch: int = BATCH, leadership: Leadership | None = None,
                 listener: Listener | None = None) -> None:
        """`leadership`: the lock the loop must hold to push (None: this pusher always leads, as a
        single process's would); `listener`: where station writes of other workers wake it."""
        self.db = db
        self.leadership = leadership
        self.listener = listener
        # Rounds this pusher's loop ran as the leader (sync_now called directly is not counted).
        self.rounds = 0
        self.upstreams = upstreams
        self.signer = signer
        self.interval_s = interval_s
        self.services = services
        self.batch = batch
        self._wake = asyncio.Event()
        # One round at a time: the loop and sync_now() would otherwise push the same rows twice.
        self._round = asyncio.Lock()
        self._task: asyncio.Task | None = None
        if listener is not None:
            listener.subscribe(STATIONS_CHANNEL, lambda _: self._wake.set(), self._wake.set)

    @property
    def leading(self) -> bool:
        return self.leadership is None or self.leadership.leading

    async def start(self) -> None:
        """Begin the loop; its first round runs at once, without holding up startup."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="station-pusher")

    async def stop(self, grace_s: float = 5.0) -> None:
        if self._task is not None:
            self._task.cancel()
            # Bounded: a round cancelled inside a service's request (in-process in tests) has been
            # seen to never finish unwinding, and shutdown must not hang on it. It is abandoned;
            # the next start pushes the whole tree again from the services' cursors.
            done, _ = await asyncio.wait({self._task}, timeout=grace_s)
            if not done:
                log.warning("station pusher did not stop within %.0f s; abandoned", grace_s)
            else:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    self._task.result()
            self._task = None
        if self.leadership is not None:
            await self.leadership.release()

    async def notify(self) -> None:
        """A station changed (and is committed): push soon, without waiting for the interval,
        whichever worker leads."""
        self._wake.set()
        if self.listener is not None:
            try:
                async with self.db.write_sessions() as session:
                    await stations_repo.announce_change(session, STATIONS_CHANNEL)
                    await session.commit()
            except Exception as exc:  # the leader's own interval still carries the change
                log.warning("station change notification failed: %s", type(exc).__name__)

    async def sync_now(self) -> dict[str, int | None]:
        """One round to every service; per service the stations sent, or None when it failed."""
        async with self._round:
            asked = services(self.upstreams, self.signer, self.services)
            results = await asyncio.gather(*(self._sync_service(asked[name]) for name in self.services))
            return dict(zip(self.services, results, strict=True))

    async def _run(self) -> None:
        while True:
            try:
                if self.leadership is None or await self.leadership.leads():
                    await self.sync_now()
                    self.rounds += 1
            except Exception as exc:  # the loop must outlive any failure, e.g. the database restarting
                log.warning("station push round failed: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            self._wake.clear()

    async def _sync_service(self, service: Service) -> int | None:
        name = service.name
        sent = 0
        try:
            cursor = await stations_contract.cursor(service)
            while True:
                async with self.db.read_sessions() as session:
                    rows = await stations_repo.changed_after(session, cursor, self.batch)
                if not rows:
                    break
                await stations_contract.push(service, [StationReplica.model_validate(row, from_attributes=True)
                                                       for row in rows])
                sent += len(rows)
                cursor = rows[-1].change_seq
                if len(rows) < self.batch:
                    break
        except Exception as exc:
            # The exception's type and status only: a reply body could echo station data or a token.
            status = getattr(getattr(exc, "response", None), "status_code", None)
            log.warning("station push to %s failed: %s%s (retrying every %ss)", name, type(exc).__name__,
                        f" {status}" if status else "", self.interval_s)
            return None
        if sent:
            log.info("pushed %d station changes to %s", sent, name)
        return sent
