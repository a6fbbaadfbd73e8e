"""`haolin rosters import`: a civil-affairs roster (.xlsx or CSV) into a running platform.

The file goes to the API's own import (POST /v1/rosters/import) as a user of the platform, so the
user's scope and every rule of the import apply exactly as through the API: checked whole, nothing
written when a row is bad, people matched by ID number, those no longer listed marked left.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, BinaryIO

import httpx
import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from ops.cli import api
from ops.cli.context import CliError, console, err_console, run

app = typer.Typer(help="Civil-affairs rosters (名册) of a running platform (needs `make run`).", no_args_is_help=True)


class _Counted:
    """The file as httpx reads it for the upload, advancing the progress bar by what was sent."""

    def __init__(self, file: BinaryIO, advance) -> None:
        self.file, self.advance = file, advance

    def read(self, size: int = -1) -> bytes:
        chunk = self.file.read(size)
        self.advance(len(chunk))
        return chunk


def _report(report: dict) -> None:
    what = "would change (dry run, nothing written)" if report["dry_run"] else "imported"
    console.print(f"roster of {report['listed_on']} for station {report['station_id']} "
                  f"({', '.join(report['populations'])}): {report['rows']} rows {what}", highlight=False)
    console.print(f"  registered {report['registered']}, added {report['added']}, updated {report['updated']}, "
                  f"unchanged {report['unchanged']}, left {report['left']}", highlight=False)
    _problems(report.get("errors") or [])


def _problems(errors: list[dict]) -> None:
    for e in errors:
        line = f"  row {e.get('row', '?')}, column {e.get('column') or e.get('field')}: {e.get('reason') or e.get('message')}"
        err_console.print(line, highlight=False, markup=False)


async def upload(http: httpx.AsyncClient, headers: dict, file: Path, params: dict) -> dict:
    size = file.stat().st_size
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeElapsedColumn(),
                  console=err_console) as bar, file.open("rb") as handle:
        task = bar.add_task(f"uploading {file.name}", total=size)
        reply = await http.post("/v1/rosters/import", params=params, headers=headers, files={
            "file": (file.name, _Counted(handle, lambda n: bar.advance(task, n)), "application/octet-stream")})
        bar.update(task, completed=size, description=f"checked {file.name}")
    if reply.status_code in (200, 201):
        return reply.json()
    if reply.status_code == 422 and reply.json().get("errors") and "row" in reply.json()["errors"][0]:
        err_console.print(f"[red]{file.name}: nothing imported[/red], {len(reply.json()['errors'])} problem(s):",
                          highlight=False)
        _problems(reply.json()["errors"])
        raise typer.Exit(1)
    raise CliError(f"POST /v1/rosters/import: {api.problem(reply)}")


@app.command("import")
def import_roster(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help=".xlsx or CSV; columns 姓名, 身份证号, 人群类别, 村(社区), 住址, 联系电话")],
    station: Annotated[str, typer.Option(help="Division code (or id) of the station whose subtree the roster "
                                              "covers")],
    url: api.UrlOption,
    user: Annotated[str, typer.Option("--user", help="Log in as (password: env HAOLIN_PASSWORD or a prompt)")],
    listed_on: Annotated[str | None, typer.Option("--listed-on", help="The roster's date, YYYY-MM-DD (default "
                                                                      "today): who is no longer listed leaves then")]
    = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only check and show what would change")] = False,
) -> None:
    """Import a roster: every row checked first; nothing written if one is bad."""
    if listed_on is not None:
        try:
            date.fromisoformat(listed_on)
        except ValueError:
            raise typer.BadParameter("use YYYY-MM-DD", param_hint="--listed-on") from None

    async def work() -> None:
        password = api.password_from_env_or_prompt(user)
        async with api.client(ctx.obj, url, timeout_s=600.0) as http:
            headers = await api.login(http, user, password)
            params = {"station_id": await api.station_id(http, headers, station), "dry_run": str(dry_run).lower(),
                      **({"listed_on": listed_on} if listed_on else {})}
            _report(await upload(http, headers, file, params))

    run(work)
