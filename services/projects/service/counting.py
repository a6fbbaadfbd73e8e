"""The counting rules: which record change moves which daily rollup (shared.stats metrics).

Every change is a signed delta on (station, day, metric, population) rows: one row for
shared.stats.ALL and one per population code. A changed record is taken out with its old
values and put back with its new ones. Deltas are written in the transaction of the records.

Named attendees count under their populations as recorded at attendance time; anonymous
headcounts, sessions and activities count under ALL (and groups and their sessions under the
group's target population, when it has one).
"""

from collections import defaultdict
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from services.projects.models import Activity, Attendance, Group, GroupSession, PersonDay
from services.projects.repository import stats as repo
from shared.contracts.activity.server import Served
from shared.persons import PersonDeltas
from shared.stats import ALL, Metric

# Service given, for stations.active and staff.active_workers: a group session or an activity held, by
# the account that recorded it.
SERVED = (Served(GroupSession, "held_on", "created_by"), Served(Activity, "held_on", "created_by"))


class Rollup:
    def __init__(self) -> None:
        self._deltas: dict[tuple, Decimal] = defaultdict(Decimal)
        self._persons = PersonDeltas()

    def add(self, record, day: date, metric: Metric, amount, populations=(), with_all: bool = True) -> None:
        codes = ([ALL] if with_all else []) + list(populations)
        for code in codes:
            self._deltas[(record.station_id, record.station_path, day, metric.value, code)] += Decimal(amount)

    def group(self, g: Group, sign: int) -> None:
        self.add(g, g.starts_on, Metric.groups, sign, [g.target_population] if g.target_population else [])

    def session(self, s: GroupSession, target_population: str | None, sign: int) -> None:
        """The session itself and its anonymous headcount (named attendees: attendee())."""
        self.add(s, s.held_on, Metric.group_sessions, sign, [target_population] if target_population else [])
        self.add(s, s.held_on, Metric.person_times_group, sign * s.anonymous_count)

    def activity(self, a: Activity, sign: int) -> None:
        self.add(a, a.held_on, Metric.activities, sign)
        self.add(a, a.held_on, Metric.person_times_community, sign * a.anonymous_count)
        if a.resources_yuan:
            self.add(a, a.held_on, Metric.resources_linked, sign * a.resources_yuan)

    def attendee(self, occasion, attendance: Attendance, sign: int) -> None:
        # `occasion`: an ORM GroupSession or Activity, or the lean path's repository OccasionRow.
        metric = (Metric.person_times_group if occasion.attendance_column == GroupSession.attendance_column
                  else Metric.person_times_community)
        self.add(occasion, occasion.held_on, metric, sign, attendance.populations)
        self._persons.add(occasion.station_id, occasion.station_path, occasion.held_on, attendance.person_no,
                          attendance.populations, sign)

    async def write(self, session: AsyncSession) -> None:
        await repo.add(session, dict(self._deltas))
        self._deltas.clear()
        await self._persons.write(session, PersonDay)

    async def write_raw(self, conn) -> None:
        """`write` on a lean write path's asyncpg connection (shared.db.raw_connection), in its transaction."""
        await repo.add_raw(conn, dict(self._deltas))
        self._deltas.clear()
        await self._persons.write_raw(conn, PersonDay)
