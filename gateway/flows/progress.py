"""GET /v1/projects/{id}/progress: the projects service's own figures, merged with the
casework figures of the project that only the cases service can count.

The projects service answers first, with the caller's token: it decides whether the caller
may see the project at all, and its problem (404, 401...) is passed through unchanged.
The casework figures come from the cases service (shared.contracts.progress), with the gateway's
service token, counting only cases filed within the project's coverage (the stations the
projects service names); if it fails, its targets keep no value and `degraded` names it.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated
from urllib.parse import quote

import httpx
import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from gateway.stats.conditional import digest, respond
from gateway.flows.caller import caller_headers
from gateway.upstream import Upstreams
from gateway.upstream.proxy import upstream_error
from shared.principals import oauth2_scheme
from shared.contracts.calls import service
from shared.contracts.progress.client import project_stats
from shared.contracts.progress.schemas import ProjectStatsAnswer, ProjectStatsQuery
from shared.errors import PROBLEM

router = APIRouter(tags=["projects"])

# Target metric -> field of the cases service's answer (shared.contracts.progress).
CASEWORK_FIGURES = {"person_times.casework": "person_times_casework",
                    "cases.beneficiaries": "case_beneficiaries"}


@router.get("/v1/projects/{project_id}/progress")
async def project_progress(project_id: str, request: Request,
                           token: Annotated[str | None, Depends(oauth2_scheme)]) -> Response:
    """Each contract target of the project with its current value and whether it is met."""
    answer = await progress_of(request, project_id, token)
    if isinstance(answer, Response):
        return answer
    # Polled like the dashboard figures: an ETag of the answer, revalidated at every poll
    # (the projects service decides per caller who may see it, so nothing is shared between callers).
    return respond(request, orjson.dumps(answer), digest(answer), "private, no-cache")


async def progress_of(request: Request, project_id: str, token: str | None) -> dict | Response:
    """The merged progress answer; or the projects service's problem, as a response to pass on
    (the report of gateway/reports uses the same answer)."""
    headers = caller_headers(request, token)
    upstreams: Upstreams = request.app.state.upstreams
    try:
        async with asyncio.timeout(upstreams.timeout_s):
            # Quoted: the id goes into a URL of our own making, whatever characters it holds.
            r = await upstreams.client("projects").get(f"/v1/projects/{quote(project_id, safe='')}/progress",
                                                       headers=headers)
    except (httpx.HTTPError, TimeoutError, OSError) as exc:
        raise upstream_error("projects", "GET", request.url.path, exc) from None
    if r.status_code != 200:
        # The owner's problem (not found, forbidden...) exactly as it said it.
        return JSONResponse(r.json(), status_code=r.status_code, media_type=r.headers.get("content-type", PROBLEM),
                            headers={k: v for k, v in r.headers.items() if k in ("content-language",)})
    answer = r.json()
    external = [t for t in answer["targets"] if t.get("external")]
    degraded = set(answer.get("degraded") or [])
    if any(t["owner"] == "cases" for t in external):
        figures = await _casework(request, upstreams, answer)
        if figures is None:
            degraded.add("cases")
        else:
            for target in external:
                if target["owner"] == "cases":
                    _fill(target, figures)
    for target in external:
        if target["owner"] not in ("cases", "projects"):
            degraded.add(target["owner"])
    answer["degraded"] = sorted(degraded)
    return answer


def _fill(target: dict, figures: ProjectStatsAnswer) -> None:
    if target["metric"] == "cases.full":
        value = figures.full_cases.get(str(target["conditions"].get("min_sessions", 1)))
    else:
        value = getattr(figures, CASEWORK_FIGURES.get(target["metric"], ""), None)
    if value is not None:
        target["value"] = float(value)
        target["met"] = target["value"] >= target["target"]
    # Every casework target counts the project's cases: those closed without a closure report lack evidence.
    target["lacking_evidence"] = [gap.model_dump(mode="json") for gap in figures.closed_without_report]


async def _casework(request: Request, upstreams: Upstreams, answer: dict) -> ProjectStatsAnswer | None:
    """The project's casework figures over the days its own targets are counted (the projects
    service's counted_from and counted_to), or None when the cases service fails."""
    thresholds = sorted({int(t["conditions"].get("min_sessions", 1)) for t in answer["targets"]
                         if t["metric"] == "cases.full"}) or [1]
    if date.fromisoformat(answer["counted_to"]) < date.fromisoformat(answer["counted_from"]):
        return ProjectStatsAnswer(project_id=answer["project_id"], person_times_casework=0, case_beneficiaries=0,
                                  full_cases={str(n): 0 for n in thresholds})
    try:
        # Only cases filed within the project's coverage count for it (none named: the contract
        # refuses the query, and the figures are marked degraded rather than counted unbounded).
        query = ProjectStatsQuery(project_id=answer["project_id"], station_ids=answer.get("coverage") or [],
                                  from_on=answer["counted_from"], to_on=answer["counted_to"], min_sessions=thresholds)
    except ValidationError:
        return None
    return await project_stats(service(upstreams, request.app.state.signer, "cases"), query,
                               request.app.state.settings.stats_timeout_s)
