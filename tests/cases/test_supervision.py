"""Supervision records (督导记录): validation, who files one where, scope, and the figures
supervision.sessions, supervision.hours and supervision.cases_reviewed against a ledger of the
sessions the test made."""

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest

from tests.fixtures.calls import fields_of, posted, with_etag
from tests.fixtures.counting import internal_stats, rows_of

PATH = "/v1/supervision-records"
METRICS = ["supervision.sessions", "supervision.hours", "supervision.cases_reviewed"]


@pytest.fixture
def centre_supervisor(token_for):
    return token_for("supervisor", 10, "/9/10/", user_id="sv10")


def session_body(today, **fields) -> dict:
    return {"held_on": today.isoformat(), "supervisor_id": "sv10", "worker_ids": ["w2"], "mode": "individual",
            "duration_minutes": 90, "topics": ["独居老人个案研讨"], **fields}


class TestRecords:
    async def test_a_supervisor_files_at_an_assigned_station_only(self, cases_client, head, worker, open_case,
                                                                  centre_supervisor, today, db):
        case = await open_case(worker)
        body = session_body(today, station_id=2, case_ids=[case["id"]], notes="建议增加家属支持")
        del body["supervisor_id"]
        refused = await cases_client.post(PATH, json=body, headers=centre_supervisor)
        assert refused.status_code == 422 and fields_of(refused) == {"station_id"}
        await posted(cases_client, "/v1/supervisor-assignments", {"supervisor_id": "sv10", "station_id": 2}, head)
        made = await posted(cases_client, PATH, body, centre_supervisor)
        assert made["supervisor_id"] == "sv10" and made["station_id"] == 2 and made["case_ids"] == [case["id"]]
        assert made["notes"] == "建议增加家属支持"
        # The station's own readers see it; a sibling station does not.
        listed = (await cases_client.get(PATH, headers=head)).json()["items"]
        assert [r["id"] for r in listed] == [made["id"]]
        assert (await cases_client.get(f"{PATH}/{made['id']}", headers=worker)).status_code == 200
        audit = await db.fetchval("SELECT actor_id FROM cases.audit_log WHERE record_table = 'supervision_record' "
                                  "AND record_id = $1 AND action = 'create'", made["id"])
        assert audit == "sv10"

    async def test_a_station_head_files_for_the_supervisor(self, cases_client, head, sibling, worker, open_case,
                                                          centre_supervisor, today):
        made = await posted(cases_client, PATH, session_body(today, mode="group", worker_ids=["w2", "w2b", "w2"]),
                            head)
        assert made["supervisor_id"] == "sv10" and made["worker_ids"] == ["w2", "w2b"] and made["station_id"] == 2
        # Without an assignment the supervisor named in it does not see it.
        assert (await cases_client.get(PATH, headers=centre_supervisor)).json()["items"] == []
        assert (await cases_client.get(f"{PATH}/{made['id']}", headers=centre_supervisor)).status_code == 404
        assert (await cases_client.get(f"{PATH}/{made['id']}", headers=sibling)).status_code == 404
        assert (await cases_client.get(PATH, headers=sibling)).json()["items"] == []

    @pytest.mark.parametrize("change, field", [
        ({"mode": "lecture"}, "mode"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"duration_minutes": 24 * 60 + 1}, "duration_minutes"),
        ({"worker_ids": []}, "worker_ids"),
        ({"topics": []}, "topics"),
        ({"worker_ids": ["w2", "w2b"]}, "worker_ids"),  # individual supervision is with one worker
        ({"case_ids": ["no-such-case"]}, "case_ids"),
        ({"supervisor_id": None}, "supervisor_id"),
    ])
    async def test_bad_input_names_the_field_and_writes_nothing(self, cases_client, tree, head, today, db, change,
                                                                field):
        r = await cases_client.post(PATH, json={**session_body(today), **change}, headers=head)
        assert r.status_code == 422, r.text
        assert {f.split(".")[0] for f in fields_of(r)} == {field}
        assert await db.fetchval("SELECT count(*) FROM cases.supervision_record") == 0

    async def test_a_case_of_another_station_cannot_be_named(self, cases_client, head, sibling, open_case, today):
        theirs = await open_case(sibling)
        r = await cases_client.post(PATH, json=session_body(today, case_ids=[theirs["id"]]), headers=head)
        assert r.status_code == 422 and fields_of(r) == {"case_ids"}

    async def test_edit_and_delete_need_the_version_and_a_writer(self, cases_client, tree, head, official, today):
        made = await posted(cases_client, PATH, session_body(today), head)
        url = f"{PATH}/{made['id']}"
        assert (await cases_client.patch(url, json={"duration_minutes": 60}, headers=head)).status_code == 428
        r = await cases_client.patch(url, json={"duration_minutes": 60}, headers=with_etag(head, '"1"'))
        assert r.status_code == 200 and r.json()["duration_minutes"] == 60 and r.json()["version"] == 2
        assert (await cases_client.delete(url, headers=with_etag(head, '"1"'))).status_code == 412
        assert (await cases_client.delete(url, headers=with_etag(official, '"2"'))).status_code == 404
        assert (await cases_client.delete(url, headers=with_etag(head, '"2"'))).status_code == 204
        assert (await cases_client.get(url, headers=head)).status_code == 404


