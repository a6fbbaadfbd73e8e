"""The lean write path of service records (service.records.create_service_records, used by REST creates
and tablet pushes) against the ORM path it stands in for (service.records.create): the same inputs
leave the same stored rows, audit rows and figures (daily_stat, ancestor_stat kept by its trigger,
person_day). Each path runs in a transaction of the service's own engine that is read and then rolled
back, so both start from the same database and may use the same client ids."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from services.cases.models import Case, ServiceRecord
from services.cases.schemas.records import ServiceRecordCreate
from services.cases.service import records as record_service
from shared.rollup import live_sums_sql
from shared.db import raw_connection
from shared.principals import Principal, Role, device_principal
from shared.repository import get_live
from shared.review import Review
from tests.cases.test_sync import push, uid

pytestmark = pytest.mark.usefixtures("tree")

# Everything but the timestamps and the sync marker, which differ between any two writes.
STORED = {
    "service_record": "SELECT id, case_id, station_id, station_path, beneficiary_id, served_on, mode, "
                      "duration_minutes, content, service_type, resources_yuan, person_times, worker_id, populations, "
                      "create_digest, created_by, updated_by, version, review, deleted_at FROM cases.service_record "
                      "ORDER BY id",
    "audit_log": "SELECT actor_id, actor_role, device_id, address, request_id, operation, action, record_table, "
                 "record_id, station_path FROM cases.audit_log ORDER BY record_table, record_id, action",
    "daily_stat": "SELECT station_id, day, metric, population, station_path, value FROM cases.daily_stat "
                  "ORDER BY 1, 2, 3, 4",
    "ancestor_stat": "SELECT node_id, grain, metric, period, population, parent_id, value "
                     f"FROM ({live_sums_sql('cases')}) AS s WHERE value <> 0 ORDER BY 1, 2, 3, 4, 5",
    "person_day": "SELECT station_id, day, population, person, station_path, refs FROM cases.person_day "
                  "ORDER BY 1, 2, 3, 4",
}


async def _written(cases_app, principal: Principal, inputs: list[tuple[str, dict]], lean: bool,
                   review) -> dict[str, list[dict]]:
    """What one path leaves in the database for `inputs` ((case id, create body) pairs), read inside its
    transaction, which is then rolled back."""
    db, vault = cases_app.state.db, cases_app.state.vault
    bodies = [(case_id, ServiceRecordCreate.model_validate(body)) for case_id, body in inputs]
    async with db.write_sessions() as session:
        session.info["principal"] = principal  # the audit actor, as a push names its device
        await session.execute(text(db.write_guard))
        if lean:
            await record_service.create_service_records(session, vault, principal, bodies, review=review)
        else:
            for case_id, body in bodies:
                case = await get_live(session, Case, case_id, principal, for_update=True)
                await record_service.create(session, vault, principal, record_service.SERVICE_RECORDS, case, body,
                                            review())
        conn = await raw_connection(session)
        found = {name: [dict(r) for r in await conn.fetch(sql)] for name, sql in STORED.items()}
        await session.rollback()
    sealed = ServiceRecord.__table__.c.content.type
    for row in found["service_record"]:
        row["content"] = sealed.open(row["content"])  # each encryption differs; the plain text must not
    return found


@pytest.fixture
async def two_cases(cases_client, register, open_case, worker, today):
    """Two cases of station 2: one person in two populations (the case opened five days ago), one in one."""
    elder = await register(worker, populations=["elderly", "elderly_alone"])
    child = await register(worker, populations=["children"])
    opened = (today - timedelta(days=5)).isoformat()
    first = await open_case(worker, elder["id"], opened_on=opened)
    second = await open_case(worker, child["id"], opened_on=opened)
    return first["id"], second["id"]


def _inputs(first: str, second: str, today, flagged: bool) -> list[tuple[str, dict]]:
    day = today.isoformat()
    inputs = [
        (first, {"id": "sr-1", "served_on": day, "mode": "phone", "content": "电话回访",
                 "service_type": "social_assistance", "resources_yuan": "120.50"}),
        # The same person again that day: one person in person_day, with two records behind it.
        (first, {"id": "sr-2", "served_on": day, "mode": "home_visit", "content": "入户探访",
                 "service_type": "elder_child_care", "worker_id": "w9", "duration_minutes": 45}),
        # No date: the platform's today; three person-times.
        (second, {"id": "sr-3", "mode": "office", "content": "  面谈  ", "service_type": "needs_assessment",
                  "person_times": 3}),
        # A retry of the first: nothing more.
        (first, {"id": "sr-1", "served_on": day, "mode": "phone", "content": "电话回访",
                 "service_type": "social_assistance", "resources_yuan": "120.50"}),
    ]
    if flagged:  # dated before its case opened: a tablet's record is kept and flagged
        inputs.append((second, {"id": "sr-4", "served_on": (today - timedelta(days=9)).isoformat(), "mode": "phone",
                                "content": "补录", "service_type": "social_assistance"}))
    return inputs


class TestLeanAgainstOrm:
    async def test_a_tablets_records(self, cases_app, cases_client, two_cases, today):
        tablet = device_principal("tab-1", 2, "/1/2/")
        inputs = _inputs(*two_cases, today, flagged=True)
        flag = lambda: Review(flag=True)  # noqa: E731
        orm = await _written(cases_app, tablet, inputs, lean=False, review=flag)
        lean = await _written(cases_app, tablet, inputs, lean=True, review=flag)
        assert len(orm["service_record"]) == 4 and orm["service_record"][3]["review"][0]["code"] == "before_opened"
        assert [r["record_id"] for r in orm["audit_log"] if r["record_table"] == "service_record"] == [
            "sr-1", "sr-2", "sr-3", "sr-4"]
        assert any(r["metric"] == "resources.linked_yuan" for r in orm["daily_stat"])
        assert [r for r in orm["person_day"] if r["refs"] == 2]
        for name in STORED:
            assert lean[name] == orm[name], name

    async def test_a_workers_records(self, cases_app, cases_client, two_cases, today):
        worker = Principal(user_id="w2", role=Role.social_worker, station_id=2, station_path="/1/2/")
        inputs = _inputs(*two_cases, today, flagged=False)
        orm = await _written(cases_app, worker, inputs, lean=False, review=Review)
        lean = await _written(cases_app, worker, inputs, lean=True, review=Review)
        assert {r["worker_id"] for r in orm["service_record"]} == {"w2", "w9"}
        for name in STORED:
            assert lean[name] == orm[name], name


class TestLeanPush:
    """What the batched push adds to the one-by-one one: the rules hold for the whole batch."""

    async def test_out_of_scope_names_the_record_and_writes_nothing(self, cases_client, service_headers, open_case,
                                                                     worker, sibling, db, today):
        ours = (await open_case(worker))["id"]
        theirs = (await open_case(sibling))["id"]
        rows = [{"id": uid("sr"), "case_id": case_id, "served_on": today.isoformat(), "mode": "phone",
                 "content": "回访", "service_type": "social_assistance"} for case_id in (ours, ours, theirs)]
        body = await push(cases_client, service_headers, {"service_records": {"created": rows}}, expect=403)
        assert body["records"] == [{"table": "service_records", "id": rows[2]["id"]}]
        assert await db.fetchval("SELECT count(*) FROM cases.service_record") == 0
        assert await db.fetchval("SELECT count(*) FROM cases.daily_stat WHERE metric = 'person_times.casework'") == 0

    async def test_one_id_twice_with_different_bodies_is_refused(self, cases_client, service_headers, open_case,
                                                                 worker, db, today):
        case_id = (await open_case(worker))["id"]
        row = {"id": uid("sr"), "case_id": case_id, "served_on": today.isoformat(), "mode": "phone",
               "content": "回访", "service_type": "social_assistance"}
        body = await push(cases_client, service_headers,
                          {"service_records": {"created": [row, {**row, "content": "别的"}]}}, expect=409)
        assert body["type"].endswith("id-in-use")
        assert await db.fetchval("SELECT count(*) FROM cases.service_record") == 0

    async def test_a_retried_push_counts_once(self, cases_client, service_headers, open_case, worker, db, today):
        case_id = (await open_case(worker))["id"]
        rows = [{"id": uid("sr"), "case_id": case_id, "served_on": today.isoformat(), "mode": "phone",
                 "content": f"回访 {i}", "service_type": "social_assistance", "person_times": 2} for i in range(50)]
        for _ in range(2):
            await push(cases_client, service_headers, {"service_records": {"created": rows}})
        assert await db.fetchval("SELECT count(*) FROM cases.service_record") == 50
        assert await db.fetchval("SELECT value FROM cases.daily_stat WHERE metric = 'person_times.casework' "
                                 "AND population = '_all' AND day = $1", today) == Decimal(100)
        assert await db.fetchval("SELECT count(*) FROM cases.audit_log WHERE record_table = 'service_record' "
                                 "AND actor_id = 'device:tab-1'") == 50
