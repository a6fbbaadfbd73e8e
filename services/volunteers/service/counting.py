"""The counting rules: which record change moves which count (shared.stats metrics).

- volunteers.registered: +1 on the registration day at the volunteer's station, -1 when removed;
- volunteer.person_times (one shift, one person-time): each live record that is not disputed,
  on the day its shift starts, at its organising station;
- volunteer.hours: its hours on the days they were served (a shift past midnight splits them
  over its two days: service/shifts.py). A disputed record leaves the counts until the
  organiser confirms or corrects it;
- volunteers.active: from the served-day table (see models.ServedDay), on each day with hours.

Volunteer metrics have no population breakdown: their rows carry shared.stats.ALL only.
Deltas are gathered per request and written in the same transaction as the records.
"""

from collections import defaultdict
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from services.volunteers.models import ServiceHours, Volunteer
from services.volunteers.repository import stats as repo
from services.volunteers.service import shifts
from shared.stats import Metric

COUNTED_STATUSES = frozenset({"recorded", "confirmed", "corrected"})
# What a certificate states: hours the organiser has confirmed, or corrected after a dispute.
CERTIFIED_STATUSES = frozenset({"confirmed", "corrected"})


class Rollup:
    def __init__(self) -> None:
        self._deltas: dict[tuple, Decimal] = defaultdict(Decimal)
        self._served: dict[tuple, int] = defaultdict(int)

    def volunteer(self, v: Volunteer, sign: int) -> None:
        self._deltas[(v.station_id, v.station_path, v.registered_on, Metric.volunteers_registered.value)] += sign

    def hours(self, r: ServiceHours, sign: int) -> None:
        """Count (sign +1) or take back (-1) a record as it stands now, if its status counts."""
        if r.status not in COUNTED_STATUSES or r.deleted_at is not None:
            return
        self._deltas[(r.station_id, r.station_path, r.served_on, Metric.volunteer_person_times.value)] += sign
        for day, hours in shifts.by_day(r).items():
            self._deltas[(r.station_id, r.station_path, day, Metric.volunteer_hours.value)] += sign * hours
            self._served[(r.volunteer_id, day, r.station_id, r.station_path)] += sign

    async def write(self, session: AsyncSession) -> None:
        await repo.add(session, dict(self._deltas))
        await repo.add_served(session, dict(self._served))
        self._deltas.clear()
        self._served.clear()


    async def write_raw(self, conn) -> None:
        """`write` on a lean write path's asyncpg connection (shared.db.raw_connection), in its transaction."""
        await repo.add_raw(conn, dict(self._deltas))
        await repo.add_served_raw(conn, dict(self._served))
        self._deltas.clear()
        self._served.clear()


def certified_hours(r: ServiceHours) -> Decimal:
    return Decimal(r.hours) if r.status in CERTIFIED_STATUSES and r.deleted_at is None else Decimal(0)
