"""GET /v1/audit: an administrator's view of the audit logs of every process, newest first.

The gateway asks each process for its rows (shared.contracts.audit, the service token) and merges
them by time; it never reads a service's tables. A page continues with `cursor`: the last row's
(time, process, id), from which each process answers only later-ordered rows, so a page is
exact however the processes' rows interleave. A process that does not answer is named in
`degraded`: its rows are missing from the page, never silently.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import select, tuple_

from gateway.models import AuditLog
from gateway.deps import ActorDep, ReadSessionDep
from gateway.upstream import Upstreams
from gateway.upstream.clients import SERVICES
from gateway.audit.cursor import decode_cursor, encode_cursor
from shared.contracts.audit.schemas import AuditEntry, is_root
from shared.principals import Role
from shared.contracts.audit.client import audit as ask_audit
from shared.contracts.audit.schemas import AuditQuery
from shared.contracts.calls import services
from shared.errors import Forbidden, InvalidInput
from shared.scope import under

router = APIRouter(prefix="/v1/audit", tags=["audit"])

GATEWAY = "gateway"
SOURCES = (GATEWAY, *SERVICES)
MAX_ID = 2**63 - 1


class AuditItem(AuditEntry):
    service: str


class AuditList(BaseModel):
    items: list[AuditItem]
    next_cursor: str | None = None
    degraded: list[str] = []


def _record(record: str | None) -> tuple[str | None, str | None, str | None]:
    if record is None:
        return None, None, None
    service, _, rest = record.partition(":")
    table, _, record_id = rest.partition(":")
    if service not in SOURCES or not table or not record_id:
        raise InvalidInput.field("record", f"Give <service>:<table>:<id>, service one of {', '.join(SOURCES)}.")
    return service, table, record_id


def _bound(source: str, cursor: tuple[datetime, str, int] | None) -> tuple[datetime | None, int | None]:
    """The (before, before_id) a source answers from, for rows ordered by (at, source, id) descending."""
    if cursor is None:
        return None, None
    at, last_source, last_id = cursor
    if source == last_source:
        return at, last_id
    # Same instant: a source ordered after the cursor's still has all its rows of that instant.
    return at, (MAX_ID if source < last_source else 0)


async def _own(session, station_path: str, table, record_id, actor_id, before, before_id, limit) -> list[AuditEntry]:
    placed = under(AuditLog.station_path, station_path)
    # Rows tied to no station are the root's to read (see shared.contracts.audit.server).
    stmt = select(AuditLog).where(placed | AuditLog.station_path.is_(None) if is_root(station_path) else placed)
    if table is not None:
        stmt = stmt.where(AuditLog.record_table == table, AuditLog.record_id == record_id)
    if actor_id is not None:
        stmt = stmt.where(AuditLog.actor_id == actor_id)
    if before is not None:
        stmt = stmt.where(tuple_(AuditLog.at, AuditLog.id) < tuple_(before, before_id))
    stmt = stmt.order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(limit)
    return [AuditEntry.model_validate(r, from_attributes=True) for r in await session.scalars(stmt)]


@router.get("", response_model=AuditList)
async def audit(request: Request, actor: ActorDep, session: ReadSessionDep,
                record: Annotated[str | None, Query(max_length=200,
                                                    description="<service>:<table>:<id>, e.g. cases:beneficiary:42")]
                = None,
                user_id: Annotated[str | None, Query(max_length=64, description="The actor: a user id or device:<id>")]
                = None,
                limit: Annotated[int, Query(ge=1, le=200)] = 50,
                cursor: Annotated[str | None, Query(max_length=300)] = None) -> AuditList:
    """Who read or changed what, newest first: one record's history or one user's actions (administrators only)."""
    if actor.role != Role.admin:
        raise Forbidden("Only an administrator can read the audit log.")
    service, table, record_id = _record(record)
    try:
        after = decode_cursor(cursor) if cursor else None
    except (ValueError, TypeError):
        raise InvalidInput.field("cursor", "Not a cursor this server gave.") from None
    sources = [service] if service else list(SOURCES)
    upstreams: Upstreams = request.app.state.upstreams
    asked = services(upstreams, request.app.state.signer, [s for s in sources if s != GATEWAY])

    async def ask(source: str) -> list[AuditEntry] | None:
        before, before_id = _bound(source, after)
        if source == GATEWAY:
            return await _own(session, actor.station_path, table, record_id, user_id, before, before_id, limit + 1)
        query = AuditQuery(station_path=actor.station_path, record_table=table, record_id=record_id,
                           actor_id=user_id, before=before, before_id=before_id, limit=limit + 1)
        return await ask_audit(asked[source], query, upstreams.timeout_s)

    answers = await asyncio.gather(*(ask(s) for s in sources))
    merged, degraded = [], []
    for source, rows in zip(sources, answers, strict=True):
        if rows is None:
            degraded.append(source)
            continue
        merged.extend(AuditItem(**row.model_dump(), service=source) for row in rows)
    merged.sort(key=lambda e: (e.at, e.service, e.id), reverse=True)
    page = merged[:limit]
    more = len(merged) > limit
    next_cursor = encode_cursor(page[-1].at, page[-1].service, page[-1].id) if more and page else None
    return AuditList(items=page, next_cursor=next_cursor, degraded=degraded)
