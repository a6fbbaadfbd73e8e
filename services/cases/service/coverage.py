"""Roster coverage (重点人群服务覆盖率) for the counting contract, read from the rosters, visits and
visit rules at question time (services/cases/service/visit_rules.py says when a visit is due):

- roster.members: people on a roster at the period's end (a stock);
- roster.visited: of those, the people visited at least once in the period (any mode);
- roster.overdue: of those, the people overdue a visit at the period's end (a stock).

Each counts a person once, under everyone and under each roster population they are on, at the
station they were at on the period's end (a person transferred since counts at the station they left,
for the periods before; a breakdown's rows add up to its total). Coverage is roster.visited / roster.members.
"""

from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.repository import coverage as repo
from services.cases.service.visit_rules import rules
from shared.scope import path_under
from shared.stats import ALL, Metric, period_start


def _spans(day_from: date, day_to: date, period: str | None) -> list[tuple[date | None, date, date]]:
    """(period, first day, last day) of each period touching [day_from, day_to], clipped to it."""
    if period is None:
        return [(None, day_from, day_to)]
    out, start = [], period_start(day_from, period)
    while start <= day_to:
        following = start
        while period_start(following, period) == start:
            following += timedelta(days=1 if period == "day" else 7 if period == "week" else 28)
        following = period_start(following, period)
        out.append((start, max(start, day_from), min(following - timedelta(days=1), day_to)))
        start = following
    return out


def _station(path: str, station_path: str, own_station_id: int) -> int:
    child = path[len(station_path):].split("/", 1)[0]
    return int(child) if child else own_station_id


async def figures(session: AsyncSession, *, station_path: str, own_station_id: int, day_from: date, day_to: date,
                  period: str | None, by_population: bool, by_station: bool) -> dict[Metric, list[dict]]:
    members = await repo.members_between(session, station_path, day_from, day_to)
    people = sorted({m.beneficiary_id for m in members})
    visits = await repo.visits_until(session, people, day_to)
    moves = await repo.moves_after(session, people, day_from)
    resolved = await rules(session, station_path)
    counted: dict[Metric, dict[tuple, set]] = {m: defaultdict(set) for m in
                                               (Metric.roster_members, Metric.roster_visited, Metric.roster_overdue)}
    for span, first, last in _spans(day_from, day_to, period):
        for m in members:
            if m.joined_on > last or (m.left_on is not None and m.left_on <= last):
                continue
            # Where the person was at the period's end: the station a later transfer took them from.
            path = next((left for on, left in moves.get(m.beneficiary_id, ()) if on > last), m.station_path)
            if not path_under(path, station_path):
                continue
            seen = [(on, mode) for on, mode in visits.get(m.beneficiary_id, ()) if on <= last]
            flags = {Metric.roster_members: True,
                     Metric.roster_visited: any(on >= first for on, _ in seen)}
            rule = resolved.of(path, m.population)
            if rule is not None:
                counting = [on for on, mode in seen if mode in rule.modes]
                flags[Metric.roster_overdue] = (max(counting, default=m.joined_on)
                                                + timedelta(days=rule.every_days)) < last
            station = _station(path, station_path, own_station_id) if by_station else None
            for code in ([ALL, m.population] if by_population else [None]):
                for metric, hit in flags.items():
                    if hit:
                        counted[metric][(code, span, station)].add(m.beneficiary_id)
    out: dict[Metric, list[dict]] = {}
    for metric, groups in counted.items():
        out[metric] = [{**({"population": code} if by_population else {}), **({"period": span} if period else {}),
                        **({"station": station} if by_station else {}), "value": len(people)}
                       for (code, span, station), people in groups.items()]
    return out


def reader(metric: Metric):
    """A computed reader of shared.rollup.answer for one of the three figures."""

    async def read(session: AsyncSession, **query) -> list[dict]:
        # The three figures come from one reading: the first asked computes them for the others.
        kept = session.info.setdefault("roster_coverage", {})
        key = tuple(sorted(query.items()))
        if key not in kept:
            kept[key] = await figures(session, **query)
        return kept[key][metric]

    return read
