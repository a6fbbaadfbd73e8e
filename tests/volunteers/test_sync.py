"""Offline sync, the volunteers service's half: pulls scoped to the device's subtree, and pushes
written through the same rules and counts as the REST API."""

import asyncio
import json
from datetime import timedelta

import pytest

from shared.principals import Principal, Role
from shared.idnumber import birth_date
from shared.sync import DEVICE_TOKEN_HEADER
from tests.fixtures.calls import with_etag
from tests.fixtures.people import ID_BORN_1970, ID_BORN_1985, ID_BORN_1990, minor_id
from tests.fixtures.sync import pulled

DEVICE = {"station_id": 2, "station_path": "/1/2/", "device_id": "tab-1"}


async def _pull_once(client, headers, station_path: str, since: str | None) -> dict:
    r = await client.post("/internal/sync/pull", json={"station_path": station_path, "since": since},
                          headers=headers)
    assert r.status_code == 200, r.text
    cursor, rows, deleted = pulled(r)
    return {"cursor": cursor, "rows": rows, "deleted": deleted}


@pytest.fixture
def pull(volunteers_client, service_headers, db):
    """pull(station_path, since) -> {"cursor", "rows": {table: {id: row}}, "deleted": {table: [id]}}.

    The cursor stops below any transaction still running on the server, other test runs' too:
    pull until it has passed every write made so far, as a tablet's next sync would."""

    async def run(station_path: str = "/1/2/", since: str | None = None) -> dict:
        mark = int(await db.fetchval("SELECT pg_current_xact_id()::text"))
        for _ in range(300):
            got = await _pull_once(volunteers_client, service_headers, station_path, since)
            if int(got["cursor"]) > mark:
                return got
            await asyncio.sleep(0.1)
        raise AssertionError("a transaction elsewhere on the server held the pull back for 30 s")

    return run


async def push(client, headers, expect: int = 204, since: str | None = None, check_only: bool = False,
               device: dict = DEVICE, **changes) -> dict | None:
    """Push `changes` as {table: {"created": [...], "updated": [...], "deleted": [...]}}."""
    body = {**device, "since": since, "check_only": check_only,
            "changes": {t: {"created": [], "updated": [], "deleted": [], **c} for t, c in changes.items()}}
    r = await client.post("/internal/sync/push", json=body, headers=headers)
    assert r.status_code == expect, r.text
    return r.json() if r.content else None


def volunteer_row(vid: str = "tab-v1", **fields) -> dict:
    return {"id": vid, "name": "陈平板", "id_type": "mainland_id", "id_number": ID_BORN_1985, "phone": "13800138000",
            "gender": "male", "birth_on": None, "skills": '["助老", "陪诊"]', "available_times": "[]",
            "volunteer_number": None, "status": "active", "disclosure_consent": True, "guardian_name": None,
            "guardian_relation": None, "guardian_consent_on": None, "station_id": 2, "_status": "created",
            "_changed": "", **fields}


def hours_row(hid: str, volunteer_id: str, day, **fields) -> dict:
    return {"id": hid, "volunteer_id": volunteer_id, "team_id": None, "station_id": 2,
            "activity_kind": "free_text", "activity_ref": None, "activity_title": "重阳敬老",
            "served_on": day.isoformat(), "start_time": "09:00", "end_time": "11:30", "hours": None,
            "content": "陪老人聊天", "_status": "created", "_changed": "", **fields}


async def stats(client, service_headers, today) -> dict:
    r = await client.post("/internal/stats", headers=service_headers, json={
        "station_path": "/1/", "from": (today - timedelta(days=30)).isoformat(), "to": today.isoformat()})
    assert r.status_code == 200, r.text
    return {row["metric"]: row["value"] for row in r.json()["rows"]}


def problem_fields(answer: dict) -> set[str]:
    return {e["field"] for e in answer.get("errors", [])}


