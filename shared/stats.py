"""The counting contract (ARCHITECTURE.md "Counting contract").

Metric names live here once. Every service answers the same internal query with rows
of {metric, population?, period?, station?, value}, read from its daily rollups; the query and
its answer travel as shared.contracts.stats.schemas.
"""

from __future__ import annotations

import enum
from datetime import date, timedelta
from typing import Literal

from pydantic_core import PydanticCustomError

# Population code for rollup rows that count everyone once (a person in two
# populations adds to both population rows but only once to this one).
ALL = "_all"


class Metric(str, enum.Enum):
    person_times_casework = "person_times.casework"
    person_times_group = "person_times.group"
    person_times_community = "person_times.community"
    person_times_visit = "person_times.visit"
    roster_members = "roster.members"
    roster_visited = "roster.visited"
    roster_overdue = "roster.overdue"
    cases_new = "cases.new"
    cases_closed = "cases.closed"
    cases_reopened = "cases.reopened"
    cases_open = "cases.open"
    beneficiaries_registered = "beneficiaries.registered"
    groups = "groups"
    group_sessions = "group_sessions"
    activities = "activities"
    resources_linked = "resources.linked_yuan"
    volunteers_registered = "volunteers.registered"
    volunteers_active = "volunteers.active"
    volunteer_hours = "volunteer.hours"
    volunteer_person_times = "volunteer.person_times"
    supervision_sessions = "supervision.sessions"
    supervision_hours = "supervision.hours"
    supervision_cases_reviewed = "supervision.cases_reviewed"
    # The station system (gateway.stats.system): the tree, projects and staff.
    stations_total = "stations.total"
    stations_province = "stations.province"
    stations_city = "stations.city"
    stations_county = "stations.county"
    stations_township = "stations.township"
    stations_village = "stations.village"
    stations_started = "stations.started"
    stations_active = "stations.active"
    projects_active = "projects.active"
    projects_started = "projects.started"
    projects_closed = "projects.closed"
    projects_budget = "projects.budget_yuan"
    staff_social_workers = "staff.social_workers"
    staff_station_heads = "staff.station_heads"
    staff_supervisors = "staff.supervisors"
    staff_active_workers = "staff.active_workers"


# Distinct counts: a volunteer active at two stations is one volunteer in their county, so
# these never add up across stations or periods; a total is asked for, not summed.
DISTINCT_METRICS = frozenset({Metric.volunteers_active, Metric.stations_active, Metric.staff_active_workers})

# Metrics that are a level at a moment (summed over all days up to the period end, or for the
# roster figures read at the period's end), not a flow summed inside the period.
STOCK_METRICS = frozenset({Metric.cases_open, Metric.roster_members, Metric.roster_overdue})

# The station tree's tiers, each counted as stations.<tier> (gateway/identity/schemas.py StationKind).
TIERS = ("province", "city", "county", "township", "village")
# Figures of the gateway's own tables (the tree and the accounts), never asked of a service; the tiers
# and staff roles are levels at a period's end, like STOCK_METRICS.
OWN_STOCKS = (Metric.stations_total, *(Metric(f"stations.{t}") for t in TIERS), Metric.staff_social_workers,
              Metric.staff_station_heads, Metric.staff_supervisors)
OWN_METRICS = frozenset({*OWN_STOCKS, Metric.stations_started})
# The account role each staff figure counts.
STAFF_ROLES = {Metric.staff_social_workers: "social_worker", Metric.staff_station_heads: "station_head",
               Metric.staff_supervisors: "supervisor"}
# Distinct stations and workers that recorded any service, unioned by the gateway from the sets the
# services answer (shared.contracts.activity): a station active in two services is one station.
ACTIVITY_METRICS = (Metric.stations_active, Metric.staff_active_workers)
ACTIVITY_SOURCES = ("cases", "projects")  # their owners in OWNERS below
# Projects' figures, read from the projects service's own table (services/projects/repository/stats.py);
# projects.budget_yuan is split by funding source where other figures are split by population.
PROJECT_METRICS = (Metric.projects_active, Metric.projects_started, Metric.projects_closed, Metric.projects_budget)

GroupBy = Literal["day", "week", "month", "quarter", "year", "population", "station"]
PERIODS = ("day", "week", "month", "quarter", "year")

# What one stats question may cost, in every process that answers one (the gateway's figures, each
# service's stats routes and its internal query): a series longer than MAX_PERIODS is not a
# dashboard any more (ten years by week is 522), and an answer of more than MAX_ROWS rows (about
# 10 MB of JSON) is not a figure; each is refused before it is computed or while it is read.
MAX_PERIODS = 1000
MAX_ROWS = 100_000


