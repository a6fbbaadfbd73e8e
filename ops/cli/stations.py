"""`haolin stations ...`: import, create and list the station tree."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.tree import Tree

from gateway.identity.schemas import StationCreate
from gateway.identity.service import stations as stations_service
from ops.cli import repository, station_import
from ops.cli.context import as_operator, console, err_console, find_station, gateway_db, run, validated

app = typer.Typer(help="The station tree (社工站体系): import from a file, create, list.", no_args_is_help=True)

KINDS = ("province", "city", "county", "township", "village")


def progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err_console, transient=False)


@app.command("import")
def import_stations(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="CSV or .xlsx; columns code, name, level, parent_code")],
) -> None:
    """Import the station tree from a file (checks every row first; writes nothing if one is bad).

    Matched by division code: importing again changes nothing, an edited name renames the station.
    """

    async def work() -> None:
        async with as_operator() as (session, actor, _):
            root = await stations_service.readable(session, actor, actor.station_id)
            try:
                plan = await station_import.plan_for(session, file, root)
                with progress() as bar:
                    task = bar.add_task("stations", total=len(plan.rows))
                    outcome = await station_import.apply(session, actor, plan, lambda: bar.advance(task))
            except station_import.BadFile as exc:
                err_console.print(f"[red]{file.name}: nothing imported[/red], {len(exc.problems)} problem(s):",
                                  highlight=False)
                for problem in exc.problems:
                    err_console.print(f"  {problem}", highlight=False, markup=False)
                raise typer.Exit(1) from None
        console.print(f"{file.name}: {outcome.created} created, {outcome.renamed} renamed, "
                      f"{outcome.unchanged} unchanged.", highlight=False)

    run(work)


@app.command("create")
def create_station(
    name: Annotated[str, typer.Option(help="e.g. 猛追湾街道社工站")],
    level: Annotated[str, typer.Option(help="province, city, county, township or village")],
    parent: Annotated[str, typer.Option(help="The parent's division code or id; 'root' for the root station")]
    = "root",
    code: Annotated[str | None, typer.Option(help="Division code (行政区划代码), 6 to 12 digits")] = None,
) -> None:
    """Create one station under a parent."""

    async def work() -> None:
        async with as_operator() as (session, actor, _):
            above = await find_station(session, parent)
            kind = station_import.LEVELS.get(level.strip().lower(), level)
            station = await stations_service.create(
                session, actor, validated(StationCreate, parent_id=above.id, kind=kind, name=name, code=code))
        console.print(f"created station {station.id} {station.name} ({station.kind}) under {above.name}",
                      highlight=False)

    run(work)


@app.command("list")
def list_stations(
    under: Annotated[str, typer.Option(help="Division code or id of the subtree's top")] = "root",
    depth: Annotated[int | None, typer.Option(min=0, help="Levels below it to show")] = None,
) -> None:
    """Print the station tree: id, name, level, division code, and active users."""

    async def work() -> None:
        async with gateway_db() as (db, _):
            async with db.read_sessions() as session:
                top = await find_station(session, under)
                # Parents first, siblings in the API's order (division code, then name).
                stations = await stations_service.whole_subtree(session, top, depth)
                users = await repository.users_by_station(session)
        nodes: dict[int, Tree] = {}
        tree = None
        for s, _ in stations:
            label = f"[bold]{s.name}[/bold]  {s.kind} #{s.id}" + (f"  {s.code}" if s.code else "")
            if users.get(s.id):
                label += f"  [dim]{users[s.id]} user(s)[/dim]"
            if tree is None:
                tree = nodes[s.id] = Tree(label)
            elif s.parent_id in nodes:
                nodes[s.id] = nodes[s.parent_id].add(label)
        console.print(tree)

    run(work)
