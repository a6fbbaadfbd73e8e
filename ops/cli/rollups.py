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
from shared.rollup import drift_sql, rebuild_sql

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
                        f"SELECT DISTINCT metric FROM {schema}.ancestor_stat ORDER BY 1")]
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
        for schema, r in drifting[:SHOWN]:
            console.print(f"{schema}: station {r['node_id']} {'day' if r['grain'] == 'd' else 'month'} "
                          f"{r['period']} {r['metric']} {r['population']}: kept {r['kept']}, "
                          f"counted {r['counted']}", highlight=False)
        if drifting:
            stations = sorted({r["node_id"] for _, r in drifting})
            console.print(f"drift: {len(drifting)} row(s) at {len(stations)} station(s); "
                          "repair with `haolin rollups rebuild`", highlight=False)
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
                        rows = await conn.fetchval(
                            f"SELECT count(*) FROM {schema}.ancestor_stat"
                            + ("" if path is None else " WHERE node_id = $1"), *(() if path is None else (station,)))
                    console.print(f"{schema}: rebuilt" + ("" if path is None else f" station {station} ({path}) and "
                                                          "below") + f", {rows} row(s)"
                                  + ("" if path is None else " at the station itself"), highlight=False)
                finally:
                    await conn.close()
                bar.advance(task)
        if not found:
            raise CliError(f"No station {station} in any service's replica.")

    run(work)
