"""GET /v1/review: one station review list over every service that keeps review flags.

A station tablet's record that breaks a data-quality rule is kept and flagged by the service
that owns it (shared/review.py); each such service answers its own GET /v1/review for the
caller's subtree. The gateway asks them all with the caller's own token, so each decides scope
and role as for its other lists (a problem is passed on unchanged), and merges the pages in
their common order: newest change first, then id. Its cursor is the same (updated_at, id) pair
every service's list takes, so a page continues each service's list where the merge stopped.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from gateway.flows.caller import caller_headers
from gateway.upstream import Upstreams
from gateway.upstream.proxy import upstream_error
from shared.principals import oauth2_scheme
from shared.errors import PROBLEM
from shared.pagination import MAX_LIMIT, encode_cursor
from shared.review import ReviewPage
from shared.schemas import RowId

router = APIRouter(tags=["review"])

# The services with soft rules, hence a review list of their own.
REVIEW_SERVICES = ("cases", "volunteers")


def _order(item: dict) -> tuple:
    return datetime.fromisoformat(item["updated_at"]), item["id"]


@router.get("/v1/review", response_model=ReviewPage)
async def review_list(request: Request, token: Annotated[str | None, Depends(oauth2_scheme)],
                      station_id: Annotated[RowId | None, Query(description="Limit to this station's subtree")] = None,
                      limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = 50,
                      cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
                      ) -> Response | dict:
    """Records of your subtree a tablet pushed breaking a data-quality rule, newest change first."""
    headers = caller_headers(request, token)
    upstreams: Upstreams = request.app.state.upstreams
    params = {k: v for k, v in {"station_id": station_id, "limit": limit, "cursor": cursor}.items() if v is not None}

    async def ask(service: str) -> httpx.Response:
        try:
            async with asyncio.timeout(upstreams.timeout_s):
                return await upstreams.client(service).get("/v1/review", params=params, headers=headers)
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            raise upstream_error(service, "GET", "/v1/review", exc) from None

    answers = await asyncio.gather(*(ask(s) for s in REVIEW_SERVICES))
    for answer in answers:
        if answer.status_code != 200:
            problem = answer.json()
            if isinstance(problem, dict) and "instance" in problem:
                problem["instance"] = request.url.path
            return JSONResponse(problem, status_code=answer.status_code,
                                media_type=answer.headers.get("content-type", PROBLEM),
                                headers={k: v for k, v in answer.headers.items()
                                         if k in ("content-language", "www-authenticate")})
    pages = [a.json() for a in answers]
    items = sorted((i for page in pages for i in page["items"]), key=_order, reverse=True)
    more = len(items) > limit or any(page["next_cursor"] for page in pages)
    items = items[:limit]
    last = items[-1] if items else None
    return {"items": items,
            "next_cursor": encode_cursor([last["updated_at"], last["id"]]) if more and last else None}
