"""The platform's calendar: "today" and record days are in settings.timezone (Asia/Shanghai by default).

A module setting rather than a dependency because input validators (dates that cannot be
in the future) need it too; create_app() sets it once from the settings.
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

_tz = ZoneInfo("Asia/Shanghai")


def configure(timezone: str) -> None:
    global _tz
    _tz = ZoneInfo(timezone)


def zone() -> ZoneInfo:
    return _tz


def timezone_name() -> str:
    return _tz.key


def today() -> date:
    return datetime.now(_tz).date()


def day_of(moment: datetime) -> date:
    return moment.astimezone(_tz).date()
