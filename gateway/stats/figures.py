"""Merging the services' answers into the figures a dashboard shows.

Rows of the counting contract are added up across services per (metric, population,
period, station); person-times of every method (casework, group, community, visits) make
`person_times`; person sets are unioned into `persons` (shared.contracts.persons.union). A figure whose every owner failed has no value;
one missing only some owners keeps the value of the rest and names what is missing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from gateway.stats.fanout import Gathered
from shared.contracts.persons.union import PersonsFigure, PersonsUnion
from shared.stats import (ALL, FIGURES, OWNERS, PERSON_TIMES, PERSON_TIMES_PARTS, PERSONS, PERSONS_SOURCES,
                          SYSTEM_FIGURES, Metric, period_bounds)

Key = tuple[str | None, str | None, int | None]  # population, period, station

_PARTS = frozenset(m.value for m in PERSON_TIMES_PARTS)


def owners(figure: str) -> tuple[str, ...]:
    if figure == PERSONS:
        return PERSONS_SOURCES
    if figure == PERSON_TIMES:
        return tuple(dict.fromkeys(s for m in PERSON_TIMES_PARTS for s in OWNERS[m]))
    return OWNERS[Metric(figure)]


def missing(gathered: Gathered, figure: str) -> list[str]:
    return sorted(set(owners(figure)) & gathered.degraded)


def all_missing(gathered: Gathered, figure: str) -> bool:
    return set(owners(figure)) <= gathered.degraded


def number(value: float) -> int | float:
    """3.0 -> 3 (counts), 2.5 stays (hours, yuan)."""
    return int(value) if float(value).is_integer() else round(value, 2)


class Table:
    """The merged figures of one computation."""

    def __init__(self, gathered: Gathered) -> None:
        self.gathered = gathered
        self.sums: dict[tuple[str, Key], float] = defaultdict(float)
        for rows in gathered.rows.values():
            for r in rows:
                key = (r.get("population"), r.get("period"), r.get("station"))
                self.sums[(r["metric"], key)] += r["value"]
                if r["metric"] in _PARTS:
                    self.sums[(PERSON_TIMES, key)] += r["value"]
        self.persons: dict[Key, PersonsUnion] = defaultdict(PersonsUnion)
        for groups in gathered.persons.values():
            for g in groups:
                self.persons[(g.get("population"), g.get("period"), g.get("station"))].add(g)
        # Active stations and workers: each once across the services that saw them.
        active: dict[Key, tuple[set, set]] = defaultdict(lambda: (set(), set()))
        for groups in gathered.activity.values():
            for g in groups:
                stations, workers = active[(g.get("population"), g.get("period"), g.get("station"))]
                stations.update(g["stations"])
                workers.update(g["workers"])
        for key, (stations, workers) in active.items():
            self.sums[(Metric.stations_active.value, key)] = float(len(stations))
            self.sums[(Metric.staff_active_workers.value, key)] = float(len(workers))

    def value(self, figure: str, key: Key) -> float:
        return self.sums.get((figure, key), 0.0)

    def person_figure(self, key: Key) -> PersonsFigure:
        found = self.persons.get(key)
        return found.figure() if found is not None else PersonsFigure(value=0, exact=True)

    def stations(self) -> set[int]:
        """The stations the rows and person sets are grouped under (when grouped by station)."""
        found = {k[2] for (_, k) in self.sums} | {k[2] for k in self.persons}
        return {s for s in found if s is not None}

    def populations(self, figure: str) -> list[str]:
        if figure == PERSONS:
            found = {k[0] for k in self.persons}
        else:
            found = {k[0] for (f, k) in self.sums if f == figure}
        return sorted(p for p in found if p not in (None, ALL))


def persons_json(figure: PersonsFigure) -> dict:
    return figure.model_dump(exclude_none=True)


def summary_figures(table: Table, names: tuple[str, ...] = FIGURES) -> dict[str, dict]:
    """Every figure of `names` over the whole range, in total and by population (projects.budget_yuan:
    by funding source)."""
    figures: dict[str, dict] = {}
    gathered = table.gathered
    parts = [m.value for m in PERSON_TIMES_PARTS]
    ordered = [n for n in (PERSON_TIMES, *parts, PERSONS) if n in names] + [n for n in names if n not in
                                                                            (PERSON_TIMES, *parts, PERSONS)]
    for figure in ordered:
        out: dict = {"missing": missing(gathered, figure)}
        if all_missing(gathered, figure):
            out.update(value=None, by_population={})
        elif figure == PERSONS:
            total = table.person_figure((ALL, None, None))
            out.update(persons_json(total))
            parts = {p: table.person_figure((p, None, None)) for p in table.populations(PERSONS)}
            out["by_population"] = {p: f.value for p, f in parts.items()}
        else:
            out["value"] = number(table.value(figure, (ALL, None, None)))
            out["by_population"] = {p: number(table.value(figure, (p, None, None)))
                                    for p in table.populations(figure)}
        figures[figure] = out
    return figures


def system_figures(table: Table) -> dict[str, dict]:
    """The station system's figures: the tree by tier, projects and staff."""
    return summary_figures(table, SYSTEM_FIGURES)


def periods(from_on: date, to_on: date, interval: str) -> list[dict]:
    """Every period touching [from_on, to_on], clipped to it, in order: empty ones too."""
    return [{"period": start.isoformat(), "from": first.isoformat(), "to": last.isoformat()}
            for start, first, last in period_bounds(from_on, to_on, interval)]


def series(table: Table, figure: str, buckets: list[dict], by_population: bool) -> list[dict]:
    """One series per group: everyone (population null), then each population seen."""
    groups: list[str | None] = [None] + (table.populations(figure) if by_population else [])
    out = []
    for population in groups:
        # Rows carry a population only when grouped by it; then everyone is the ALL row.
        code = (ALL if population is None else population) if by_population else None
        item: dict = {"population": population}
        if figure == PERSONS:
            found = [table.person_figure((code, b["period"], None)) for b in buckets]
            item["values"] = [f.value for f in found]
            item["exact"] = all(f.exact for f in found)
        else:
            item["values"] = [number(table.value(figure, (code, b["period"], None))) for b in buckets]
        out.append(item)
    return out


def by_station(table: Table, figure: str, station_ids: list[int],
               whole: Table | None = None) -> tuple[dict[int, dict], dict]:
    """The figure for each station asked (children and the node itself) and for the whole subtree:
    from `whole`, an ungrouped answer, when given (distinct counts), else the sum of every station
    group the services answered, asked for or not (a deleted child's records are the subtree's too)."""
    if figure == PERSONS:
        # The subtree's persons are the union of its stations' sets, not the sum of their counts.
        total = PersonsUnion()
        for union in table.persons.values():
            total.merge(union)
        rows = {sid: persons_json(table.person_figure((None, None, sid))) for sid in station_ids}
        return rows, persons_json(total.figure())
    rows = {sid: {"value": number(table.value(figure, (None, None, sid)))} for sid in station_ids}
    if whole is not None:
        return rows, {"value": number(whole.value(figure, (None, None, None)))}
    return rows, {"value": number(sum(table.value(figure, (None, None, sid)) for sid in table.stations()))}
