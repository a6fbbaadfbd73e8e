"""The monthly statistics report of a station subtree: the figures of /v1/stats/summary for
each child station's subtree, the station's own records and the whole subtree; one sheet for
everyone, then one per population counted that month. Below the everyone sheet's table, the station
system of the same rows: stations by tier, projects with their budget by funding source, and staff.

The figures come from the stats machinery (gateway/stats): the same fan-out to the services'
counting contract, merged by the same Table. The whole-subtree row is asked exactly as the
summary asks, so it equals GET /v1/stats/summary for the station and month; the child rows
equal the summary of each child.
"""

from __future__ import annotations

import asyncio
import calendar
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from fastapi import Request

from gateway.models import Station
from gateway.reports import workbook as wb
from gateway.stats import figures as fig
from gateway.stats.api import ask_for, gather_figures
from shared import clock
from shared.errors import BadGateway, InvalidInput
from shared.labels import TABLES, Lang, label
from shared.schemas import EARLIEST, LATEST
from shared.stats import ALL, FIGURES, PERSONS, SYSTEM_FIGURES, Metric


def month_range(month: str) -> tuple[date, date]:
    """'2026-10' -> (2026-10-01, 2026-10-31)."""
    try:
        year, number = (int(part) for part in month.split("-"))
        first = date(year, number, 1)
    except ValueError:
        raise InvalidInput.field("month", "Give the month as YYYY-MM, e.g. 2026-10.", "month") from None
    last = first.replace(day=calendar.monthrange(year, number)[1])
    if not EARLIEST <= first <= last <= LATEST:  # the figures' own calendar (shared.schemas.AnyDate)
        raise InvalidInput.field("month", "is not a plausible date", "month")
    return first, last


def unanswered(services: list[str]) -> BadGateway:
    return BadGateway(f"Services did not answer ({', '.join(services)}); the report was not made. Try again.",
                      services=services)


@dataclass
class Row:
    station: Station | None  # None: the whole subtree (or a former child no longer in the tree)
    kind: str  # "child", "former" (a deleted child whose records still count), "own" or "total"
    table: fig.Table
    station_id: int | None


def _coverage(values: dict) -> float | None:
    """People on rosters visited in the month / people on rosters at its end, in per cent; blank without a roster."""
    members = values["roster.members"]
    return round(100 * values["roster.visited"] / members, 1) if members else None


def _cell(table: fig.Table, figure: str, population: str, station_id: int | None) -> int | float:
    """A figure's value for one population (ALL: everyone) at one station (None: ungrouped)."""
    key = (population, None, station_id)
    if figure == PERSONS:
        return table.person_figure(key).value
    return fig.number(table.value(figure, key))


def _populations(table: fig.Table) -> list[str]:
    found = {p for figure in FIGURES for p in table.populations(figure)}
    known = [p for p in TABLES["population"] if p in found]
    return known + sorted(found - set(known))


async def build(request: Request, station: Station, children: list[Station], month: str, lang: Lang,
                deleted: Sequence[Station] = ()) -> bytes:
    """`deleted`: the station's deleted children; those whose records count this month get a row."""
    from_on, to_on = month_range(month)
    # The summary's own question (its whole-subtree figures), and the same split by child station.
    whole_ask = ask_for(request, station, from_on, to_on, group_by=("population",), persons=True, activity=True,
                        own=True)
    by_station_ask = replace(whole_ask, group_by=("station", "population"))
    whole, by_station = await asyncio.gather(gather_figures(request, whole_ask),
                                             gather_figures(request, by_station_ask))
    failed = sorted(whole.degraded | by_station.degraded)
    if failed:
        # A report is a document that travels: better none than one with holes in it.
        raise unanswered(failed)
    split, total = fig.Table(by_station), fig.Table(whole)
    # Records of a child deleted while it held them still count in the total: their own row keeps the
    # rows adding up to it.
    gone = {s.id: s for s in deleted}
    former = sorted(split.stations() - {c.id for c in children} - {station.id})
    rows = ([Row(c, "child", split, c.id) for c in children]
            + [Row(gone.get(sid), "former", split, sid) for sid in former]
            + [Row(station, "own", split, station.id), Row(None, "total", total, None)])

    book = wb.new_workbook()
    taken: set[str] = set()
    generated = datetime.now(clock.zone()).strftime("%Y-%m-%d %H:%M:%S")
    headings = ([wb.text("station", lang), wb.text("tier", lang)] + [label("figure", f, lang) for f in FIGURES]
                + [wb.text("coverage", lang)])
    for population in [ALL, *_populations(total)]:
        name = wb.text("everyone", lang) if population == ALL else label("population", population, lang)
        ws = book.create_sheet(wb.sheet_title(name, taken))
        top = wb.header_block(ws, wb.text("monthly_title", lang), [
            (wb.text("station", lang), station.name),
            (wb.text("month", lang), month),
            (wb.text("period", lang), f"{from_on.isoformat()} {wb.text('to', lang)} {to_on.isoformat()}"),
            (wb.text("population", lang), name),
            (wb.text("generated_at", lang), generated),
            (wb.text("timezone", lang), clock.timezone_name()),
        ])
        lines = []
        for row in rows:
            if row.kind == "former":
                name = row.station.name if row.station is not None else f"#{row.station_id}"
                first = f"{name} ({wb.text('deleted', lang)})"
            else:
                first = {"child": row.station.name if row.station else "", "own": wb.text("own", lang),
                         "total": wb.text("total", lang)}[row.kind]
            tier = label("station_kind", row.station.kind, lang) if row.station is not None else ""
            values = []
            for figure in FIGURES:
                values.append(_cell(row.table, figure, population, row.station_id))
            lines.append([first, tier, *values, _coverage(dict(zip(FIGURES, values)))])
        after = wb.table(ws, top, headings, lines, number_from=3, widths=(28, 16))
        notes = [wb.text("distinct_note", lang)]
        for i, note in enumerate(notes):
            wb.put(ws, after + 1 + i, 1, note)
        if population == ALL:
            _system(ws, after + len(notes) + 2, rows, total, lang)
    return wb.to_bytes(book)


def _system(ws, top: int, rows: list[Row], total: fig.Table, lang: Lang) -> None:
    """The station system's table from row `top`: a title, then the same rows as the figures above."""
    budget = Metric.projects_budget.value
    sources = total.populations(budget)
    wb.section(ws, top, wb.text("system_title", lang))
    headings = [wb.text("station", lang), wb.text("tier", lang), *(label("figure", f, lang) for f in SYSTEM_FIGURES),
                *(f"{label('figure', budget, lang)}: {label('funding_source', s, lang)}" for s in sources)]
    lines = []
    for row in rows:
        first = row.station.name if row.station is not None else f"#{row.station_id}"
        if row.kind == "former":
            first = f"{first} ({wb.text('deleted', lang)})"
        elif row.kind in ("own", "total"):
            first = wb.text(row.kind, lang)
        tier = label("station_kind", row.station.kind, lang) if row.station is not None else ""
        values = [_cell(row.table, f, ALL, row.station_id) for f in SYSTEM_FIGURES]
        split = [_cell(row.table, budget, s, row.station_id) for s in sources]
        lines.append([first, tier, *values, *split])
    after = wb.table(ws, top + 1, headings, lines, number_from=3)
    wb.put(ws, after + 1, 1, wb.text("system_note", lang))
