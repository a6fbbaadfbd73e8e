"""The counting rules: which record change moves which count (shared.stats metrics).

- volunteers.registered: +1 on the registration day at the volunteer's station, -1 when removed;
- volunteer.hours and volunteer.person_times (one shift, one person-time): each live record
  that is not disputed, on its service day at its organising station. A disputed record
  leaves the counts until the organiser confirms or corrects it;
- volunteers.active: from the served-day table (see models.ServedDay), which follows the same records.

Volunteer metrics have no population breakdown: their rows carry shared.stats.ALL only.
Deltas are gathered per request and written in the same transaction as the records.
"""

from collections import defaultdict
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from services.volunteers.models import ServiceHours, Volunteer
from services.volunteers.repository import stats as repo
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
        key = (r.station_id, r.station_path, r.served_on)
        self._deltas[(*key, Metric.volunteer_hours.value)] += sign * Decimal(r.hours)
        self._deltas[(*key, Metric.volunteer_person_times.value)] += sign
        self._served[(r.volunteer_id, r.served_on, r.station_id, r.station_path)] += sign

    async def write(self, session: AsyncSession) -> None:
        await repo.add(session, dict(self._deltas))
        await repo.add_served(session, dict(self._served))
        self._deltas.clear()
        self._served.clear()


def certified_hours(r: ServiceHours) -> Decimal:
    return Decimal(r.hours) if r.status in CERTIFIED_STATUSES and r.deleted_at is None else Decimal(0)
