"""`haolin report ...`: the .xlsx reports of a running platform, saved to a file.

They are the API's own (GET /v1/reports/monthly.xlsx, /v1/reports/projects/{id}.xlsx), fetched as
a user of the platform, so the user's scope applies exactly as in the browser.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import httpx
import typer

from ops.cli import api
from ops.cli.context import CliError, console, run

app = typer.Typer(help="Excel reports from a running platform (needs `make run`).", no_args_is_help=True)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

UserOption = Annotated[str, typer.Option("--user", help="Log in as (password: env HAOLIN_PASSWORD or a prompt)")]
OutOption = Annotated[Path, typer.Option("-o", "--output", dir_okay=False, help="Where to save the .xlsx")]


def _month(value: str) -> str:
    if not MONTH.match(value):
        raise typer.BadParameter("use YYYY-MM, e.g. 2026-10")
    return value


async def _save(http: httpx.AsyncClient, path: str, params: dict, headers: dict, output: Path) -> None:
    reply = await http.get(path, params=params, headers={**headers, "Accept": XLSX})
    if reply.status_code != 200:
        raise CliError(f"GET {path}: {api.problem(reply)}")
    if not reply.content.startswith(b"PK"):  # every .xlsx is a zip archive
        raise CliError(f"GET {path} did not answer an .xlsx file ({reply.headers.get('content-type')})")
    output.write_bytes(reply.content)
    console.print(f"saved {output} ({len(reply.content):,} bytes)", highlight=False)


def _fetch(ctx: typer.Context, url: str, user: str, output: Path, path: str, params: dict | None = None,
           station: str | None = None) -> None:
    """Save the report at `path` as `user` (password: env HAOLIN_PASSWORD or a prompt); `station`, a
    division code or id looked up in the user's subtree, is sent as the station_id parameter."""

    async def work() -> None:
        password = api.password_from_env_or_prompt(user)
        async with api.client(ctx.obj, url) as http:
            headers = await api.login(http, user, password)
            where = {"station_id": await api.station_id(http, headers, station)} if station is not None else {}
            await _save(http, path, {**where, **(params or {})}, headers, output)

    run(work)


@app.command("monthly")
def monthly(
    ctx: typer.Context,
    station: Annotated[str, typer.Option(help="Division code (or id) of the station whose subtree to report")],
    month: Annotated[str, typer.Option(help="YYYY-MM", callback=_month)],
    output: OutOption,
    url: api.UrlOption,
    user: UserOption = "admin",
) -> None:
    """Monthly statistics of a station's subtree, by child station and population."""
    _fetch(ctx, url, user, output, "/v1/reports/monthly.xlsx", {"month": month}, station=station)


@app.command("project")
def project(
    ctx: typer.Context,
    project_id: Annotated[str, typer.Argument(help="The project's id")],
    output: OutOption,
    url: api.UrlOption,
    user: UserOption = "admin",
) -> None:
    """A project's outputs against its contract targets."""
    _fetch(ctx, url, user, output, f"/v1/reports/projects/{project_id}.xlsx")