class TestPull:
    async def test_first_pull_serves_the_subtree_with_wire_values(self, volunteers_client, pull, worker, sibling,
                                                                  register, record, today):
        born = birth_date(minor_id())
        v = await register(worker, phone="13912345678", skills=["助老", "义诊"], disclosure_consent=True)
        child = await register(worker, name="村里", id_number=ID_BORN_1985, station_id=4)
        minor = await register(worker, name="少年", id_number=minor_id(), guardian_consent={
            "name": "家长", "relation": "父亲", "consented_on": today.isoformat()})
        other = await register(sibling, name="邻站", id_number=ID_BORN_1970)
        h = await record(worker, v["id"], hours=None, start_time="09:00", end_time="11:30")
        await record(sibling, other["id"], hours="1")
        got = await pull()
        assert got["cursor"] and got["deleted"] == {}
        assert set(got["rows"]["volunteers"]) == {v["id"], child["id"], minor["id"]}
        assert set(got["rows"]["volunteer_hours"]) == {h["id"]}
        row = got["rows"]["volunteers"][v["id"]]
        assert row == {
            "id": v["id"], "name": "张志愿", "id_type": "mainland_id", "id_number": None, "phone": None,
            "gender": None, "birth_on": "1990-01-01",
            "skills": '["助老","义诊"]', "available_times": "[]", "volunteer_number": v["volunteer_number"],
            "status": "active", "disclosure_consent": True, "guardian_name": None, "guardian_relation": None,
            "guardian_consent_on": None, "registered_on": today.isoformat(), "certified_hours": 0.0,
            "station_id": 2, "created_at": row["created_at"], "updated_at": row["updated_at"]}
        assert isinstance(row["created_at"], int) and row["created_at"] > 1_600_000_000_000
        # Never the ID number or phone, in clear, encrypted or as a blind index: null in their place.
        assert {k: v for k, v in row.items() if "id_number" in k or "phone" in k} == {"id_number": None, "phone": None}
        assert ID_BORN_1990 not in json.dumps(got["rows"], ensure_ascii=False)
        assert got["rows"]["volunteers"][minor["id"]]["guardian_consent_on"] == today.isoformat()
        assert got["rows"]["volunteers"][minor["id"]]["birth_on"] == born.isoformat()
        assert got["rows"]["volunteers"][child["id"]]["station_id"] == 4
        hours = got["rows"]["volunteer_hours"][h["id"]]
        assert {k: hours[k] for k in ("volunteer_id", "team_id", "station_id", "served_on", "start_time",
                                      "end_time", "hours", "content", "status", "dispute_reason")} == {
            "volunteer_id": v["id"], "team_id": None, "station_id": 2, "served_on": today.isoformat(),
            "start_time": "09:00", "end_time": "11:30", "hours": 2.5, "content": "助老送餐", "status": "recorded",
            "dispute_reason": None}
        assert hours["correction_reason"] is None
        # The city sees both townships; the sibling township only its own.
        city = await pull(station_path="/1/")
        assert other["id"] in city["rows"]["volunteers"]
        mine = await pull(station_path="/1/3/")
        assert set(mine["rows"]["volunteers"]) == {other["id"]}

    async def test_since_serves_later_writes_and_tombstones(self, volunteers_client, service_headers, pull, worker,
                                                            register, record, today):
        a = await register(worker)
        b = await register(worker, name="李", id_number=ID_BORN_1985)
        h = await record(worker, a["id"])
        first = await pull()
        again = await pull(since=first["cursor"])
        assert again["rows"] == {} and again["deleted"] == {}
        r = await volunteers_client.patch(f"/v1/volunteers/{b['id']}", json={"gender": "female"},
                                          headers=with_etag(worker, '"1"'))
        assert r.status_code == 200, r.text
        r = await volunteers_client.delete(f"/v1/volunteer-hours/{h['id']}", headers=with_etag(worker, '"1"'))
        assert r.status_code == 204, r.text
        c = await register(worker, name="赵", id_number=ID_BORN_1970)
        later = await pull(since=first["cursor"])
        assert set(later["rows"]["volunteers"]) == {b["id"], c["id"]}
        assert later["rows"]["volunteers"][b["id"]]["gender"] == "female"
        assert later["deleted"] == {"volunteer_hours": [h["id"]]}
        assert "volunteer_hours" not in later["rows"]


