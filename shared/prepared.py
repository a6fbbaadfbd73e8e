"""A push across two services written once: the earlier service's part held as a PostgreSQL
prepared transaction until the later one has written its own (two-phase commit).

Before, the gateway had every service dry-run its part (write, then roll back) and then write it
again: the morning sync storm's pushes (a new person and their case in the cases service, their
attendance in the projects service) did each service's work twice (docs/performance.md). Now the
gateway asks the first service to `PREPARE TRANSACTION` its write under a name the gateway chose;
the transaction's rows are written and locked but seen by nobody. The last service writes and
commits its part, relying on what the first described (`SyncTable.provides`, as a dry run's did);
then the gateway commits the prepared part, or rolls it back when the last service refused. So a
refused push still writes nothing, and an accepted one is written once.

A prepared transaction outlives the connection and the process that made it, and keeps its locks
until someone ends it. If the gateway dies between the two phases, nobody will: every service
process rolls back its own (named `haolin-push-<service>-...`) once it is older than
SYNC_PREPARED_TTL_S, which must exceed the gateway's GATEWAY_SYNC_PUSH_TIMEOUT_S. Such a push is
then half written (the later service's part only); the tablet, told to retry, converges, as after
any failure between two services (gateway/sync/api.py).

It needs `max_prepared_transactions` above 0 (PostgreSQL's default is 0; ops/pg.py sets it for
the embedded server). A service whose server has none says so in its sync schema, and the gateway
keeps the dry run for pushes that involve it.
"""

from __future__ import annotations

import logging
import re

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from shared import background
from shared.db import raw_connection

log = logging.getLogger("haolin.prepared")

_NAME = re.compile(r"^haolin-push-([a-z]+)-[0-9a-f]{32}$")
SWEEP_EVERY_S = 10.0


def owner(name: str) -> str | None:
    """The service a prepared transaction's name says it belongs to, or None for a name that is not one."""
    found = _NAME.match(name)
    return found.group(1) if found else None


def name_for(service: str, token: str) -> str:
    """`token`: 32 hex digits the gateway draws for the push (uuid4().hex)."""
    name = f"haolin-push-{service}-{token}"
    if owner(name) != service:
        raise ValueError("not a prepared push's name")
    return name


async def enabled(conn: asyncpg.Connection) -> bool:
    """Can this server hold prepared transactions at all?"""
    return int(await conn.fetchval("SELECT current_setting('max_prepared_transactions')::int")) > 0


async def prepare(session: AsyncSession, name: str) -> None:
    """End the session's transaction as a prepared one named `name` (checked: it is written into the
    statement, which takes no parameters). What the session then commits is nothing.

    Sent as a simple query on the driver's connection: a statement that differs every time would
    fill SQLAlchemy's compiled cache and asyncpg's prepared statements with one-offs."""
    if owner(name) is None:
        raise ValueError("not a prepared push's name")
    conn = await raw_connection(session)
    await conn.execute(f"PREPARE TRANSACTION '{name}'")


async def finish(conn: asyncpg.Connection, name: str, commit: bool) -> bool:
    """COMMIT or ROLLBACK PREPARED `name` on `conn` (outside any transaction). False if there is no such
    prepared transaction (already ended: committed, rolled back, or swept)."""
    if owner(name) is None:
        return False
    try:
        await conn.execute(f"{'COMMIT' if commit else 'ROLLBACK'} PREPARED '{name}'")
    except asyncpg.UndefinedObjectError:
        return False
    return True


async def sweep(conn: asyncpg.Connection, service: str, older_than_s: float) -> list[str]:
    """Roll back this service's prepared pushes older than `older_than_s`: their gateway is gone."""
    names = [r["gid"] for r in await conn.fetch(
        "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND starts_with(gid, $1) "
        "AND prepared < now() - make_interval(secs => $2)", f"haolin-push-{service}-", older_than_s)]
    swept = [name for name in names if owner(name) == service and await finish(conn, name, commit=False)]
    if swept:
        log.warning("sync push: rolled back %d prepared part(s) of the %s service left by a gateway that "
                    "did not finish them; those pushes are half written until their tablets retry", len(swept), service)
    return swept


async def keep_sweeping(dsn: str, service: str, application_name: str, older_than_s: float,
                        every_s: float = SWEEP_EVERY_S) -> None:
    """`sweep` every `every_s` (shared.background), until cancelled; a failure is logged by its type
    and tried again."""
    await background.every(dsn, f"{application_name}-sweep", every_s,
                           lambda conn: sweep(conn, service, older_than_s),
                           background.logged(log, "sync push: sweeping prepared parts of %s failed (%s)", service))
