"""The platform's calendar: "today" and record days are in settings.timezone (Asia/Shanghai by default).

A module setting rather than a dependency because input validators (dates that cannot be
in the future) need it too; create_app() sets it once from the settings. Every "today" of the
platform comes from `now()`, so a day's edge (00:30 in Shanghai is the day before in UTC) can
be tested by setting the instant there.
"""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

_tz = ZoneInfo("Asia/Shanghai")


def configure(timezone: str) -> None:
    global _tz
    _tz = ZoneInfo(timezone)


def zone() -> ZoneInfo:
    return _tz


def timezone_name() -> str:
    return _tz.key


def now() -> datetime:
    """The current instant, timezone-aware."""
    return datetime.now(UTC)


def today() -> date:
    """Today in the platform's time zone, whatever the server's or the client's zone."""
    return now().astimezone(_tz).date()


def day_of(moment: datetime) -> date:
    return moment.astimezone(_tz).date()
