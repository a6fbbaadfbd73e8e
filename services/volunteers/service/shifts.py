"""A shift's days: one record is one shift, on the day it starts or from then past midnight to the
next day. Its hours count on the days they were served; the shift itself, one volunteer
person-time, on the day it starts (DOMAIN.md "How counts are defined")."""

from datetime import date, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from shared.errors import InvalidInput

DAY_MINUTES = 24 * 60
CENT = Decimal("0.01")


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def span_minutes(served_on: date, ends_on: date, start: time, end: time) -> int:
    return (ends_on - served_on).days * DAY_MINUTES + _minutes(end) - _minutes(start)


def check_days(served_on: date, ends_on: date, start: time | None, end: time | None) -> None:
    """A shift ends on the day it starts or the next one; past midnight it needs its times, and lasts
    at most 24 hours."""
    days = (ends_on - served_on).days
    if days < 0:
        raise InvalidInput.field("ends_on", "The shift cannot end before the day it starts.", "before_start")
    if days > 1:
        raise InvalidInput.field("ends_on", "A shift ends on the day it starts or the next day.", "too_long")
    if days == 1 and (start is None or end is None):
        raise InvalidInput.field("start_time" if start is None else "end_time",
                                 "Give the start and end times of a shift past midnight.", "missing")
    if days == 1 and span_minutes(served_on, ends_on, start, end) > DAY_MINUTES:
        raise InvalidInput.field("end_time", "A shift lasts at most 24 hours.", "too_long")


def hours_by_day(served_on: date, ends_on: date, start: time | None, end: time | None,
                 hours: Decimal) -> dict[date, Decimal]:
    """The shift's hours on each day it covers: past midnight, split in proportion to the time on
    either side of it (hours below the span, for a break, shrink both parts alike)."""
    if ends_on == served_on or start is None or end is None:
        return {served_on: Decimal(hours)}
    span = span_minutes(served_on, ends_on, start, end)
    first = (Decimal(hours) * (DAY_MINUTES - _minutes(start)) / span).quantize(CENT, rounding=ROUND_HALF_UP)
    parts = {served_on: first, served_on + timedelta(days=1): Decimal(hours) - first}
    return {day: h for day, h in parts.items() if h > 0}


def by_day(shift) -> dict[date, Decimal]:
    """hours_by_day of a record, or of a record's values as a dict."""
    get = shift.get if isinstance(shift, dict) else lambda name: getattr(shift, name)
    return hours_by_day(get("served_on"), get("ends_on"), get("start_time"), get("end_time"), get("hours"))
