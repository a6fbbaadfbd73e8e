"""`haolin demo`: a realistic province for a first look at the dashboard.

Stations (cities, counties, townships and village/community rooms with division codes), users
(an official for the province and each city, station heads, supervisors, social workers, one
volunteer login), beneficiaries in every population, cases in every state with their records,
groups with sessions and attendance, community activities, projects with contract targets, and
volunteers with a year of hours, each township's civil-affairs roster and its visits. Run again, it adds nothing that is there already.
"""

from __future__ import annotations

import os
from typing import Annotated, Literal

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ops.cli import api
from ops.cli.context import console, err_console, run, settings
from ops.cli.demo import load
from ops.cli.demo.plan import build
from gateway.identity.passwords import generate_password
from shared import clock

SHOWN = (("person_times", "服务人次 person-times"), ("persons", "服务人数 persons"),
         ("person_times.casework", "个案 casework"), ("person_times.group", "小组 group work"),
         ("person_times.community", "社区活动 community"), ("person_times.visit", "探访 visits"),
         ("roster.members", "名册在册 on rosters"), ("roster.visited", "已探访 visited"),
         ("roster.overdue", "逾期未探访 overdue"), ("cases.open", "在案个案 open cases"),
         ("groups", "小组 groups"), ("activities", "活动场次 activities"),
         ("volunteer.hours", "志愿服务时长 volunteer hours"))
# The station system the demo built: the tree by tier, the projects and the staff (the summary's `system`).
SYSTEM_SHOWN = (("stations.total", "站点 stations"), ("stations.city", "市级 city"), ("stations.county", "县级 county"),
                ("stations.township", "镇街 township"), ("stations.village", "村(社区) village"),
                ("stations.active", "开展服务的站点 active stations"), ("projects.active", "在执行项目 active projects"),
                ("projects.budget_yuan", "项目预算 budget (yuan)"), ("staff.social_workers", "社工 social workers"),
                ("staff.station_heads", "站长 station heads"), ("staff.supervisors", "督导 supervisors"),
                ("staff.active_workers", "开展服务的工作人员 staff who served"))


def command(
    ctx: typer.Context,
    url: api.UrlOption,
    size: Annotated[Literal["tiny", "small", "medium"], typer.Option(
        help="small: 3 counties, 12 village rooms, under a minute; medium: 3 cities, 6 counties, 54 rooms; "
             "tiny: one township, for tests")] = "small",
) -> None:
    """Load the demo province through the running platform's API (start `make run` first).

    Demo users are named demo.*; they all get one password, printed at the end (env
    HAOLIN_DEMO_PASSWORD chooses it; otherwise a new one each run).
    """

    async def work() -> None:
        cfg = settings()
        clock.configure(cfg.timezone)
        password = os.environ.get("HAOLIN_DEMO_PASSWORD") or generate_password("demo")
        plan = build(size, clock.today())
        async with api.client(ctx.obj, url) as http:
            # Fail before writing anything when the platform is not there.
            try:
                await http.get("/readyz")
            except Exception as exc:
                raise load.CliError(f"cannot reach the gateway at {url} ({type(exc).__name__}); start `make run` "
                                    "first (or --url / HAOLIN_URL to point elsewhere)") from None
            err_console.print(f"demo ({size}): {len(plan.places)} stations and {len(plan.users)} users ...")
            identity = await load.write_identity(plan, password)
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=err_console) as bar:
                task = bar.add_task("records", total=plan.operations())
                await load.write_records(plan, identity, http, password, lambda n: bar.advance(task, n))
            figures = await load.summary(http, plan, password)
        _report(plan, identity, figures, password)

    run(work)


def _shown(value) -> str:
    return "-" if value is None else f"{value:,.0f}" if float(value).is_integer() else f"{value:,}"


def _report(plan, identity: load.Identity, figures: dict, password: str) -> None:
    console.print(f"stations: {identity.created_stations} new ({len(plan.places)} in the demo); "
                  f"users: {identity.created_users} new ({len(plan.users)} in the demo)", highlight=False)
    table = Table(title=f"{figures['station']['name']}: {figures['filters']['from']} .. {figures['filters']['to']}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, label in SHOWN:
        table.add_row(label, _shown((figures["figures"].get(key) or {}).get("value")))
    console.print(table)
    system = Table(title="站点体系 station system")
    system.add_column("figure")
    system.add_column("value", justify="right")
    for key, label in SYSTEM_SHOWN:
        system.add_row(label, _shown((figures.get("system", {}).get(key) or {}).get("value")))
    console.print(system)
    console.print("Log in at /docs or the dashboard as one of these (all with the same password):")
    heads = [u for u in plan.users if u.role in ("official", "station_head")][:4]
    workers = [u for u in plan.users if u.role == "social_worker"][:1]
    for user in heads + workers + [u for u in plan.users if u.role == "volunteer"]:
        console.print(f"  {user.username:<28} {user.role}", highlight=False)
    console.print(f"password: {password}", highlight=False, markup=False)
