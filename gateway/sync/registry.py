"""Which service owns which synced table, and the sync schema's version history.

Asked of the services (/internal/sync/schema) once and kept for the gateway's life: the
tables a service syncs change only with a new release of it, which restarts the gateway's
view too (a deploy restarts every process).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from gateway.upstream import Upstreams
from gateway.upstream.clients import SERVICES
from shared.auth import TokenSigner
from shared.errors import AppError


class SyncUnavailable(AppError):
    status_code, title, type = 503, "Sync unavailable", "sync-unavailable"


@dataclass(frozen=True)
class Table:
    name: str
    service: str
    since: int
    columns: tuple[dict, ...]
    columns_since: dict[str, int]

    def added_after(self, version: int) -> bool:
        """Was the table, or any of its columns, added after schema `version`?"""
        return self.since > version or any(v > version for v in self.columns_since.values())


@dataclass(frozen=True)
class Registry:
    tables: tuple[Table, ...]

    @property
    def version(self) -> int:
        return max([1, *(t.since for t in self.tables), *(v for t in self.tables for v in t.columns_since.values())])

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)

    def of(self, service: str, schema_version: int | None = None) -> list[Table]:
        return [t for t in self.tables if t.service == service
                and (schema_version is None or t.since <= schema_version)]

    def describe(self, version: int | None = None) -> dict:
        """The schema as of `version` (default: the newest), in WatermelonDB's appSchema terms."""
        version = version or self.version
        tables = []
        for t in self.tables:
            if t.since > version:
                continue
            columns = [c for c in t.columns if t.columns_since.get(c["name"], 1) <= version]
            tables.append({"name": t.name, "columns": columns, "since": t.since})
        return {"version": version, "tables": tables}


async def registry(state) -> Registry:
    found = getattr(state, "sync_registry", None)
    if found is not None:
        return found
    upstreams: Upstreams = state.upstreams
    signer: TokenSigner = state.signer
    headers = {"Authorization": f"Bearer {signer.service_token()}"}

    async def ask(service: str) -> list[Table]:
        try:
            async with asyncio.timeout(upstreams.timeout_s):
                r = await upstreams.client(service).get("/internal/sync/schema", headers=headers)
            r.raise_for_status()
        except Exception:
            raise SyncUnavailable(f"The {service} service did not answer; try again later.", service=service) from None
        return [Table(name=t["name"], service=service, since=t["since"], columns=tuple(t["columns"]),
                      columns_since=t["columns_since"]) for t in r.json()["tables"]]

    found = Registry(tables=tuple(t for tables in await asyncio.gather(*(ask(s) for s in SERVICES)) for t in tables))
    state.sync_registry = found
    return found
