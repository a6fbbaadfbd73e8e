"""Which service owns which synced table, and the sync schema's version history.

Asked of the services (shared.contracts.sync) once and kept for the gateway's life: the
tables a service syncs change only with a new release of it, which restarts the gateway's
view too (a deploy restarts every process).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from gateway.upstream import Upstreams
from gateway.upstream.clients import SERVICES
from shared.auth import TokenSigner
from shared.contracts.calls import Service, services
from shared.contracts.sync import client as sync_contract
from shared.contracts.sync.client import SyncUnavailable

__all__ = ["Registry", "SyncUnavailable", "Table", "registry"]


@dataclass(frozen=True)
class Table:
    name: str
    service: str
    since: int
    columns: tuple[dict, ...]
    columns_since: dict[str, int]

    def added_after(self, version: int, up_to: int) -> bool:
        """Was the table, or any of its columns, added after schema `version` and by `up_to` (the schema a
        migrating tablet moves to: what later versions add, it does not have)?"""
        return version < self.since <= up_to or any(version < v <= up_to for v in self.columns_since.values())


@dataclass(frozen=True)
class Registry:
    tables: tuple[Table, ...]
    # The services that can hold their part of a push prepared (shared.prepared): a push across
    # services all of which can is written once; otherwise each dry-runs first.
    two_phase: frozenset[str] = frozenset()

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

    async def ask(service: Service) -> tuple[list[Table], bool]:
        told = await sync_contract.schema(service, upstreams.timeout_s)
        return [Table(name=t.name, service=service.name, since=t.since, columns=tuple(t.columns),
                      columns_since=t.columns_since) for t in told.tables], told.two_phase

    asked = services(upstreams, signer, SERVICES)
    answers = await asyncio.gather(*(ask(asked[s]) for s in SERVICES))
    found = Registry(tables=tuple(t for tables, _ in answers for t in tables),
                     two_phase=frozenset(s for s, (_, can) in zip(SERVICES, answers) if can))
    state.sync_registry = found
    return found
