"""Records that left a station's subtree, so that the tablets there are told to delete them.

A pull serves the rows of the device's subtree changed since its last pull (shared.sync). A record
that moves to a station outside that subtree (a person transferred to another township) changes,
but is no longer under the old path, so no pull of the old station's tablets would ever mention it
again and they would keep it. A service that moves records writes one `sync_departure` row per
record and old station (`depart`); an incremental pull under that station serves it as a deletion
(`departed_sql`), unless the record is back in the subtree, where it is served as a row.

`change_xid` (xid8, set by its default on insert, not mapped, as on record tables) is the sync
marker: departures are read in the same [since, cursor) window as the records.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Identity, String, func, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.models import PathType
from shared.scope import sql_name, sql_under


def departure_model(base: type[DeclarativeBase]):
    """The service's `sync_departure` model (its migration adds change_xid)."""

    class SyncDeparture(base):
        __tablename__ = "sync_departure"
        id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
        table_name: Mapped[str] = mapped_column(String(40))
        record_id: Mapped[str] = mapped_column(String(64))
        # The station the record left, as every path table (rewritten when that station moves).
        station_id: Mapped[int] = mapped_column(BigInteger, index=True)
        station_path: Mapped[str] = mapped_column(PathType)
        departed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    return SyncDeparture


async def depart(session: AsyncSession, model, table_name: str, record_ids: list[str], station_id: int,
                 station_path: str) -> None:
    """`record_ids` of the synced table `table_name` have left the station at `station_path`."""
    if record_ids:
        await session.execute(insert(model), [
            {"table_name": table_name, "record_id": rid, "station_id": station_id, "station_path": station_path}
            for rid in record_ids])


def departed_sql(model, table) -> str:
    """The SQL of the ids a pull serves as deletions: records of `table` (the synced ORM model) that
    left the subtree whose LIKE pattern is $1 in the pull's window, change_xid in [$3, $2) (xid8 as
    text), and are not in it now (one that came back is served as a row, by the pull's own query,
    never as both); $4 is the synced table's name."""
    d, t = sql_name(model.__table__), sql_name(table.__table__)
    return (f"SELECT d.record_id FROM {d} d WHERE d.table_name = $4 AND {sql_under(1, 'd')} "
            f"AND d.change_xid < CAST($2::text AS xid8) AND d.change_xid >= CAST($3::text AS xid8) "
            f"AND NOT EXISTS (SELECT 1 FROM {t} t WHERE t.id = d.record_id AND {sql_under(1, 't')}) "
            f"GROUP BY d.record_id ORDER BY min(d.change_xid), d.record_id")
