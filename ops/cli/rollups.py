"""`haolin rollups verify|rebuild`: the figures' rollups by ancestor station (shared.rollup,
docs/rollups.md) checked against, and recounted from, each service's per-station rows.

They work on each service's schema directly, as the schema's owner (as `haolin migrate` does), so
they run whether the services are up or not.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from ops.cli.context import CliError, console, run
from ops.cli.stations import progress
from shared.rollup import drift_sql, live_sql, rebuild_sql

app = typer.Typer(help="The figures' rollups by ancestor station: find drift, repair it.", no_args_is_help=True)

SCHEMAS = ("cases", "projects", "volunteers")
SHOWN = 20  # drifting rows printed; the count says how many there are


def _dsn(schema: str) -> str:
    from sqlalchemy.engine import make_url

    from ops.cli.context import settings
    from ops.migrate import owner_url

    if not any(os.environ.get(n) for n in ("DATABASE_URL", "DATABASE_OWNER_URL", f"{schema.upper()}_DATABASE_URL",
                                           f"{schema.upper()}_DATABASE_OWNER_URL")):
        # As `haolin migrate` does: the embedded server (started if needed).
        os.environ["DATABASE_URL"] = settings().database_url
    url = make_url(owner_url(schema))
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@app.command("verify")
def verify() -> None:
    """Recount every service's rollup by ancestor from its per-station rows (daily_stat) and report
    each row that differs; exit 1 when any does. Reads only: safe while the platform runs."""
    import asyncpg

    async def work() -> int:
        drifting: list[tuple[str, asyncpg.Record]] = []
        with progress() as bar:
            for schema in SCHEMAS:
                conn = await asyncpg.connect(_dsn(schema))
                try:
                    # One metric at a time: a step of the bar, and a bounded recount, each.
                    metrics = [r["metric"] for r in await conn.fetch(
                        f"SELECT DISTINCT metric FROM {schema}.daily_stat UNION "
                        f"SELECT DISTINCT metric FROM ({live_sql(schema)}) AS l ORDER BY 1")]
                    task = bar.add_task(schema, total=len(metrics) or 1)
                    # A repeatable-read snapshot: a write committed mid-check is in both sides or neither.
                    async with conn.transaction(isolation="repeatable_read", readonly=True):
                        for metric in metrics:
                            drifting += [(schema, r) for r in await conn.fetch(drift_sql(schema, True), metric)]
                            bar.advance(task)
                    if not metrics:
                        bar.advance(task)
                finally:
                    await conn.close()
        sets_drifting = []
        with progress() as bar:
            for schema in SCHEMAS:
                sets_drifting += await _sets_drift(schema, bar)
        for line in sets_drifting[:SHOWN]:
            console.print(line, highlight=False)
        if sets_drifting:
            console.print(f"drift: {len(sets_drifting)} kept distinct set(s); repair with `haolin rollups rebuild`",
                          highlight=False)
        for schema, r in drifting[:SHOWN]:
            console.print(f"{schema}: station {r['node_id']} {'day' if r['grain'] == 'd' else 'month'} "
                          f"{r['period']} {r['metric']} {r['population']}: kept {r['kept']}, "
                          f"counted {r['counted']}", highlight=False)
        if drifting:
            stations = sorted({r["node_id"] for _, r in drifting})
            console.print(f"drift: {len(drifting)} row(s) at {len(stations)} station(s); "
                          "repair with `haolin rollups rebuild`", highlight=False)
            return 1
        if sets_drifting:
            return 1
        console.print("rollups: no drift", highlight=False)
        return 0

    if run(work):
        raise typer.Exit(1)


@app.command("rebuild")
def rebuild(
    station: Annotated[int | None, typer.Option(help="Only the rows of this station id and of the stations "
                                                     "below it (default: every row)")] = None,
) -> None:
    """Recount the rollups by ancestor from the per-station rows (daily_stat). Writes to the figures
    wait for it (each service's daily_stat is locked against writes while its rows are recounted)."""
    import asyncpg

    async def work() -> None:
        found = False
        with progress() as bar:
            task = bar.add_task("rebuild", total=len(SCHEMAS))
            for schema in SCHEMAS:
                conn = await asyncpg.connect(_dsn(schema))
                try:
                    path = None
                    if station is not None:
                        path = await conn.fetchval(f"SELECT path FROM {schema}.station WHERE id = $1", station)
                        if path is None:
                            bar.advance(task)
                            continue
                    found = True
                    async with conn.transaction():
                        for statement in rebuild_sql(schema, path):
                            await conn.execute(statement)
                        dropped = await _drop_sets(conn, schema, path)
                        rows = await conn.fetchval(
                            f"SELECT count(*) FROM {schema}.ancestor_stat"
                            + ("" if path is None else " WHERE node_id = $1"), *(() if path is None else (station,)))
                    console.print(f"{schema}: rebuilt" + ("" if path is None else f" station {station} ({path}) and "
                                                          "below") + f", {rows} row(s)"
                                  + ("" if path is None else " at the station itself")
                                  + (f"; {dropped} kept distinct set(s) dropped" if dropped else ""), highlight=False)
                finally:
                    await conn.close()
                bar.advance(task)
        if not found:
            raise CliError(f"No station {station} in any service's replica.")

    run(work)


async def _drop_sets(conn, schema: str, path: str | None) -> int:
    """The kept distinct sets (shared.distinct_sets) a rebuild drops: every one, or those of the station at
    `path`, of the stations below it and of those above it (their sets hold its subtree), and any stale
    one. Readers build them again when next asked."""
    if await conn.fetchval("SELECT to_regclass($1)", f"{schema}.distinct_set") is None:
        return 0
    if path is None:
        return int((await conn.execute(f"DELETE FROM {schema}.distinct_set")).split()[-1])
    from shared.distinct_sets import stale_sql

    above = [int(p) for p in path.strip("/").split("/")]
    gone = await conn.execute(f"""DELETE FROM {schema}.distinct_set WHERE node_id = ANY($1::bigint[])
                                  OR node_id IN (SELECT id FROM {schema}.station WHERE path LIKE $2 || '%')""",
                              above, path)
    stale = await conn.execute(stale_sql(schema))
    return int(gone.split()[-1]) + int(stale.split()[-1])


async def _sets_drift(schema: str, bar) -> list[str]:
    """Each kept distinct set that is current (a reader would serve it) recounted from the service's rows by
    the readers' own code, in one snapshot: a line for each that differs."""
    import importlib

    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    from shared import distinct_sets
    from shared.contracts.activity.server import _found
    from shared.persons import _sets
    from shared.stats import ALL

    models = importlib.import_module(f"services.{schema}.models")
    if not hasattr(models, "DistinctSet"):
        return []
    served = getattr(importlib.import_module(f"services.{schema}.service.counting"), "SERVED", ())
    engine = create_async_engine(make_url(_dsn(schema)).set(drivername="postgresql+asyncpg"),
                                 isolation_level="AUTOCOMMIT")
    lines = []
    try:
        async with AsyncSession(engine) as session, distinct_sets.snapshot(session):
            rows = (await session.execute(text(distinct_sets.kept_sql(schema)))).all()
            task = bar.add_task(f"{schema} sets", total=len(rows) or 1)
            for r in rows:
                end = distinct_sets.month_end(r.month)
                kind = r.kind
                kept = {ALL: distinct_sets.bitmap_of(kind, r.everyone)}
                kept.update((p, distinct_sets.bitmap_of(kind, b)) for p, b in zip(r.populations or (),
                                                                                   r.members or (), strict=True))
                if kind == distinct_sets.PERSONS:
                    counted = {p: m for p, _, _, m in await _sets(session, models.PersonDay, r.path, r.month, end,
                                                                  None, True, False)}
                elif kind == distinct_sets.VOLUNTEERS:
                    from services.volunteers.repository.stats import served_members

                    counted = {ALL: await served_members(session, r.path, r.month, end)}
                else:
                    found = await _found(session, served, r.path, r.month, end, None, False, False)
                    stations, workers = found.get((None, None, None), (set(), set()))
                    members = stations if kind == distinct_sets.STATIONS else {int(w) for w in workers}
                    counted = {ALL: members}
                kept = {p: set(m) for p, m in kept.items() if len(m)}
                counted = {p: set(m) for p, m in counted.items() if len(m)}
                if r.populations is None:  # kept for everyone only
                    counted = {p: m for p, m in counted.items() if p == ALL}
                if kept != counted:
                    lines.append(f"{schema}: station {r.node_id} month {r.month} {kind}: kept "
                                 f"{len(kept.get(ALL, ()))}, counted {len(counted.get(ALL, ()))}"
                                 + ("" if kept.get(ALL) == counted.get(ALL) else " (members differ)"))
                bar.advance(task)
            if not rows:
                bar.advance(task)
    finally:
        await engine.dispose()
    return lines
