"""The lean write path of service records, the records written most (issue 20): prepared asyncpg
statements on the request's own transaction (shared.db.raw_connection), one statement per step
whatever the number of records, where the ORM path (service.records.create) runs about ten per
record. The rules they serve are the ORM path's, in service/records.py; this module holds only
their statements. Each is a constant string, so asyncpg prepares it once per connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import asyncpg

from services.cases.models import Beneficiary, Case, ServiceRecord, Transfer
from services.cases.schemas.records import ServiceRecordRead
from services.cases.schemas.transfers import ACCEPTED
from shared.crypto import open_row
from shared.principals import Principal
from shared.records import IdInUse
from shared.repository import claim_ids as claim_any
from shared.repository import insert_params
from shared.scope import like_prefix, sql_live_under, sql_name

_RECORDS = ServiceRecord.__table__
# The columns a create writes; the rest are the table's defaults (timestamps, no tombstone) and
# the change marker its trigger sets, as for an ORM insert.
COLUMNS = ("id", "case_id", "station_id", "station_path", "beneficiary_id", "served_on", "mode", "duration_minutes",
           "content", "service_type", "resources_yuan", "person_times", "worker_id", "populations", "create_digest",
           "created_by", "updated_by", "version", "review")
_READ = ", ".join(f'"{n}"' for n in ServiceRecordRead.model_fields) + ", station_path"

# The cases the records go to, live in the caller's subtree, locked as the ORM path's CaseForUpdateDep
# locks one (in id order: two pushes naming the same cases lock them in the same order), with what a
# service record takes from its person: populations (the case's when the person is gone) and number.
_CASES = (f'SELECT c.id, c.station_id, c.station_path, c.beneficiary_id, c.populations, c.opened_on, '
          f'b.id IS NOT NULL AS has_beneficiary, b.populations AS beneficiary_populations, b.person_no '
          f'FROM {sql_name(Case.__table__)} c LEFT JOIN {sql_name(Beneficiary.__table__)} b ON b.id = c.beneficiary_id '
          f'WHERE c.id IN (SELECT unnest($1::text[])) AND {sql_live_under(2, "c")} ORDER BY c.id FOR UPDATE OF c')

# Cases a transfer filed in the caller's subtree took out of it (services.cases.repository.transfers.departed
# for a person), seen from the station they left: a record a tablet made there offline, before it
# heard of the move, was given there and is filed there. Locked like the cases in reach.
_DEPARTED = (f'SELECT c.id, t.station_id, t.station_path, c.beneficiary_id, c.populations, c.opened_on, '
             f'b.id IS NOT NULL AS has_beneficiary, b.populations AS beneficiary_populations, b.person_no '
             f'FROM {sql_name(Case.__table__)} c '
             f'CROSS JOIN LATERAL (SELECT t.station_id, t.station_path FROM {sql_name(Transfer.__table__)} t '
             f"  WHERE c.id = ANY(t.case_ids) AND t.status = '{ACCEPTED}' AND {sql_live_under(2, 't')} "
             f'  ORDER BY t.transferred_on DESC, t.decided_at DESC LIMIT 1) t '
             f'LEFT JOIN {sql_name(Beneficiary.__table__)} b ON b.id = c.beneficiary_id '
             f'WHERE c.id IN (SELECT unnest($1::text[])) AND c.deleted_at IS NULL ORDER BY c.id FOR UPDATE OF c')

# Ids as `IN (SELECT unnest(...))`, not `= ANY(...)`: PostgreSQL 18 plans the latter, for many ids not
# stored yet, as a skip scan of the (change_xid, id) index, 15 times slower (shared.sync._id_in).

_INSERT = (f"INSERT INTO {sql_name(_RECORDS)} ({', '.join(COLUMNS)}) "
           f"VALUES ({', '.join(f'${i + 1}' for i in range(len(COLUMNS)))})")
_INSERT_RETURNING = f"{_INSERT} RETURNING {_READ}"
_BY_ID = f"SELECT {_READ} FROM {sql_name(_RECORDS)} WHERE id = $1"


@dataclass(frozen=True)
class CaseRow:
    """A case as a service record's create needs it (service.records reads the same names off an ORM Case)."""

    id: str
    station_id: int
    station_path: str
    beneficiary_id: str
    populations: list[str]
    opened_on: date
    has_beneficiary: bool
    beneficiary_populations: list[str] | None
    person_no: int | None


async def lock_cases(conn: asyncpg.Connection, principal: Principal, case_ids: list[str]) -> dict[str, CaseRow]:
    """The live cases among `case_ids` in the principal's subtree, locked until the transaction ends."""
    rows = await conn.fetch(_CASES, sorted(set(case_ids)), like_prefix(principal.station_path))
    return {r["id"]: CaseRow(**r) for r in rows}


async def departed_cases(conn: asyncpg.Connection, principal: Principal, case_ids: list[str]) -> dict[str, CaseRow]:
    """Of `case_ids`, the live cases moved out of the principal's subtree by a transfer filed in it, each
    as at the station it left (see _DEPARTED), locked until the transaction ends."""
    rows = await conn.fetch(_DEPARTED, sorted(set(case_ids)), like_prefix(principal.station_path))
    return {r["id"]: CaseRow(**r) for r in rows}


async def claim_ids(conn: asyncpg.Connection, record_ids: list[str]) -> dict[str, asyncpg.Record]:
    """Hold the client ids (shared.repository.get_any's locks: a retry racing its original waits for it,
    then finds its row) and answer the rows that have them already: id -> (create_digest, station_path,
    deleted_at), what shared.records.replay decides by."""
    return await claim_any(conn, _RECORDS, record_ids, "id, create_digest, station_path, deleted_at")


# A create's values as the INSERT's parameters, bound as the ORM binds them (the sealed content encrypted).
sealed = insert_params(_RECORDS, COLUMNS)


async def insert_one(conn: asyncpg.Connection, params: tuple) -> dict:
    """One record, answered as the Read schema shows it (sealed columns opened)."""
    try:
        row = await conn.fetchrow(_INSERT_RETURNING, *params)
    except asyncpg.UniqueViolationError:
        raise IdInUse() from None
    return open_row(_RECORDS, row)


async def insert_many(conn: asyncpg.Connection, params: list[tuple]) -> None:
    """Records in one pipelined round trip (asyncpg's executemany)."""
    try:
        await conn.executemany(_INSERT, params)
    except asyncpg.UniqueViolationError:
        raise IdInUse() from None


async def read_one(conn: asyncpg.Connection, record_id: str) -> dict:
    """A record a retried create made already, as `insert_one` answers it."""
    return open_row(_RECORDS, await conn.fetchrow(_BY_ID, record_id))