class TestFigures:
    async def test_sessions_hours_and_cases_reviewed_against_a_ledger(self, cases_client, service_headers, head,
                                                                      sibling_head, worker, open_case, today):
        cases = [(await open_case(worker, opened_on=(today - timedelta(days=40)).isoformat()))["id"]
                 for _ in range(3)]
        ledger: dict[tuple[int, str], list] = defaultdict(lambda: [0, Decimal(0), 0])
        made = []
        plan = [(head, 2, 30, 90, cases[:2]), (head, 2, 10, 45, cases), (head, 2, 0, 120, []),
                (sibling_head, 3, 10, 60, [])]
        for headers, station, days_ago, minutes, case_ids in plan:
            held_on = today - timedelta(days=days_ago)
            body = session_body(today, held_on=held_on.isoformat(), duration_minutes=minutes, case_ids=case_ids,
                                mode="group", worker_ids=["w2", "w2b"])
            made.append((await posted(cases_client, PATH, body, headers), station, held_on, minutes, case_ids))
        # An edit moves the figures, a deletion takes them back.
        edited, station, held_on, _, case_ids = made[0]
        r = await cases_client.patch(f"{PATH}/{edited['id']}", json={"duration_minutes": 100,
                                                                    "case_ids": cases[:1]},
                                     headers=with_etag(head, '"1"'))
        assert r.status_code == 200, r.text
        made[0] = (r.json(), station, held_on, 100, cases[:1])
        gone = made.pop(2)
        assert (await cases_client.delete(f"{PATH}/{gone[0]['id']}", headers=with_etag(head, '"1"'))).status_code \
            == 204
        for _, station, held_on, minutes, case_ids in made:
            entry = ledger[(station, held_on.replace(day=1).isoformat())]
            entry[0] += 1
            entry[1] += (Decimal(minutes) / 60).quantize(Decimal("0.01"))  # each session to 0.01 h
            entry[2] += len(case_ids)

        answer = await internal_stats(cases_client, service_headers, today, metrics=METRICS, group_by=["station"])
        for index, metric in enumerate(METRICS):
            expected = defaultdict(float)
            for (station, _month), values in ledger.items():
                expected[(metric, station)] += float(values[index])
            # A station whose sessions discussed no case has no row, or a row of 0 once an edit took them back.
            got = {k: v for k, v in rows_of(answer, "metric", "station").items() if k[0] == metric and v}
            assert got == pytest.approx({k: v for k, v in expected.items() if v}), metric
        by_month = await internal_stats(cases_client, service_headers, today, metrics=["supervision.sessions"],
                                        group_by=["month"])
        months = defaultdict(float)
        for (_station, month), values in ledger.items():
            months[(month,)] += values[0]
        assert rows_of(by_month, "period") == months