def period_count(from_on: date, to_on: date, interval: str) -> int:
    """How many periods of `interval` [from_on, to_on] touches; weeks start on Monday."""
    if interval == "day":
        return (to_on - from_on).days + 1
    if interval == "week":
        return (period_start(to_on, "week") - period_start(from_on, "week")).days // 7 + 1
    months = (to_on.year - from_on.year) * 12 + to_on.month - from_on.month + 1
    return {"month": months, "quarter": (to_on.year * 4 + (to_on.month - 1) // 3)
            - (from_on.year * 4 + (from_on.month - 1) // 3) + 1, "year": to_on.year - from_on.year + 1}[interval]


def too_many_periods(from_on: date, to_on: date, interval: str) -> PydanticCustomError | None:
    """The problem with a series of `interval` over [from_on, to_on], or None when it is short enough."""
    if period_count(from_on, to_on, interval) <= MAX_PERIODS:
        return None
    return PydanticCustomError("too_many_periods", "More than {limit} periods: choose a longer period or a "
                               "shorter range.", {"limit": MAX_PERIODS})


def period_start(day: date, interval: str) -> date:
    """Bucket a day into its period's first day; weeks start on Monday."""
    if interval == "day":
        return day
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    if interval == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    if interval == "year":
        return day.replace(month=1, day=1)
    raise ValueError(interval)


def next_period(start: date, interval: str) -> date:
    """The first day of the period after the one starting on `start`."""
    if interval == "day":
        return start + timedelta(days=1)
    if interval == "week":
        return start + timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[interval]
    month = start.month - 1 + months
    return date(start.year + month // 12, month % 12 + 1, 1)


def period_bounds(from_on: date, to_on: date, interval: str | None) -> list[tuple[date, date, date]]:
    """(first day of the period, first day counted, last day counted) of every period touching
    [from_on, to_on], clipped to it, in order; interval None: the range as one period."""
    if interval is None:
        return [(from_on, from_on, to_on)]
    out, start = [], period_start(from_on, interval)
    while start <= to_on:
        nxt = next_period(start, interval)
        out.append((start, max(start, from_on), min(nxt - timedelta(days=1), to_on)))
        start = nxt
    return out


# SQL date_trunc field for each period (PostgreSQL weeks start on Monday too).
DATE_TRUNC = {"day": "day", "week": "week", "month": "month", "quarter": "quarter", "year": "year"}


# Metrics a project's contract targets may name, with the service that counts them and
# the conditions each accepts ("groups >= 3, each >= 4 sessions and >= 5 members").
# The projects service counts its own; the gateway's progress endpoint asks the owner of
# the others. Two exist only as targets: "cases.full", a case with >= min_sessions service
# records, and "cases.beneficiaries", distinct people with a case of the project (not
# registrations: that is the dashboard's beneficiaries.registered). docs/counting.md.
TARGET_METRICS: dict[str, tuple[str, frozenset[str]]] = {
    "groups": ("projects", frozenset({"min_sessions", "min_members"})),
    "group_sessions": ("projects", frozenset()),
    "activities": ("projects", frozenset({"min_participants"})),
    "person_times.group": ("projects", frozenset()),
    "person_times.community": ("projects", frozenset()),
    "resources.linked_yuan": ("projects", frozenset()),
    "person_times.casework": ("cases", frozenset()),
    "cases.beneficiaries": ("cases", frozenset()),
    "cases.full": ("cases", frozenset({"min_sessions"})),
}

# Target names clients may still send, and the name they are stored and answered under: the
# people-with-a-case target was once called beneficiaries.registered (migration projects_0005).
TARGET_RENAMED: dict[str, str] = {"beneficiaries.registered": "cases.beneficiaries"}


# The services that count each metric: the gateway asks them and, when one fails, names the
# figures that are missing its part. Resources are linked both in casework and at activities.
_COUNTED_BY: dict[tuple[str, ...], tuple[Metric, ...]] = {
    ("cases",): (Metric.person_times_casework, Metric.person_times_visit, Metric.cases_new, Metric.cases_closed,
                 Metric.cases_reopened, Metric.cases_open, Metric.beneficiaries_registered, Metric.roster_members,
                 Metric.roster_visited, Metric.roster_overdue, Metric.supervision_sessions, Metric.supervision_hours,
                 Metric.supervision_cases_reviewed),
    ("cases", "projects"): (Metric.resources_linked, *ACTIVITY_METRICS),
    ("projects",): (Metric.person_times_group, Metric.person_times_community, Metric.groups, Metric.group_sessions,
                    Metric.activities, *PROJECT_METRICS),
    ("volunteers",): (Metric.volunteers_registered, Metric.volunteers_active, Metric.volunteer_hours,
                      Metric.volunteer_person_times),
    ("gateway",): tuple(sorted(OWN_METRICS, key=list(Metric).index)),
}
OWNERS: dict[Metric, tuple[str, ...]] = {
    metric: owners for owners, metrics in _COUNTED_BY.items() for metric in metrics}

# Figures the gateway makes from the services' answers rather than asking for by name:
# person-times of every method, and distinct persons merged from the services' sets.
PERSON_TIMES = "person_times"
PERSONS = "persons"
PERSON_TIMES_PARTS = (Metric.person_times_casework, Metric.person_times_group, Metric.person_times_community,
                      Metric.person_times_visit)
PERSONS_SOURCES = ("cases", "projects")
# The rollup metrics whose everyone-rows (ALL) carry the change counter of the distinct sets kept by
# ancestor (shared/distinct_sets/): every record that puts a person in person_day, makes a station
# or a worker active, or puts a volunteer in served_day (its hours, on each day served) writes one of
# them on its station and day, and a write that would leave them unchanged still touches one
# (shared.rollup.add), so that every change to a set moves the counter.
SET_COUNTERS = (Metric.person_times_casework, Metric.person_times_visit, Metric.person_times_group,
                Metric.person_times_community, Metric.group_sessions, Metric.activities, Metric.volunteer_hours)
# The figures of the service work (the summary's `figures`), and those of the station system: the
# tree, projects and staff (the summary's `system`, the dashboard's station-system card).
SYSTEM_METRICS = (Metric.stations_total, *(Metric(f"stations.{t}") for t in TIERS), Metric.stations_started,
                  Metric.stations_active, *PROJECT_METRICS, Metric.staff_social_workers, Metric.staff_station_heads,
                  Metric.staff_supervisors, Metric.staff_active_workers)
SYSTEM_FIGURES: tuple[str, ...] = tuple(m.value for m in SYSTEM_METRICS)
FIGURES: tuple[str, ...] = (PERSON_TIMES, PERSONS, *(m.value for m in Metric if m not in SYSTEM_METRICS))
EVERY_FIGURE: tuple[str, ...] = (*FIGURES, *SYSTEM_FIGURES)
