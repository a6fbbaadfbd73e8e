"""What a process holds while it runs, as one typed object: `request.app.state`.

`build_app` makes the app's state the process's own subclass of `ProcessState` (a service's
`ServiceState`, the gateway's gateway.state.GatewayState), with everything known when the app is
built (settings, audit table, trusted proxies, metrics); the lifespan fills the rest (`running`)
before the first request and closes it after the last. So a handler finds every attribute it
reads already there, each declared here with its type, none filled lazily on first use.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from shared import crypto, prepared, rollup
from shared.attachments import AttachmentFiles
from shared.auth import TokenVerifier
from shared.config import ResourceSettings
from shared.crypto import FieldCipher
from shared.db import Database, asyncpg_dsn
from shared.contracts.lookup.client import Lookup, build as build_lookup
from shared.proxies import trusted_proxies
from shared.records import Vault
from shared.standby import FigureReads


@dataclass(eq=False)
class ProcessState:
    """What every process's app holds. `metrics` is set by build_app; `db` and `verifier` by the lifespan."""

    settings: Any
    # The process's audit table (shared.audit.model.audit_log_model), where reads and events go.
    audit_log: type | None = None
    # Whose X-Real-IP this process believes (shared/proxies.py), from settings.trusted_proxies.
    trusted_proxies: tuple = field(init=False, default=())
    metrics: Any = None
    db: Database | None = None
    verifier: TokenVerifier | None = None

    def __post_init__(self) -> None:
        self.trusted_proxies = trusted_proxies(getattr(self.settings, "trusted_proxies", ""))

    def readiness(self) -> dict[str, Any]:
        """What /readyz adds to a ready answer (the gateway: which replicas of each service are up)."""
        return {}


@dataclass(eq=False)
class ServiceState(ProcessState):
    """A service's state: its database, the keys of its sensitive fields, its files and its lookups
    of other services' records. Built by every service's create_app the same way:

        state = ServiceState(settings, AuditLog, metadata=Base.metadata, name="haolin-cases",
                             files="cases", write_guard=write_guard(Station))
        async with state.running(transports.get("gateway")): ...   # the lifespan
    """

    # The service's tables (its models' MetaData), whose sealed columns take the service's cipher.
    metadata: Any = None
    name: str = ""  # the database connections' application_name
    files: str = ""  # the attachments' namespace of STORAGE_URL
    write_guard: str | None = None
    # Whether the service keeps values it must find again (ID numbers, phones): their blind index
    # and the create digests' key (shared.records.Vault). Without it, only the cipher.
    with_vault: bool = True
    # The schema whose rollup by ancestor this process folds in the background (shared.rollup.fold).
    rollup: str | None = None
    # The service whose abandoned prepared push parts this process rolls back (shared.prepared.sweep).
    prepared: str | None = None
    # Where the figure reads go: the standby of READ_DATABASE_URL, or the primary (shared/standby.py).
    figures: FigureReads | None = None
    cipher: FieldCipher | None = None
    vault: Vault | None = None
    lookup: Lookup | None = None
    attachments: AttachmentFiles | None = None

    @asynccontextmanager
    async def running(self, gateway: httpx.AsyncBaseTransport | None = None) -> AsyncIterator[None]:
        """The lifespan: everything opened, then closed in the reverse order. `gateway` replaces
        the network to the gateway (tests wire in-process apps)."""
        settings: ResourceSettings = self.settings
        # write_guard: writes and station moves take turns (shared.stations)
        self.db = await Database.start(settings, self.name, write_guard=self.write_guard)
        self.figures = FigureReads.open(self.db, settings.read_database_url, settings, self.name)
        self.verifier = TokenVerifier(settings.public_key_pem(), settings.jwt_issuer, settings.jwt_audience)
        if self.with_vault:
            self.vault = Vault.from_settings(settings)
            self.cipher = self.vault.cipher
        else:
            self.cipher = Vault.cipher_of(settings)
        if self.metadata is not None:
            crypto.bind(self.metadata, self.cipher)
        # References to other services' records are checked with their owners (shared/contracts/lookup/).
        self.lookup = build_lookup(settings, gateway)
        self.attachments = AttachmentFiles.open(settings, self.files, self.cipher)
        await self.attachments.start()
        background = []
        if self.rollup is not None:
            background.append(asyncio.create_task(rollup.keep_folding(
                asyncpg_dsn(settings.database_url), self.rollup, self.name), name=f"fold-{self.rollup}"))
        if self.prepared is not None:
            background.append(asyncio.create_task(prepared.keep_sweeping(
                asyncpg_dsn(settings.database_url), self.prepared, self.name, settings.sync_prepared_ttl_s),
                name=f"sweep-{self.prepared}"))
        try:
            yield
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.attachments.close()
            await self.lookup.aclose()
            await self.figures.dispose()
            await self.db.dispose()
