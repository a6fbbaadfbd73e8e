"""The gateway's side: one process's audit rows, or None when it did not answer (then `degraded`)."""

from __future__ import annotations

import logging

from shared.contracts.audit.schemas import AuditEntry, AuditPage, AuditQuery
from shared.contracts.calls import Service, or_none

log = logging.getLogger("haolin.gateway.audit")
PATH = "/internal/audit"


async def _page(service: Service, query: AuditQuery) -> list[AuditEntry]:
    r = await service.http.get(PATH, params=query.params(), headers=service.headers())
    r.raise_for_status()
    return AuditPage.model_validate_json(r.content).items


async def audit(service: Service, query: AuditQuery, timeout_s: float) -> list[AuditEntry] | None:
    return await or_none(_page(service, query), service.name, "audit", log, timeout_s)
