"""The gateway's per-request lookups on the raw read pool (shared/db.py), no ORM.

Every authenticated request resolves its caller's live account and station, and a dashboard
poll also the station it asks about, before the answer cache is even consulted. Through the
ORM those two lookups were about 45% of the gateway's CPU per 304 poll (py-spy,
docs/performance.md); here each is one constant SELECT, prepared once per pooled connection,
and run only on a miss of the process's notified caches (gateway/identity/live.py).

A tablet's sync request reads its device and station, and the cursor of the timestamp it sent, the
same way (about a fifth of the gateway's CPU per sync through the ORM, bench scenario 8). The device
is read on every request, never cached: a revoked tablet is refused by every gateway at once, not
when a notification arrives. A pull's timestamp is written here too, as one statement.
"""

from __future__ import annotations

from asyncpg import Pool

from gateway.models import Device, Station, SyncCursor, User
from shared.scope import sql_name


ACTOR = (f"SELECT u.role, u.display_name, u.disabled_at IS NULL AS active, u.token_generation, "
         f"s.id AS station_id, s.path "
         f"FROM {sql_name(User.__table__)} u JOIN {sql_name(Station.__table__)} s ON s.id = u.station_id "
         f"WHERE u.id = $1")
DEVICE = (f"SELECT d.id, d.station_id, d.name, d.secret_hash, d.revoked_at, s.parent_id, s.path, s.kind, "
          f"s.name AS station_name, s.code, s.deleted_at "
          f"FROM {sql_name(Device.__table__)} d JOIN {sql_name(Station.__table__)} s ON s.id = d.station_id "
          f"WHERE d.id = $1")
SYNC_CURSOR = f"SELECT cursors FROM {sql_name(SyncCursor.__table__)} WHERE id = $1 AND device_id = $2"
# A pull's timestamp for a device: the new cursor row, the device's older rows beyond the newest `$4`
# dropped, and the device's last sync, in one statement. Its parts share one snapshot, so the DELETE
# does not see the row it is inserted with: it keeps the newest `$4 - 1` of the rows before.
RECORD_PULL = (f"WITH made AS (INSERT INTO {sql_name(SyncCursor.__table__)} (device_id, cursors, schema_version) "
               f"VALUES ($1, $2, $3) RETURNING id), "
               f"dropped AS (DELETE FROM {sql_name(SyncCursor.__table__)} WHERE device_id = $1 AND id < ("
               f"SELECT id FROM {sql_name(SyncCursor.__table__)} WHERE device_id = $1 "
               f"ORDER BY id DESC OFFSET $4::int - 2 LIMIT 1)), "
               f"synced AS (UPDATE {sql_name(Device.__table__)} SET last_sync_at = now() WHERE id = $1) "
               f"SELECT id FROM made")
STATION = f"SELECT id, parent_id, path, kind, name, code, deleted_at FROM {sql_name(Station.__table__)} WHERE id = $1"


async def actor(pool: Pool, user_id: int):
    """The account's role, name, token generation and station, or None when there is no such account."""
    return await pool.fetchrow(ACTOR, user_id)


async def station(pool: Pool, station_id: int) -> Station | None:
    """The station, deleted or not, as a detached Station (read only: never added to a session);
    the scope is checked by its caller (gateway.identity.live.LiveStations)."""
    row = await pool.fetchrow(STATION, station_id)
    return Station(**dict(row)) if row is not None else None


async def device(pool: Pool, device_id: int) -> tuple[Device, Station] | None:
    """The device, revoked or not, and its station, deleted or not, as detached objects (read only:
    never added to a session); the credential and liveness are checked by the caller
    (gateway.identity.service.devices.authenticate)."""
    row = await pool.fetchrow(DEVICE, device_id)
    if row is None:
        return None
    return (Device(id=row["id"], station_id=row["station_id"], name=row["name"], secret_hash=row["secret_hash"],
                   revoked_at=row["revoked_at"]),
            Station(id=row["station_id"], parent_id=row["parent_id"], path=row["path"], kind=row["kind"],
                    name=row["station_name"], code=row["code"], deleted_at=row["deleted_at"]))


async def sync_cursors(pool: Pool, timestamp: int, device_id: int) -> dict[str, str] | None:
    """Each service's cursor at the pull that gave this device `timestamp`; None if it gave none."""
    return await pool.fetchval(SYNC_CURSOR, timestamp, device_id)


async def record_pull(pool: Pool, device_id: int, cursors: dict[str, str], schema_version: int, keep: int) -> int:
    """The `timestamp` of a pull that ended at `cursors`: a new SyncCursor row, with the device's newest
    `keep` (at least 2) kept and its last sync set, as one autocommit statement on the primary
    (`pool` is the gateway's own database). Neither write is audited (gateway/models.py)."""
    return await pool.fetchval(RECORD_PULL, device_id, cursors, schema_version, keep)
