"""Community activity queries; and beside them the statements of the lean create (issue 20:
service.activities.create_many, for REST and a tablet's push), prepared asyncpg statements on the request's
own transaction (shared.db.raw_connection), one per step whatever the number of activities. The rules are
in service/activities.py (its ORM `create` is the reference the lean one is tested against); an activity's
participants are written by the attendance statements (repository/attendance.py)."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import asyncpg

from services.projects.models import Activity, Counted
from services.projects.schemas.work import ActivityRead
from shared.crypto import open_row
from shared.principals import Principal
from shared.records import IdInUse
from shared.repository import claim_ids as claim_any
from shared.repository import insert_params, live, narrowed
from shared.scope import sql_name

_TABLE = Activity.__table__


def list_query(principal: Principal, *, station_path: str | None, project_id: str | None, kind: str | None,
               from_on: date | None, to_on: date | None):
    return narrowed(live(Activity, principal), Activity, station_path=station_path,
                    equal={"project_id": project_id, "kind": kind}, span=("held_on", from_on, to_on))


# ---------------------------------------------------------------- the lean create

# The columns a create writes; the rest are the table's defaults (timestamps, no tombstone) and the change
# marker its trigger sets, as for an ORM insert. The named count is the participants made with it.
COLUMNS = ("id", "project_id", "station_id", "station_path", "title", "kind", "place", "held_on", "starts_at",
           "ends_at", "anonymous_count", "named_count", "volunteer_ids", "resources_yuan", "photos", "notes",
           "create_digest", "created_by", "updated_by", "version")
# What the Read schema shows (person_times is computed: `read`), and the path replay decides by.
_READ = ", ".join(f'"{n}"' for n in ActivityRead.model_fields if n != "person_times") + ", station_path"

_INSERT = (f"INSERT INTO {sql_name(_TABLE)} ({', '.join(COLUMNS)}) "
           f"VALUES ({', '.join(f'${i + 1}' for i in range(len(COLUMNS)))})")
_INSERT_RETURNING = f"{_INSERT} RETURNING {_READ}"
_BY_ID = f"SELECT {_READ} FROM {sql_name(_TABLE)} WHERE id = $1"

# A create's values as the INSERT's parameters, bound as the ORM binds them (the sealed notes encrypted).
params = insert_params(_TABLE, COLUMNS)


async def claim_ids(conn: asyncpg.Connection, record_ids: list[str]) -> dict[str, asyncpg.Record]:
    """Hold the client ids (shared.repository.get_any's locks: a retry racing its original waits for it,
    then finds its row) and answer the rows that have them already: id -> (create_digest, station_path,
    deleted_at), what shared.records.replay decides by."""
    return await claim_any(conn, _TABLE, record_ids, "id, create_digest, station_path, deleted_at")


def read(row) -> dict:
    """A row as the Read schema takes it: sealed notes opened, person-times counted by models.Counted's rule."""
    out = open_row(_TABLE, row)
    out["person_times"] = Counted.person_times.fget(SimpleNamespace(**out))
    return out


async def insert_one(conn: asyncpg.Connection, values: dict) -> dict:
    """One activity, answered as `read` gives it."""
    try:
        return read(await conn.fetchrow(_INSERT_RETURNING, *params(values)))
    except asyncpg.UniqueViolationError:
        raise IdInUse() from None


async def insert_many(conn: asyncpg.Connection, rows: list[dict]) -> None:
    """Activities in one pipelined round trip (asyncpg's executemany)."""
    try:
        await conn.executemany(_INSERT, [params(values) for values in rows])
    except asyncpg.UniqueViolationError:
        raise IdInUse() from None


async def read_one(conn: asyncpg.Connection, record_id: str) -> dict:
    """An activity a retried create made already, as `insert_one` answers it."""
    return read(await conn.fetchrow(_BY_ID, record_id))
