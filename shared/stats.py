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


# Distinct counts: a volunteer active at two stations is one volunteer in their county, so
# these never add up across stations or periods; a total is asked for, not summed.
DISTINCT_METRICS = frozenset({Metric.volunteers_active})

# Metrics that are a level at a moment (summed over all days up to the period end, or for the
# roster figures read at the period's end), not a flow summed inside the period.
STOCK_METRICS = frozenset({Metric.cases_open, Metric.roster_members, Metric.roster_overdue})

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
                 Metric.roster_visited, Metric.roster_overdue),
    ("cases", "projects"): (Metric.resources_linked,),
    ("projects",): (Metric.person_times_group, Metric.person_times_community, Metric.groups, Metric.group_sessions,
                    Metric.activities),
    ("volunteers",): (Metric.volunteers_registered, Metric.volunteers_active, Metric.volunteer_hours,
                      Metric.volunteer_person_times),
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
FIGURES: tuple[str, ...] = (PERSON_TIMES, PERSONS, *(m.value for m in Metric))
