"""`haolin`: the operator's command line (docs/operations.md, "Operator CLI").

Identity commands work on the gateway's database directly (the platform may be down);
`demo` and `report` talk to a running gateway over its public API.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ops.cli import demo, reports, rollups, rosters, stations, users
from ops.cli.context import CliError, CliState, console, fail

app = typer.Typer(name="haolin", help="Haolin (好邻) operator commands.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
app.add_typer(stations.app, name="stations")
app.add_typer(users.users, name="users")
app.add_typer(users.devices, name="devices")
app.add_typer(reports.app, name="report")
app.add_typer(rosters.app, name="rosters")
app.add_typer(rollups.app, name="rollups")
app.command("demo")(demo.command)


@app.callback()
def _state(ctx: typer.Context) -> None:
    if ctx.obj is None:
        ctx.obj = CliState()


@app.command()
def migrate(
    url: Annotated[str | None, typer.Option(help="Database URL (default: DATABASE_URL, or the embedded server)")]
    = None,
) -> None:
    """Run every schema's migrations to head (safe to repeat)."""
    import os

    from ops import migrate as migrations
    from ops.cli.context import settings

    if url is None and not os.environ.get("DATABASE_URL"):
        # As `make run` does: the embedded server (started if needed) for every lineage whose own
        # <SCHEMA>_DATABASE_URL is not set.
        try:
            os.environ["DATABASE_URL"] = settings().database_url
        except CliError as exc:
            raise fail(str(exc)) from None
    migrations.upgrade_all(url)
    console.print("migrations: all lineages at head")


def main() -> None:
    app()
