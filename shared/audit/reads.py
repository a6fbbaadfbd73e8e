"""Reads of sensitive records, logged by the handler that serves them before the answer goes out:
a read by id in the very statement that reads the record (`audited_read`), a list in a statement
of its own (`log_reads`). A read whose audit row cannot be written fails."""

from __future__ import annotations

from fastapi import Request

from shared.audit.listener import actor_of
from shared.audit.model import LOG_COLUMNS, READ
from shared.principals import Principal




def _insert_reads_sql(table) -> str:
    return (f'INSERT INTO "{table.schema}"."{table.name}" ({LOG_COLUMNS}) '
            "SELECT $1, $2, $3, $4, $5, $6, 'read', $7, r.id, r.path "
            "FROM unnest($8::text[], $9::text[]) AS r(id, path)")


def read_actor(request: Request, principal: Principal | None = None) -> tuple:
    """The actor's six values, in the order `audited_read` takes them."""
    a = actor_of(request, principal)
    return a.user_id[:64], a.role[:16], a.device_id, a.address, a.request_id, a.operation


def audited_read(select_sql: str, log_table, record_table: str, first_param: int) -> str:
    """`select_sql` (a read of one record, with `id` and `station_path` columns) as one statement
    that also logs the read: the hot path keeps its single round trip, and a record found is a
    record logged. Parameters first_param... are `read_actor(request)`."""
    p = ", ".join(f"${first_param + i}" for i in range(6))
    return (f"WITH found AS ({select_sql}), logged AS ("
            f'INSERT INTO "{log_table.schema}"."{log_table.name}" ({LOG_COLUMNS}) '
            f"SELECT {p}, 'read', '{record_table}', found.id, found.station_path FROM found "
            f"WHERE found.id IS NOT NULL) SELECT * FROM found")


async def log_reads(request: Request, table: str, records: list[tuple[str, str | None]],
                    principal: Principal | None = None) -> None:
    """Log that the caller (or `principal`) was shown these records (id, station path) of `table`."""
    if not records:
        return
    app = request.app
    model = app.state.audit_log
    db = app.state.db
    if db.read_pool is not None:
        await db.read_pool.execute(_insert_reads_sql(model.__table__), *read_actor(request, principal), table,
                                   [str(r[0]) for r in records], [r[1] for r in records])
        return
    who = actor_of(request, principal).row()
    async with db.engine.begin() as conn:
        await conn.execute(model.__table__.insert(), [
            {**who, "action": READ, "record_table": table, "record_id": str(r[0]), "station_path": r[1]}
            for r in records])