class TestPushCreate:
    async def test_pushed_records_read_and_count_like_rest_ones(self, volunteers_client, service_headers, pull, worker,
                                                                tree, today):
        day = today - timedelta(days=1)
        row = volunteer_row(foo="ignored", certified_hours=99, registered_on="2000-01-01")
        await push(volunteers_client, service_headers, volunteers={"created": [row]},
                   volunteer_hours={"created": [hours_row("tab-h1", "tab-v1", day, status="confirmed")]})
        r = await volunteers_client.get("/v1/volunteers/tab-v1", headers=worker)
        assert r.status_code == 200, r.text
        v = r.json()
        assert (v["name"], v["id_number"], v["phone"], v["birth_on"], v["skills"]) == (
            "陈平板", ID_BORN_1985, "13800138000", "1985-06-15", ["助老", "陪诊"])
        assert (v["station_id"], v["created_by"], v["registered_on"], v["certified_hours"]) == (
            2, "device:tab-1", today.isoformat(), 0)
        assert v["volunteer_number"].startswith(f"V2-{today.year}-")
        r = await volunteers_client.get("/v1/volunteer-hours/tab-h1", headers=worker)
        assert r.status_code == 200, r.text
        h = r.json()
        assert (h["hours"], h["status"], h["start_time"], h["served_on"]) == (
            2.5, "recorded", "09:00:00", day.isoformat())
        assert await stats(volunteers_client, service_headers, today) == {
            "volunteers.registered": 1, "volunteer.hours": 2.5, "volunteer.person_times": 1, "volunteers.active": 1}
        # The server filled birth date and number: served back, and a retry with nulls is the same record.
        got = await pull()
        assert got["rows"]["volunteers"]["tab-v1"]["birth_on"] == "1985-06-15"
        await push(volunteers_client, service_headers, since=got["cursor"],
                   volunteers={"created": [volunteer_row()]},
                   volunteer_hours={"created": [hours_row("tab-h1", "tab-v1", day)]})
        # Hours carry nothing write-only: the same push again, without a pull, is no conflict either.
        again = {"created": [hours_row("tab-h1", "tab-v1", day)]}
        await push(volunteers_client, service_headers, volunteer_hours=again)
        # The same create with its ID number and phone, without a pull: compared with the decrypted
        # values, it is what is stored, so no conflict and nothing written.
        await push(volunteers_client, service_headers, volunteers={"created": [volunteer_row()]})
        # Another phone in it is a change made after the tablet's (never) pull: a conflict.
        answer = await push(volunteers_client, service_headers, expect=409,
                            volunteers={"created": [volunteer_row(phone="13900139000")]})
        assert answer["records"] == [{"table": "volunteers", "id": "tab-v1"}]
        assert (await volunteers_client.get("/v1/volunteers/tab-v1", headers=worker)).json()["version"] == 1
        assert (await volunteers_client.get("/v1/volunteer-hours/tab-h1", headers=worker)).json()["version"] == 1

    async def test_a_night_shift_is_one_pushed_record(self, volunteers_client, service_headers, pull, worker, tree,
                                                      today):
        """Schema version 3: a shift past midnight ends the next day and counts one person-time."""
        night = today - timedelta(days=1)
        shift = hours_row("tab-night", "tab-v1", night, ends_on=today.isoformat(), start_time="22:00",
                          end_time="06:00")
        await push(volunteers_client, service_headers, volunteers={"created": [volunteer_row()]},
                   volunteer_hours={"created": [shift]})
        h = (await volunteers_client.get("/v1/volunteer-hours/tab-night", headers=worker)).json()
        assert (h["served_on"], h["ends_on"], h["hours"]) == (night.isoformat(), today.isoformat(), 8.0)
        assert await stats(volunteers_client, service_headers, today) == {
            "volunteers.registered": 1, "volunteer.hours": 8, "volunteer.person_times": 1, "volunteers.active": 1}
        got = await pull()
        assert got["rows"]["volunteer_hours"]["tab-night"]["ends_on"] == today.isoformat()
        # Pushed again as it was (or by a tablet that leaves ends_on null): the same record, no conflict.
        await push(volunteers_client, service_headers, volunteer_hours={"created": [shift]})
        await push(volunteers_client, service_headers, volunteer_hours={"created": [{**shift, "ends_on": None}]})
        assert (await volunteers_client.get("/v1/volunteer-hours/tab-night", headers=worker)).json()["version"] == 1

    async def test_a_repeated_create_is_an_update(self, volunteers_client, service_headers, pull, worker, tree, today):
        await push(volunteers_client, service_headers, volunteers={"created": [volunteer_row()]})
        cursor = (await pull())["cursor"]
        await push(volunteers_client, service_headers, since=cursor,
                   volunteers={"created": [volunteer_row(name="陈平板二", skills='["助老"]',
                                                         phone="13900000000")]})
        v = (await volunteers_client.get("/v1/volunteers/tab-v1", headers=worker)).json()
        assert (v["name"], v["skills"], v["phone"], v["version"]) == ("陈平板二", ["助老"], "13900000000", 2)
        assert (await stats(volunteers_client, service_headers, today))["volunteers.registered"] == 1

    async def test_a_minor_needs_guardian_consent(self, volunteers_client, service_headers, worker, tree, today):
        answer = await push(volunteers_client, service_headers, expect=422,
                            volunteers={"created": [volunteer_row("kid", id_number=minor_id())]})
        assert problem_fields(answer) == {"changes.volunteers.kid.guardian_consent_on"}
        await push(volunteers_client, service_headers, volunteers={"created": [volunteer_row(
            "kid", id_number=minor_id(), guardian_name="家长", guardian_relation="母亲",
            guardian_consent_on=today.isoformat())]})
        v = (await volunteers_client.get("/v1/volunteers/kid", headers=worker)).json()
        assert v["guardian_consent"] == {"name": "家长", "relation": "母亲", "consented_on": today.isoformat()}

    async def test_check_only_writes_nothing(self, volunteers_client, service_headers, worker, tree, db, today):
        await push(volunteers_client, service_headers, expect=200, check_only=True,
                   volunteers={"created": [volunteer_row()]},
                   volunteer_hours={"created": [hours_row("tab-h1", "tab-v1", today)]})
        assert (await volunteers_client.get("/v1/volunteers/tab-v1", headers=worker)).status_code == 404
        for table in ("volunteer", "service_hours", "daily_stat", "served_day", "number_sequence"):
            assert await db.fetchval(f"SELECT count(*) FROM volunteers.{table}") == 0, table
        # A dry run still refuses what the real push would.
        answer = await push(volunteers_client, service_headers, expect=422, check_only=True,
                            volunteers={"created": [volunteer_row(id_number="123")]})
        assert problem_fields(answer) == {"changes.volunteers.tab-v1.id_number"}


