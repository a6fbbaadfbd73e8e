"""GET /internal/audit, mounted by every process with its audit table."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from shared.contracts.audit.schemas import AuditEntry, AuditPage, is_root
from shared.principals import ServicePrincipalDep
from shared.scope import like_prefix, sql_under


def internal_audit_router(log_model: type) -> APIRouter:
    """GET /internal/audit: this process's audit rows, newest first, for the gateway's /v1/audit.

    `before` and `before_id` continue a merged listing: rows strictly before (before, before_id)
    in the order (at, id) descending."""
    router = APIRouter(prefix="/internal/audit", tags=["internal"], include_in_schema=False)
    table = log_model.__table__
    columns = ", ".join(AuditEntry.model_fields)

    @router.get("", response_model=AuditPage)
    async def audit(request: Request, _: ServicePrincipalDep,
                    station_path: Annotated[str, Query(max_length=255)] = "/",
                    record_table: Annotated[str | None, Query(max_length=40)] = None,
                    record_id: Annotated[str | None, Query(max_length=64)] = None,
                    actor_id: Annotated[str | None, Query(max_length=64)] = None,
                    before: datetime | None = None,
                    before_id: Annotated[int | None, Query(ge=0)] = None,
                    limit: Annotated[int, Query(ge=1, le=500)] = 50) -> AuditPage:
        # Rows tied to no station (platform-wide codes, sign-ins before a station is known) are the
        # root's to read: an admin of a part of the tree reads that part only.
        where = [f"({sql_under(1)} OR station_path IS NULL)" if is_root(station_path) else sql_under(1)]
        args: list[Any] = [like_prefix(station_path)]
        for column, value in (("record_table", record_table), ("record_id", record_id), ("actor_id", actor_id)):
            if value is not None:
                args.append(value)
                where.append(f"{column} = ${len(args)}")
        if before is not None:
            args.append(before)
            args.append(before_id if before_id is not None else 0)
            where.append(f"(at, id) < (${len(args) - 1}, ${len(args)})")
        args.append(limit)
        sql = (f'SELECT {columns} FROM "{table.schema}"."{table.name}" WHERE {" AND ".join(where)} '
               f"ORDER BY at DESC, id DESC LIMIT ${len(args)}")
        rows = await request.app.state.db.read_pool.fetch(sql, *args)
        return AuditPage(items=[AuditEntry(**dict(r)) for r in rows])

    return router
