"""The gateway's per-request lookups on the raw read pool (shared/db.py), no ORM.

Every authenticated request resolves its caller's live account and station, and a dashboard
poll also the station it asks about, before the answer cache is even consulted. Through the
ORM those two lookups were about 45% of the gateway's CPU per 304 poll (py-spy,
docs/performance.md); here each is one constant SELECT, prepared once per pooled connection,
and run only on a miss of the process's notified caches (gateway/identity/live.py).
"""

from __future__ import annotations

from asyncpg import Pool

from gateway.models import Station, User
from shared.scope import sql_name


ACTOR = (f"SELECT u.role, u.display_name, u.disabled_at IS NULL AS active, u.token_generation, "
         f"s.id AS station_id, s.path "
         f"FROM {sql_name(User.__table__)} u JOIN {sql_name(Station.__table__)} s ON s.id = u.station_id "
         f"WHERE u.id = $1")
STATION = f"SELECT id, parent_id, path, kind, name, code, deleted_at FROM {sql_name(Station.__table__)} WHERE id = $1"


async def actor(pool: Pool, user_id: int):
    """The account's role, name, token generation and station, or None when there is no such account."""
    return await pool.fetchrow(ACTOR, user_id)


async def station(pool: Pool, station_id: int) -> Station | None:
    """The station, deleted or not, as a detached Station (read only: never added to a session);
    the scope is checked by its caller (gateway.identity.live.LiveStations)."""
    row = await pool.fetchrow(STATION, station_id)
    return Station(**dict(row)) if row is not None else None