class TestPushUpdate:
    async def test_a_record_changed_since_the_pull_conflicts(self, volunteers_client, service_headers, pull, worker,
                                                             register, db):
        v = await register(worker)
        cursor = (await pull())["cursor"]
        r = await volunteers_client.patch(f"/v1/volunteers/{v['id']}", json={"name": "改名"},
                                          headers=with_etag(worker, '"1"'))
        assert r.status_code == 200, r.text
        answer = await push(volunteers_client, service_headers, expect=409, since=cursor,
                            volunteers={"updated": [{"id": v["id"], "name": "张志愿", "gender": "female"}]})
        assert answer["type"].endswith("sync-conflict")
        assert answer["records"] == [{"table": "volunteers", "id": v["id"]}]
        got = (await volunteers_client.get(f"/v1/volunteers/{v['id']}", headers=worker)).json()
        assert (got["name"], got["gender"], got["version"]) == ("改名", None, 2)

    async def test_a_retried_update_changes_nothing_the_second_time(self, volunteers_client, service_headers, pull,
                                                                    worker, register, record, today):
        v = await register(worker)
        h = await record(worker, v["id"], hours="2")
        got = await pull()
        row = {**got["rows"]["volunteers"][v["id"]], "gender": "female", "skills": '["摄影"]',
               "_status": "updated", "_changed": "gender,skills"}
        for _ in range(2):
            await push(volunteers_client, service_headers, since=got["cursor"], volunteers={"updated": [row]})
            after = (await volunteers_client.get(f"/v1/volunteers/{v['id']}", headers=worker)).json()
            assert (after["gender"], after["skills"], after["version"]) == ("female", ["摄影"], 2)
        # Unchanged hours sent along with it (a tablet sends whole records) are left alone.
        same = {**got["rows"]["volunteer_hours"][h["id"]], "start_time": None}
        await push(volunteers_client, service_headers, since=got["cursor"], volunteer_hours={"updated": [same]})
        assert (await volunteers_client.get(f"/v1/volunteer-hours/{h['id']}", headers=worker)).json()["version"] == 1

    async def test_changed_hours_are_a_correction_and_move_the_counts(self, volunteers_client, service_headers, pull,
                                                                      worker, register, record, today):
        v = await register(worker)
        h = await record(worker, v["id"], hours="2")
        got = await pull()
        row = {**got["rows"]["volunteer_hours"][h["id"]], "hours": 3, "status": "confirmed",
               "correction_reason": "多记了一小时的休息", "dispute_reason": "x"}
        await push(volunteers_client, service_headers, since=got["cursor"], volunteer_hours={"updated": [row]})
        after = (await volunteers_client.get(f"/v1/volunteer-hours/{h['id']}", headers=worker)).json()
        assert (after["hours"], after["status"], after["dispute_reason"], after["version"]) == (
            3, "corrected", None, 2)
        history = (await volunteers_client.get(f"/v1/volunteer-hours/{h['id']}/history", headers=worker)).json()
        assert [(i["action"], i["values"]["hours"], i["note"]) for i in history["items"]] == [
            ("record", 2, None), ("correct", 3, "多记了一小时的休息")]
        assert (await volunteers_client.get(f"/v1/volunteers/{v['id']}", headers=worker)).json()[
            "certified_hours"] == 3
        assert await stats(volunteers_client, service_headers, today) == {
            "volunteers.registered": 1, "volunteer.hours": 3, "volunteer.person_times": 1, "volunteers.active": 1}

    async def test_fields_fixed_at_registration_cannot_change(self, volunteers_client, service_headers, pull, worker,
                                                              register):
        v = await register(worker)
        got = await pull()
        row = got["rows"]["volunteers"][v["id"]]
        # The ID number as registered (the tablet that made the record still has it) is no change.
        await push(volunteers_client, service_headers, since=got["cursor"],
                   volunteers={"updated": [{**row, "id_number": ID_BORN_1990, "phone": None}]})
        for change, field in (({"id_number": ID_BORN_1970}, "id_number"), ({"birth_on": "1991-01-01"}, "birth_on"),
                              ({"station_id": 4}, "station_id"), ({"name": None}, "name"),
                              ({"status": "gone"}, "status")):
            answer = await push(volunteers_client, service_headers, expect=422, since=got["cursor"],
                                volunteers={"updated": [{**row, **change}]})
            assert problem_fields(answer) == {f"changes.volunteers.{v['id']}.{field}"}, change
        assert (await volunteers_client.get(f"/v1/volunteers/{v['id']}", headers=worker)).json()["version"] == 1


