"""GET /v1/stats/summary, /v1/stats/timeseries and /v1/stats/breakdown.

Every answer names the station and dates it used, the time it was computed (`as_of`) and
the services left out (`degraded`). The station must lie in the caller's subtree (404
otherwise, as for one that does not exist); volunteers see no aggregates.

Answers are cached per (endpoint, station, filters) for settings.stats_cache_s and shared by
all callers who may see that station; the ETag is a digest of the figures (not of `as_of`),
so a poll with If-None-Match gets 304 for as long as nothing it shows has changed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response

from gateway.deps import ActorDep
from gateway.identity.errors import StationNotFound
from gateway.identity.service import stations as stations_service
from gateway.models import Station
from gateway.stats import figures as fig
from gateway.stats import schemas
from gateway.stats.cache import AnswerCache
from gateway.stats.conditional import digest, respond
from gateway.stats.fanout import GATEWAY, Ask, Gathered, gather, oldest
from gateway.stats.shared import SharedAnswers
from gateway.stats.system import own_rows
from shared import clock
from shared.principals import Principal, Role
from shared.errors import Forbidden, InvalidInput
from shared.schemas import AnyDate, RowId
from shared.stats import (ACTIVITY_METRICS, ACTIVITY_SOURCES, DISTINCT_METRICS, EVERY_FIGURE, OWN_METRICS, PERSON_TIMES,
                          PERSON_TIMES_PARTS, PERSONS, PERSONS_SOURCES, too_many_periods)

log = logging.getLogger("haolin.gateway.stats")
router = APIRouter(prefix="/v1/stats", tags=["stats"])

FigureName = Literal[EVERY_FIGURE]  # type: ignore[valid-type]
Interval = Literal["day", "week", "month", "quarter", "year"]

FromQuery = Annotated[AnyDate | None, Query(alias="from",
                                            description="First day (default: 1 January of `to`'s year)")]
ToQuery = Annotated[AnyDate | None, Query(alias="to", description="Last day, inclusive (default: today)")]
StationQuery = Annotated[RowId | None, Query(description="Station whose subtree to count (default: your own)")]


@dataclass(frozen=True)
class Answer:
    body: bytes
    etag: str
    degraded: bool


async def station_in_scope(request: Request, actor: Principal, station_id: int | None) -> Station:
    """The station asked about (default: the caller's own), read only; 404 outside the subtree.
    From the process's notified copy of the stations: a dashboard poll runs this before the answer
    cache is consulted."""
    if actor.role == Role.volunteer:
        raise Forbidden("Volunteers do not see station aggregates.")
    station = await request.app.state.stations.in_scope(station_id or actor.station_id, actor.station_path)
    if station is None:
        raise StationNotFound()
    return station


async def children_of(request: Request, station: Station) -> tuple[list[Station], list[Station]]:
    """The station's live children and its deleted ones, on a connection given back before the
    services are asked: the gateway's own figures (Figures.own) take another, and a
    request holding one while it waits for a second starves the pool under as many requests at once
    as the pool has connections (tests/gateway/test_stats.py TestConnectionsHeldByFigures)."""
    async with request.app.state.db.read_sessions() as session:
        return (list(await stations_service.all_children(session, station)),
                list(await stations_service.deleted_children(session, station)))


def _dates(from_on: date | None, to_on: date | None) -> tuple[date, date]:
    to_on = to_on or clock.today()
    from_on = from_on or to_on.replace(month=1, day=1)
    if from_on > to_on:
        raise InvalidInput.field("from", "'from' is after 'to'.", "range")
    return from_on, to_on


def _filters(station: Station, from_on: date, to_on: date, **extra: Any) -> dict:
    return {"station_id": station.id, "from": from_on.isoformat(), "to": to_on.isoformat(),
            "timezone": clock.timezone_name(), **extra}


def _station_json(s: Station) -> dict:
    return {"id": s.id, "name": s.name, "kind": s.kind}


def _former_json(s: Station | None, station_id: int) -> dict:
    """A deleted child station (or, should its row be gone too, just its id)."""
    found = _station_json(s) if s is not None else {"id": station_id, "name": f"#{station_id}", "kind": None}
    return {**found, "deleted": True}


def ask_for(request: Request, station: Station, from_on: date, to_on: date, **kw: Any) -> Ask:
    return Ask(station_path=station.path, from_on=from_on.isoformat(), to_on=to_on.isoformat(), **kw)


def _asked_for(figure: str) -> dict:
    """What to ask the services for one figure: its owners, and its metrics or person sets."""
    if figure == PERSONS:
        return {"services": PERSONS_SOURCES, "persons": True, "stats": False}
    if figure in {m.value for m in OWN_METRICS}:
        return {"services": (GATEWAY,), "own": True, "stats": False, "metrics": (figure,)}
    if figure in {m.value for m in ACTIVITY_METRICS}:
        return {"services": ACTIVITY_SOURCES, "activity": True, "stats": False}
    metrics = tuple(m.value for m in PERSON_TIMES_PARTS) if figure == PERSON_TIMES else (figure,)
    return {"services": fig.owners(figure), "metrics": metrics}


class Figures:
    """Where an answer's computation gets its figures. While an answer is first computed, every
    gathering it makes is kept (`gatherings`), and services late at the deadline go on counting (up
    to upstream_timeout_s), so the whole answer can be made once they are in; it is then made again
    from those gatherings (`made`) rather than by asking the services anew."""

    def __init__(self, request: Request, gatherings: list[tuple[Ask, Gathered]] | None = None,
                 made: dict[Ask, Gathered] | None = None) -> None:
        self.request = request
        self.gatherings = gatherings
        self.made = made

    async def own(self, query) -> list[dict]:
        """The gateway's own figures (the tree, the accounts) for one question."""
        async with self.request.app.state.db.read_sessions() as session:
            return await own_rows(session, query)

    async def __call__(self, ask: Ask) -> Gathered:
        if self.made is not None and ask in self.made:
            return self.made[ask]
        state = self.request.app.state
        patience = state.settings.upstream_timeout_s if self.gatherings is not None else None
        gathered = await gather(state.upstreams, state.signer, ask, state.settings.stats_timeout_s, patience,
                                own=self.own)
        if self.gatherings is not None:
            self.gatherings.append((ask, gathered))
        return gathered


# An answer's computation: its gathering (for `degraded`) and its content, from the figures given.
Compute = Callable[[Figures], Awaitable[tuple[Gathered, dict]]]


def _answer(gathered: Gathered, content: dict) -> Answer:
    content["degraded"] = sorted(gathered.degraded)
    tag = digest(content)
    # Now, or earlier when a service read its figures on a standby that lags (shared/standby.py).
    as_of = oldest(datetime.now(clock.zone()), gathered.as_of)
    content["as_of"] = as_of.astimezone(clock.zone()).isoformat(timespec="seconds")
    return Answer(body=orjson.dumps(content), etag=tag, degraded=bool(gathered.degraded))


async def _respond(request: Request, key: tuple, compute: Compute) -> Response:
    """The cached or freshly computed answer for `key`, or 304 when the poller has it already.

    A service still counting at the stats deadline is left out of this answer but not given
    up: the whole answer is made and kept once it is in, for the next poll. Until then polls of
    the same key get this partial answer rather than asking the slow service again."""
    cache: AnswerCache[Answer] = request.app.state.stats_cache
    shared: SharedAnswers | None = request.app.state.stats_shared

    async def build() -> Answer:
        figures = Figures(request, gatherings=[])
        started = time.monotonic()
        gathered, content = await compute(figures)
        answer = _answer(gathered, content)
        if answer.degraded and cache.ttl_s > 0 and any(g.late is not None for _, g in figures.gatherings):
            cache.hold(key, answer, _whole(request, compute, figures.gatherings), started)
        return answer

    def whole(a: Answer) -> bool:
        return not a.degraded

    async def build_once() -> Answer:
        # This process's one computation of the key, shared with the other workers and replicas.
        return await shared.get(key, build, whole, _kept)

    answer = await cache.get(key, build if shared is None else build_once, keep=whole)
    # A partial answer is not kept (the next poll asks the failed service again), so clients must not keep it either.
    return respond(request, answer.body, answer.etag,
                   "private, no-cache" if answer.degraded else f"private, max-age={int(cache.ttl_s)}")


def _kept(body: bytes, etag: str) -> Answer:
    """An answer another gateway process computed and shared (gateway/stats/shared.py): whole, never degraded."""
    return Answer(body=body, etag=etag, degraded=False)


async def _whole(request: Request, compute: Compute, gatherings: list[tuple[Ask, Gathered]]) -> Answer | None:
    """The whole answer once the late services are in; None when one of them failed after all
    (the next poll asks again)."""
    try:
        whole = {ask: (await g.late if g.late is not None else g) for ask, g in gatherings}
        if any(g.degraded for g in whole.values()):
            return None
        gathered, content = await compute(Figures(request, made=whole))
        answer = _answer(gathered, content)
        return None if answer.degraded else answer
    except Exception:
        log.exception("stats: completing a late answer failed")
        return None


async def gather_figures(request: Request, ask: Ask) -> Gathered:
    """Every service's figures for `ask`, outside a dashboard answer (a service late at the deadline is left out)."""
    return await Figures(request)(ask)


@router.get("/summary", summary="Every figure for a station's subtree over a date range", response_class=Response,
            responses={200: {"model": schemas.Summary}, **schemas.NOT_MODIFIED})
async def summary(request: Request, actor: ActorDep, station_id: StationQuery = None,
                  from_on: FromQuery = None, to_on: ToQuery = None) -> Response:
    """Person-times (in total and by method), distinct persons, cases, groups and sessions,
    activities, volunteers, volunteer hours and person-times and resources linked; each with
    its split by population. `cases.open` is the number open at the end of `to`.

    `system`, the station system: stations by tier at the end of `to`, those started and those
    active in the range; projects active, started and closed, and the budget of the active ones
    split by funding source (in `by_population`); active accounts of each staff role at the end of
    `to`, and the workers who recorded any service. Counts only, never names.

    `persons` counts each named person once across casework, groups and activities, exactly
    (`exact: true`): the services' bitmaps of person numbers are unioned."""
    station = await station_in_scope(request, actor, station_id)
    from_on, to_on = _dates(from_on, to_on)
    ask = ask_for(request, station, from_on, to_on, group_by=("population",), persons=True, activity=True,
                  own=True)

    async def compute(figures: Figures) -> tuple[Gathered, dict]:
        gathered = await figures(ask)
        table = fig.Table(gathered)
        return gathered, {"station": _station_json(station), "filters": _filters(station, from_on, to_on),
                          "figures": fig.summary_figures(table), "system": fig.system_figures(table)}

    return await _respond(request, ("summary", station.id, station.path, station.name, from_on, to_on), compute)


@router.get("/timeseries", summary="One figure per period, one series per group", response_class=Response,
            responses={200: {"model": schemas.Timeseries}, **schemas.NOT_MODIFIED})
async def timeseries(request: Request, actor: ActorDep, metric: FigureName,
                     interval: Interval = "month", station_id: StationQuery = None, from_on: FromQuery = None,
                     to_on: ToQuery = None,
                     by: Annotated[Literal["population"] | None, Query(description="Split into groups")] = None
                     ) -> Response:
    """Every period between `from` and `to` is present, with 0 when nothing happened; weeks
    start on Monday. A period cut by `from` or `to` says so in its own `from` and `to`.
    For `cases.open` a period's value is the number open at its end."""
    station = await station_in_scope(request, actor, station_id)
    from_on, to_on = _dates(from_on, to_on)
    problem = too_many_periods(from_on, to_on, interval)
    if problem is not None:
        raise InvalidInput.field("interval", problem.message(), problem.type)
    group_by = (interval, "population") if by else (interval,)
    ask = ask_for(request, station, from_on, to_on, group_by=group_by, **_asked_for(metric))

    async def compute(figures: Figures) -> tuple[Gathered, dict]:
        gathered = await figures(ask)
        buckets = fig.periods(from_on, to_on, interval)
        return gathered, {
            "station": _station_json(station),
            "filters": _filters(station, from_on, to_on, metric=metric, interval=interval, by=by),
            "metric": metric, "interval": interval, "periods": buckets,
            "missing": fig.missing(gathered, metric),
            "series": [] if fig.all_missing(gathered, metric) else fig.series(fig.Table(gathered), metric, buckets,
                                                                                by is not None)}

    return await _respond(request, ("timeseries", station.id, station.path, station.name, from_on, to_on, metric,
                                    interval, by), compute)


@router.get("/breakdown", summary="One figure for each child station, for drill-down", response_class=Response,
            responses={200: {"model": schemas.Breakdown}, **schemas.NOT_MODIFIED})
async def breakdown(request: Request, actor: ActorDep, metric: FigureName,
                    station_id: StationQuery = None, from_on: FromQuery = None, to_on: ToQuery = None) -> Response:
    """`rows`: each child station's subtree, then any deleted child whose records still count
    (`station.deleted`); `own`: records kept at the station itself; `total`: the whole subtree, which
    the rows and `own` add up to (for `persons` and `volunteers.active`, each once, so not their sum)."""
    station = await station_in_scope(request, actor, station_id)
    from_on, to_on = _dates(from_on, to_on)
    children, gone = await children_of(request, station)
    gone = {c.id: c for c in gone}
    ask = ask_for(request, station, from_on, to_on, group_by=("station",), **_asked_for(metric))

    async def compute(figures: Figures) -> tuple[Gathered, dict]:
        whole = None
        if metric in DISTINCT_METRICS:
            # Not the sum of the rows: the subtree's own distinct count, asked in the same breath.
            gathered, whole = await asyncio.gather(figures(ask), figures(replace(ask, group_by=())))
            gathered.degraded |= whole.degraded
            gathered.as_of = oldest(gathered.as_of, whole.as_of)
        else:
            gathered = await figures(ask)
        content = {"station": _station_json(station), "filters": _filters(station, from_on, to_on, metric=metric),
                   "metric": metric, "missing": fig.missing(gathered, metric)}
        if fig.all_missing(gathered, metric):
            return gathered, {**content, "rows": [{"station": _station_json(c), "value": None} for c in children],
                              "own": {"value": None}, "total": {"value": None}}
        table = fig.Table(gathered)
        # Records of a child deleted while it held them (before deletion asked the services) still
        # count in this subtree: shown in a row of their own so that the rows add up to the total.
        former = sorted(table.stations() - {c.id for c in children} - {station.id})
        values, total = fig.by_station(table, metric, [c.id for c in children] + former + [station.id],
                                       whole=fig.Table(whole) if whole is not None else None)
        content["rows"] = [{"station": _station_json(c), **values[c.id]} for c in children]
        content["rows"] += [{"station": _former_json(gone.get(sid), sid), **values[sid]} for sid in former
                            if values[sid]["value"]]
        content["own"], content["total"] = values[station.id], total
        return gathered, content

    key = ("breakdown", station.id, station.path, station.name, tuple((c.id, c.name) for c in children),
           tuple((c.id, c.name) for c in gone.values()), from_on, to_on, metric)
    return await _respond(request, key, compute)
