"""The gateway's per-request lookups on the raw read pool (shared/db.py), no ORM.

Every authenticated request resolves its caller's live account and station, and a dashboard
poll also the station it asks about, before the answer cache is even consulted. Through the
ORM those two lookups were about 45% of the gateway's CPU per 304 poll (py-spy,
docs/performance.md); here each is one constant SELECT, prepared once per pooled connection.
The scope is shared.scope's, in its raw SQL form.
"""

from __future__ import annotations

from asyncpg import Pool

from gateway.models import Station, User
from shared.scope import like_prefix, sql_live_under, sql_name


ACTOR = (f"SELECT u.role, u.display_name, u.disabled_at IS NULL AS active, u.token_generation, "
         f"s.id AS station_id, s.path "
         f"FROM {sql_name(User.__table__)} u JOIN {sql_name(Station.__table__)} s ON s.id = u.station_id "
         f"WHERE u.id = $1")
STATION_IN_SCOPE = (f"SELECT id, parent_id, path, kind, name, code FROM {sql_name(Station.__table__)} "
                    f"WHERE id = $1 AND {sql_live_under(2, path_column='path')}")


async def actor(pool: Pool, user_id: int):
    """The account's role, name, token generation and station, or None when there is no such account."""
    return await pool.fetchrow(ACTOR, user_id)


async def station_in_scope(pool: Pool, station_id: int, scope_path: str) -> Station | None:
    """A live station inside the subtree, as a detached Station (read only: never added to a session)."""
    row = await pool.fetchrow(STATION_IN_SCOPE, station_id, like_prefix(scope_path))
    return Station(**dict(row)) if row is not None else None