class TestPushDelete:
    async def test_deletes_take_back_the_counts(self, volunteers_client, service_headers, pull, worker, register,
                                                record, today):
        v = await register(worker)
        kept = await register(worker, name="李", id_number=ID_BORN_1985)
        h = await record(worker, kept["id"], hours="2")
        got = await pull()
        await push(volunteers_client, service_headers, since=got["cursor"],
                   volunteers={"deleted": [v["id"], "never-seen"]}, volunteer_hours={"deleted": [h["id"], "nope"]})
        assert (await volunteers_client.get(f"/v1/volunteers/{v['id']}", headers=worker)).status_code == 404
        assert (await volunteers_client.get(f"/v1/volunteer-hours/{h['id']}", headers=worker)).status_code == 404
        assert await stats(volunteers_client, service_headers, today) == {"volunteers.registered": 1}
        later = await pull(since=got["cursor"])
        assert later["deleted"] == {"volunteers": [v["id"]], "volunteer_hours": [h["id"]]}
        # Deleting it again, or an unknown id, is nothing to do.
        await push(volunteers_client, service_headers, since=later["cursor"], volunteers={"deleted": [v["id"]]})

    async def test_a_volunteer_with_service_records_is_marked_left(self, volunteers_client, service_headers, pull,
                                                                   worker, register, record, today):
        v = await register(worker)
        await record(worker, v["id"], hours="2")
        got = await pull()
        await push(volunteers_client, service_headers, since=got["cursor"], volunteers={"deleted": [v["id"]]})
        after = (await volunteers_client.get(f"/v1/volunteers/{v['id']}", headers=worker)).json()
        assert (after["status"], after["version"]) == ("left", 2)
        later = await pull(since=got["cursor"])
        assert later["rows"]["volunteers"][v["id"]]["status"] == "left" and later["deleted"] == {}
        assert (await stats(volunteers_client, service_headers, today))["volunteer.hours"] == 2


