"""GET /v1/reports/monthly.xlsx and /v1/reports/projects/{id}.xlsx: the reports as files.

The same scope rules as the JSON they are made from: a station outside your subtree answers
404, volunteers get 403 (stats); the projects service decides who sees a project (progress).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from gateway.deps import ActorDep
from gateway.flows.progress import progress_of
from gateway.reports import monthly
from gateway.reports import project as project_report
from gateway.reports.workbook import XLSX, disposition
from gateway.stats.api import StationQuery, children_of, station_in_scope
from gateway.upstream import Upstreams
from gateway.upstream.clients import SERVICES
from gateway.upstream.proxy import upstream_error
from shared.principals import oauth2_scheme
from shared.errors import PROBLEM
from shared.labels import Lang

router = APIRouter(prefix="/v1/reports", tags=["reports"])

LangQuery = Annotated[Lang, Query(description="The report's language: zh-CN (default) or en")]
MonthQuery = Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM, e.g. 2026-10")]
FILE = {200: {"content": {XLSX: {}}, "description": "The workbook"}}


def _file(body: bytes, ascii_name: str, name: str) -> Response:
    return Response(body, media_type=XLSX, headers={"Content-Disposition": disposition(ascii_name, name),
                                                    "Cache-Control": "private, no-cache"})


@router.get("/monthly.xlsx", summary="The monthly statistics report of a station's subtree (.xlsx)",
            response_class=Response, responses=FILE)
async def monthly_report(request: Request, actor: ActorDep, month: MonthQuery,
                         station_id: StationQuery = None, lang: LangQuery = "zh-CN") -> Response:
    """The figures of `/v1/stats/summary` for the month: a row for each child station's subtree (and
    for a deleted child whose records still count), one for the station's own records and one for
    the whole subtree, which the rows add up to; a sheet for everyone and one
    for each population counted. 502 when a service does not answer (no report with holes)."""
    station = await station_in_scope(request, actor, station_id)
    children, gone = await children_of(request, station)
    body = await monthly.build(request, station, children, month, lang, gone)
    prefix = "月度统计" if lang == "zh-CN" else "monthly"
    return _file(body, f"haolin-monthly-{station.id}-{month}.xlsx", f"{prefix}-{station.name}-{month}.xlsx")


@router.get("/projects/{project_id}.xlsx", summary="A project's outputs against its targets (.xlsx)",
            response_class=Response, responses=FILE)
async def project_report_file(project_id: str, request: Request,
                              token: Annotated[str | None, Depends(oauth2_scheme)],
                              lang: LangQuery = "zh-CN") -> Response:
    """Each contract target of `GET /v1/projects/{id}/progress` with its value, completion and
    whether it is met, under the project's name, purchaser, operator and period."""
    progress = await progress_of(request, project_id, token)
    if isinstance(progress, Response):
        return progress
    failed = [s for s in progress["degraded"] if s in SERVICES]
    if failed:
        raise monthly.unanswered(failed)
    project = await _project(request, project_id, token)
    if isinstance(project, Response):
        return project
    body = project_report.build(project, progress, lang)
    prefix = "项目进度" if lang == "zh-CN" else "project"
    return _file(body, f"haolin-project-{project_id}.xlsx", f"{prefix}-{project['name']}.xlsx")


async def _project(request: Request, project_id: str, token: str) -> dict | Response:
    """The project record, with the caller's token (the projects service applies its scope)."""
    upstreams: Upstreams = request.app.state.upstreams
    try:
        async with asyncio.timeout(upstreams.timeout_s):
            r = await upstreams.client("projects").get(f"/v1/projects/{project_id}",
                                                       headers={"Authorization": f"Bearer {token}"})
    except (httpx.HTTPError, TimeoutError, OSError) as exc:
        raise upstream_error("projects", "GET", request.url.path, exc) from None
    if r.status_code != 200:
        return JSONResponse(r.json(), status_code=r.status_code, media_type=r.headers.get("content-type", PROBLEM))
    return r.json()
