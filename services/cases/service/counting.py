"""The counting rules: which record change moves which daily rollup (shared.stats metrics).

Every change is a signed delta on (station, day, metric, population) rows: one row for
shared.stats.ALL and one per population code. Deltas are gathered per request and
written in the same transaction as the records, so counts and records never disagree.
"""

from collections import defaultdict
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.models import Beneficiary, Case, CaseEvent, PersonDay, ServiceRecord, SupervisionRecord, Visit
from services.cases.repository import stats as repo
from services.cases.schemas.cases import OPEN_STATUSES
from shared.contracts.activity.server import Served
from shared.persons import PersonDeltas
from shared.stats import ALL, Metric

# A transfer's two events on a case: out of the old station, into the new one (the sign of cases.open).
TRANSFER_ACTIONS = {"transfer_out": -1, "transfer_in": +1}

# Service given, for stations.active and staff.active_workers: a service record, by its worker.
SERVED = (Served(ServiceRecord, "served_on", "worker_id"),)


class Rollup:
    def __init__(self) -> None:
        self._deltas: dict[tuple, Decimal] = defaultdict(Decimal)
        self._persons = PersonDeltas()
        self._served: list[tuple] = []

    def add(self, record, day: date, metric: Metric, amount, populations: list[str] = (),
            with_all: bool = True) -> None:
        codes = ([ALL] if with_all else []) + list(populations)
        for code in codes:
            self._deltas[(record.station_id, record.station_path, day, metric.value, code)] += Decimal(amount)

    def beneficiary(self, b: Beneficiary, sign: int) -> None:
        self.add(b, b.registered_on, Metric.beneficiaries_registered, sign, b.populations)

    def beneficiary_populations(self, b: Beneficiary, old: list[str], new: list[str]) -> None:
        # The person still counts once in ALL; only the population rows move.
        self.add(b, b.registered_on, Metric.beneficiaries_registered, -1, [c for c in old if c not in new], False)
        self.add(b, b.registered_on, Metric.beneficiaries_registered, 1, [c for c in new if c not in old], False)

    def service_record(self, r: ServiceRecord, sign: int) -> None:
        self.add(r, r.served_on, Metric.person_times_casework, sign * r.person_times, r.populations)
        # The client is a person served that day (persons are deduplicated across services), counted
        # by their person number, read at write().
        # Its values as they are now, not at write(): an edit changes the record between the two calls.
        self._served.append((r.station_id, r.station_path, r.served_on, r.beneficiary_id, list(r.populations), sign))
        if r.resources_yuan:
            self.add(r, r.served_on, Metric.resources_linked, sign * r.resources_yuan, r.populations)

    def visit(self, v: Visit, sign: int) -> None:
        # A visit is one person-time of its own method, and the person is served that day.
        self.add(v, v.visited_on, Metric.person_times_visit, sign, v.populations)
        self._served.append((v.station_id, v.station_path, v.visited_on, v.beneficiary_id, list(v.populations), sign))

    def case_event(self, case: Case, event: CaseEvent, sign: int) -> None:
        # Counted at the event's own station, where the step was taken: a case that moved since (a
        # transfer) keeps its past steps counted where they happened, and taking a step back (the case
        # deleted) takes it back there.
        day, pops = event.occurred_on, case.populations
        if event.action == "open":
            self.add(event, day, Metric.cases_new, sign, pops)
            self.add(event, day, Metric.cases_open, sign, pops)
        elif event.action == "close" and event.from_status in OPEN_STATUSES:
            self.add(event, day, Metric.cases_closed, sign, pops)
            self.add(event, day, Metric.cases_open, -sign, pops)
        elif event.action == "reopen":
            self.add(event, day, Metric.cases_reopened, sign, pops)
            self.add(event, day, Metric.cases_open, sign, pops)
        elif event.action in TRANSFER_ACTIONS and event.from_status in OPEN_STATUSES:
            # The open case leaves one station's stock and joins the other's on the transfer day;
            # it is neither new nor closed (service/transfers.py).
            self.add(event, day, Metric.cases_open, TRANSFER_ACTIONS[event.action] * sign, pops)

    def supervision(self, record: SupervisionRecord, sign: int) -> None:
        """A session, its hours and the cases it discussed, on the day it was held; not by population."""
        self.add(record, record.held_on, Metric.supervision_sessions, sign)
        # Each session's hours to the cent of an hour, as the rollup keeps them: an edit takes back exactly what
        # was added.
        hours = (Decimal(record.duration_minutes) / 60).quantize(Decimal("0.01"))
        self.add(record, record.held_on, Metric.supervision_hours, sign * hours)
        if record.case_ids:
            self.add(record, record.held_on, Metric.supervision_cases_reviewed, sign * len(record.case_ids))

    async def write(self, session: AsyncSession) -> None:
        await repo.add(session, dict(self._deltas))
        self._deltas.clear()
        numbers = await repo.person_numbers(session, {s[3] for s in self._served})
        self._number_served(numbers)
        await self._persons.write(session, PersonDay)

    async def write_raw(self, conn, numbers: dict[str, int]) -> None:
        """`write` on a lean write path's asyncpg connection (shared.db.raw_connection), in its
        transaction; `numbers`: the person number of every beneficiary served, which that path read
        with the records' cases."""
        await repo.add_raw(conn, dict(self._deltas))
        self._deltas.clear()
        self._number_served(numbers)
        await self._persons.write_raw(conn, PersonDay)

    def _number_served(self, numbers: dict[str, int]) -> None:
        served, self._served = self._served, []
        for station_id, station_path, day, beneficiary_id, populations, sign in served:
            self._persons.add(station_id, station_path, day, numbers.get(beneficiary_id), populations, sign)