class TestPushFlagged:
    async def test_over_24_hours_is_kept_flagged_until_the_day_is_right_again(self, volunteers_client,
                                                                              service_headers, worker, register,
                                                                              record, db, today):
        v = await register(worker)
        first = await record(worker, v["id"], hours="10")
        await push(volunteers_client, service_headers,
                   volunteer_hours={"created": [hours_row("tab-h1", v["id"], today, start_time=None, end_time=None,
                                                          hours=16)]})
        got = (await volunteers_client.get("/v1/volunteer-hours/tab-h1", headers=worker)).json()
        assert [f["code"] for f in got["review"]] == ["over_24_a_day"] and got["version"] == 1
        listed = (await volunteers_client.get("/v1/review", headers=worker)).json()["items"]
        assert [(i["table"], i["id"], i["path"]) for i in listed] == [
            ("volunteer_hours", "tab-h1", "/v1/volunteer-hours/tab-h1")]
        # The REST record of that day is deleted: the day is 16 hours, the flag goes (a write of the record).
        r = await volunteers_client.delete(f"/v1/volunteer-hours/{first['id']}", headers=with_etag(worker, '"1"'))
        assert r.status_code == 204, r.text
        got = (await volunteers_client.get("/v1/volunteer-hours/tab-h1", headers=worker)).json()
        assert got["review"] is None and got["version"] == 2
        assert await db.fetchval("SELECT review IS NULL FROM volunteers.service_hours WHERE id = 'tab-h1'")
        assert (await volunteers_client.get("/v1/review", headers=worker)).json()["items"] == []

    async def test_a_night_shift_is_flagged_for_the_day_after_and_cleared_with_it(self, volunteers_client,
                                                                                 service_headers, worker, register,
                                                                                 record, today):
        v = await register(worker)
        yesterday = today - timedelta(days=1)
        late = await record(worker, v["id"], hours="20", served_on=today.isoformat())
        # 20:00 yesterday to 06:00 today: 4 hours yesterday, 6 today, where 20 are recorded already.
        await push(volunteers_client, service_headers, volunteer_hours={"created": [
            hours_row("tab-night", v["id"], yesterday, ends_on=today.isoformat(), start_time="20:00",
                      end_time="06:00")]})
        got = (await volunteers_client.get("/v1/volunteer-hours/tab-night", headers=worker)).json()
        assert [f["code"] for f in got["review"]] == ["over_24_a_day"]
        assert today.isoformat() in got["review"][0]["message"]
        # Today's record goes: the shift that started yesterday is within 24 hours on both its days again.
        r = await volunteers_client.delete(f"/v1/volunteer-hours/{late['id']}", headers=with_etag(worker, '"1"'))
        assert r.status_code == 204, r.text
        got = (await volunteers_client.get("/v1/volunteer-hours/tab-night", headers=worker)).json()
        assert got["review"] is None


