"""What the gateway holds while it runs, as one typed object: `request.app.state` (shared/state.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from gateway.identity.bootstrap import ensure_admin
from gateway.identity.live import LiveAccounts, LiveStations
from gateway.replication import LEADER_KEY, StationPusher
from gateway.stats.cache import AnswerCache
from gateway.stats.shared import SharedAnswers
from gateway.sync.admission import SyncAdmission
from gateway.upstream import Upstreams
from shared.auth import TokenSigner, TokenVerifier
from shared.db import Database, asyncpg_dsn, make_engine
from shared.leader import Leadership
from shared.notify import Listener
from shared.state import ProcessState

if TYPE_CHECKING:
    from gateway.sync.registry import Registry
    from gateway.upstream.openapi import MergedOpenAPI


# How long a dashboard computation waits for a connection to take its turn on (gateway/stats/shared.py).
ANSWERS_POOL_TIMEOUT_S = 5.0


@dataclass(eq=False)
class GatewayState(ProcessState):
    """Built by create_app with the settings; `running` (the lifespan) opens the rest."""

    listener: Listener | None = None
    accounts: LiveAccounts | None = None
    stations: LiveStations | None = None
    signer: TokenSigner | None = None
    upstreams: Upstreams | None = None
    stats_cache: AnswerCache | None = None
    # The answers the stats cache computes, shared with the other workers and replicas (None: no cache time).
    stats_shared: SharedAnswers | None = None
    answers_engine: AsyncEngine | None = None
    pusher: StationPusher | None = None
    # The services' synced tables, asked for when a tablet first needs them, since a service may be
    # down when the gateway starts (gateway.sync.registry).
    sync_registry: Registry | None = None
    # How many tablet syncs this process serves at once (gateway/sync/admission.py).
    sync_admission: SyncAdmission | None = None
    # The platform's API document, the gateway's and the services' (gateway.upstream.openapi).
    merged_openapi: MergedOpenAPI | None = None

    def readiness(self) -> dict:
        """/readyz: "up" or "down" for each replica of each service, numbered as in CASES_URLS (1, 2, ...);
        never their addresses, /readyz being public."""
        return {"replicas": self.upstreams.replicas()} if self.upstreams is not None else {}

    def replica_sets(self) -> list:
        """The services' replicas, for /metrics (gateway.upstream.replicas.ReplicaCollector)."""
        return self.upstreams.replica_sets() if self.upstreams is not None else []

    async def forget_stats(self) -> None:
        """Every dashboard answer kept, by this process and in the table it shares with the others, forgotten."""
        self.stats_cache.clear()
        if self.stats_shared is not None:
            await self.stats_shared.clear()

    @asynccontextmanager
    async def running(self, transports: dict[str, httpx.AsyncBaseTransport] | None = None) -> AsyncIterator[None]:
        """The lifespan: everything opened, then closed in the reverse order. `transports` replaces
        the network to a service (tests wire in-process apps)."""
        settings = self.settings
        self.db = await Database.start(settings, "haolin-gateway")  # read_pool: the caller on every request
        self.listener = Listener(asyncpg_dsn(settings.database_url), "haolin-gateway-listen")
        self.accounts = LiveAccounts(self.db.read_pool, self.listener)
        self.stations = LiveStations(self.db.read_pool, self.listener)
        self.signer = TokenSigner(settings.private_key_pem(), settings.jwt_issuer, settings.jwt_audience,
                                  settings.access_ttl_s)
        self.verifier = TokenVerifier(settings.public_key_pem(), settings.jwt_issuer, settings.jwt_audience)
        self.upstreams = Upstreams.build(settings, transports)
        self.sync_admission = SyncAdmission(settings.sync_concurrency, settings.sync_admission_wait_s)
        self.stats_cache = AnswerCache(settings.stats_cache_s, stale_s=settings.stats_stale_s,
                                       per_compute=settings.stats_cache_per_compute)
        if settings.stats_cache_s > 0:
            # Its own pool (gateway/stats/shared.py): db_pool_size connections, none beyond, and a short wait
            # for one, after which a computation goes on without the others.
            self.answers_engine = make_engine(settings.model_copy(update={"db_max_overflow": 0}),
                                              "haolin-gateway-answers", pool_timeout=ANSWERS_POOL_TIMEOUT_S)
            self.stats_shared = SharedAnswers(
                async_sessionmaker(self.answers_engine, expire_on_commit=False, autoflush=False),
                settings.stats_cache_s, per_compute=settings.stats_cache_per_compute)
        # Built before the listener starts: it listens on the channels subscribed by then.
        self.pusher = StationPusher(self.db, self.upstreams, self.signer, settings.station_push_interval_s,
                                    leadership=Leadership(asyncpg_dsn(settings.database_url), LEADER_KEY,
                                                          "haolin-gateway-pusher"),
                                    listener=self.listener)
        await self.listener.start()
        await ensure_admin(self.db, settings)
        await self.pusher.start()
        try:
            yield
        finally:
            await self.pusher.stop()
            self.stats_cache.close()
            await self.upstreams.aclose()
            await self.listener.stop()
            if self.answers_engine is not None:
                await self.answers_engine.dispose()
            await self.db.dispose()