class TestPushRefused:
    async def test_a_station_outside_the_subtree_is_out_of_scope(self, volunteers_client, service_headers, pull, worker,
                                                                 sibling, register, db, today):
        answer = await push(volunteers_client, service_headers, expect=403,
                            volunteers={"created": [volunteer_row(station_id=3)]})
        assert answer["type"].endswith("sync-out-of-scope")
        assert answer["records"] == [{"table": "volunteers", "id": "tab-v1"}]
        # Hours for a volunteer the device cannot see, or filed under another station.
        other = await register(sibling, name="邻站", id_number=ID_BORN_1970)
        mine = await register(worker)
        for hid, row in (("h-other", hours_row("h-other", other["id"], today)),
                         ("h-unknown", hours_row("h-unknown", "nobody", today)),
                         ("h-station", hours_row("h-station", mine["id"], today, station_id=3))):
            answer = await push(volunteers_client, service_headers, expect=403, volunteer_hours={"created": [row]})
            assert answer["records"] == [{"table": "volunteer_hours", "id": hid}]
        # A record of a sibling station, pushed as an update or a delete.
        got = await pull(station_path="/1/3/")
        row = got["rows"]["volunteers"][other["id"]]
        for change in ({"updated": [{**row, "name": "x"}]}, {"deleted": [other["id"]]}):
            answer = await push(volunteers_client, service_headers, expect=403, since=got["cursor"],
                                volunteers=change)
            assert answer["records"] == [{"table": "volunteers", "id": other["id"]}]
        assert await db.fetchval("SELECT count(*) FROM volunteers.service_hours") == 0
        assert await db.fetchval("SELECT name FROM volunteers.volunteer WHERE id = $1", other["id"]) == "邻站"

    @pytest.mark.parametrize("table, row, field", [
        ("volunteers", volunteer_row("bad", id_number="51010419900101123X"), "id_number"),
        ("volunteers", volunteer_row("bad", phone="12345"), "phone"),
        ("volunteers", volunteer_row("bad", skills="助老"), "skills"),
        ("volunteers", volunteer_row("bad", gender="robot"), "gender"),
        ("volunteers", volunteer_row("bad", birth_on="1990-01-02"), "birth_on"),
        ("volunteer_hours", None, "hours"),
        ("volunteer_hours", None, "end_time"),
    ])
    async def test_a_bad_value_names_the_record_and_field(self, volunteers_client, service_headers, worker,
                                                          register, db, today, table, row, field):
        v = await register(worker)
        if table == "volunteer_hours":
            row = hours_row("bad", v["id"], today, **({"hours": 30, "start_time": None, "end_time": None}
                                                      if field == "hours" else {"end_time": "08:00"}))
        answer = await push(volunteers_client, service_headers, expect=422, **{table: {"created": [row]}})
        assert problem_fields(answer) == {f"changes.{table}.bad.{field}"}
        assert await db.fetchval("SELECT count(*) FROM volunteers.volunteer") == 1
        assert await db.fetchval("SELECT count(*) FROM volunteers.service_hours") == 0

    async def test_an_id_number_registered_already(self, volunteers_client, service_headers, worker, register):
        v = await register(worker)
        answer = await push(volunteers_client, service_headers, expect=422,
                            volunteers={"created": [volunteer_row(id_number=ID_BORN_1990)]})
        assert answer["errors"] == [{"field": "changes.volunteers.tab-v1.id_number", "message": "already registered",
                                     "code": "duplicate", "existing_id": v["id"]}]

    async def test_an_id_number_registered_at_another_station_names_nothing_of_it(self, volunteers_client,
                                                                                   service_headers, sibling,
                                                                                   register, db):
        theirs = await register(sibling, id_number=ID_BORN_1990)
        answer = await push(volunteers_client, service_headers, expect=422,
                            volunteers={"created": [volunteer_row(id_number=ID_BORN_1990)]})
        assert answer["errors"] == [{"field": "changes.volunteers.tab-v1.id_number", "code": "registered_elsewhere",
                                     "message": "This person is registered at another station: ask for a transfer."}]
        assert theirs["id"] not in json.dumps(answer)
        assert await db.fetchval("SELECT actor_id FROM volunteers.audit_log WHERE action = 'id_number_elsewhere'"
                                 ) == "device:tab-1"


class TestActivityOfPushedHours:
    async def test_a_sibling_stations_activity_is_refused_naming_the_field(self, volunteers_client, service_headers,
                                                                          signer, worker, register, make_activity,
                                                                          db, today):
        await make_activity("act-theirs", 3, "/1/3/")
        await make_activity("act-ours")
        v = await register(worker)
        device = signer.access_token(Principal(user_id="device:tab-1", role=Role.social_worker, station_id=2,
                                               station_path="/1/2/", device_id="tab-1"))
        headers = {**service_headers, DEVICE_TOKEN_HEADER: device}
        theirs = hours_row("tab-h1", v["id"], today, activity_kind="community_activity", activity_ref="act-theirs")
        r = await push(volunteers_client, headers, expect=422, volunteer_hours={"created": [theirs]})
        assert problem_fields(r) == {"changes.volunteer_hours.tab-h1.activity_ref"}
        assert await db.fetchval("SELECT count(*) FROM volunteers.service_hours") == 0
        ours = {**theirs, "activity_ref": "act-ours"}
        await push(volunteers_client, headers, volunteer_hours={"created": [ours]})
        assert await db.fetchval("SELECT activity_ref FROM volunteers.service_hours") == "act-ours"
