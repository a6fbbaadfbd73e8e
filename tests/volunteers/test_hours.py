"""Service hours: recording by the organiser, bad input, confirm, dispute by the volunteer, correction with history."""

from datetime import timedelta

from tests.fixtures.calls import fields_of, with_etag
from tests.fixtures.people import ID_BORN_1985


def fields_of_json(problem: dict) -> set[str]:
    return {e["field"] for e in problem.get("errors", [])}


async def link(client, login, volunteer_id: str, version: int = 1) -> None:
    r = await client.patch(f"/v1/volunteers/{volunteer_id}", json={"user_id": login.user_id},
                           headers=with_etag(login.head, f'"{version}"'))
    assert r.status_code == 200, r.text


class TestRecordHours:
    async def test_recorded_by_organiser_with_times(self, volunteers_client, worker, supervisor, sibling, official,
                                                    register, record, make_activity, db, today):
        await make_activity("act-123")
        v = await register(worker)
        h = await record(worker, v["id"], hours=None, start_time="09:00", end_time="11:30",
                         activity_kind="community_activity", activity_ref="act-123", activity_title="重阳敬老")
        assert h["hours"] == 2.5 and h["status"] == "recorded" and h["station_id"] == 2
        assert h["activity_ref"] == "act-123" and h["created_by"] == "w2"
        url = f"/v1/volunteer-hours/{h['id']}"
        assert (await volunteers_client.get(url, headers=supervisor)).json() == h
        for headers in (sibling, official):
            assert (await volunteers_client.get(url, headers=headers)).status_code == 404
        assert (await volunteers_client.get("/v1/volunteer-hours", headers=official)).status_code == 404
        assert (await volunteers_client.get("/v1/volunteer-hours", headers=sibling)).json()["items"] == []
        r = await volunteers_client.post("/v1/volunteer-hours", headers=sibling, json={
            "volunteer_id": v["id"], "served_on": today.isoformat(), "hours": 1, "content": "x"})
        assert r.status_code == 422 and fields_of(r) == {"volunteer_id"}
        history = (await volunteers_client.get(f"{url}/history", headers=worker)).json()["items"]
        assert [(i["action"], i["status"], i["values"]["hours"]) for i in history] == [("record", "recorded", 2.5)]

    async def test_hours_less_than_the_span_travel_excluded(self, worker, register, record):
        v = await register(worker)
        h = await record(worker, v["id"], start_time="08:00", end_time="12:00", hours="3")
        assert h["hours"] == 3.0

    async def test_bad_input_writes_nothing(self, volunteers_client, worker, register, record, db, today):
        v = await register(worker)
        good = {"volunteer_id": v["id"], "served_on": today.isoformat(), "hours": 2, "content": "助老"}
        for change, field in (({"hours": 0}, "hours"), ({"hours": -1}, "hours"), ({"hours": 25}, "hours"),
                              ({"hours": None, "start_time": "10:00", "end_time": "09:00"}, "end_time"),
                              ({"hours": None, "start_time": "10:00", "end_time": "10:00"}, "end_time"),
                              ({"hours": 5, "start_time": "10:00", "end_time": "11:00"}, "hours"),
                              ({"hours": None}, "hours"), ({"hours": None, "start_time": "10:00"}, "end_time"),
                              ({"served_on": (today + timedelta(days=1)).isoformat()}, "served_on"),
                              ({"activity_kind": "group_session"}, "activity_ref"), ({"content": ""}, "content"),
                              ({"volunteer_id": "nobody"}, "volunteer_id"), ({"team_id": "nobody"}, "team_id")):
            r = await volunteers_client.post("/v1/volunteer-hours", json={**good, **change}, headers=worker)
            assert r.status_code == 422 and field in fields_of(r), (change, r.text)
        assert await db.fetchval("SELECT count(*) FROM volunteers.service_hours") == 0
        assert await db.fetchval("SELECT count(*) FROM volunteers.daily_stat WHERE metric LIKE 'volunteer.%'") == 0

    async def test_at_most_24_hours_a_day_for_one_volunteer(self, volunteers_client, worker, city_head, register,
                                                            record, db, today):
        v = await register(worker)
        await record(worker, v["id"], hours="10")
        # Another organiser, at another station: the day's total counts every station.
        other = await record(city_head, v["id"], hours="10")
        assert other["station_id"] == 1
        r = await volunteers_client.post("/v1/volunteer-hours", headers=worker, json={
            "volunteer_id": v["id"], "served_on": today.isoformat(), "hours": "4.5", "content": "夜间值守"})
        assert r.status_code == 422 and fields_of(r) == {"hours"} and r.json()["errors"][0]["code"] == "over_24_a_day"
        await record(worker, v["id"], hours="4")
        yesterday = (today - timedelta(days=1)).isoformat()
        await record(worker, v["id"], hours="4.5", served_on=yesterday)
        assert await db.fetchval("SELECT sum(hours) FROM volunteers.service_hours WHERE served_on = $1", today) == 24

    async def test_client_id_replay(self, volunteers_client, worker, register, db, today):
        v = await register(worker)
        body = {"id": "tab-h1", "volunteer_id": v["id"], "served_on": today.isoformat(), "hours": 2, "content": "x"}
        first = await volunteers_client.post("/v1/volunteer-hours", json=body, headers=worker)
        again = await volunteers_client.post("/v1/volunteer-hours", json=body, headers=worker)
        assert (first.status_code, again.status_code) == (201, 200) and first.json() == again.json()
        assert await db.fetchval("SELECT value FROM volunteers.daily_stat WHERE metric = 'volunteer.hours'") == 2

    async def test_roles_that_cannot_record(self, volunteers_client, worker, supervisor, me, official, register,
                                            today):
        v = await register(worker)
        body = {"volunteer_id": v["id"], "served_on": today.isoformat(), "hours": 2, "content": "x"}
        for headers in (supervisor, me, official):
            assert (await volunteers_client.post("/v1/volunteer-hours", json=body, headers=headers)).status_code == 403


class TestConfirmHours:
    async def test_confirm_counts_toward_stars(self, volunteers_client, worker, supervisor, register, record, act):
        v = await register(worker)
        h = await record(worker, v["id"], hours="6")
        await act(supervisor, h["id"], "confirm", expect=403)
        confirmed = await act(worker, h["id"], "confirm", note="已核实")
        assert confirmed["status"] == "confirmed" and confirmed["version"] == 2
        again = await act(worker, h["id"], "confirm", expect=409)
        assert again["current_status"] == "confirmed" and again["allowed_actions"] == ["dispute", "correct"]
        got = (await volunteers_client.get(f"/v1/volunteers/{v['id']}", headers=worker)).json()
        assert got["certified_hours"] == 6


class TestDisputeAndCorrect:
    async def test_volunteer_disputes_and_organiser_corrects(self, volunteers_client, worker, head, me, login,
                                                             register, record, act, db, today):
        v = await register(worker)
        other = await register(worker, name="别人", id_number=ID_BORN_1985)
        await link(volunteers_client, login, v["id"])
        h = await record(worker, v["id"], hours="3", content="社区清洁")
        theirs = await record(worker, other["id"])
        await act(worker, h["id"], "confirm")
        url = f"/v1/volunteer-hours/{h['id']}"

        # The volunteer sees their own records only, and disputes one.
        mine = (await volunteers_client.get("/v1/volunteer-hours", headers=me)).json()["items"]
        assert [i["id"] for i in mine] == [h["id"]]
        assert (await volunteers_client.get(f"/v1/volunteer-hours/{theirs['id']}", headers=me)).status_code == 404
        await act(me, theirs["id"], "dispute", expect=404, reason="不是我的")
        await act(worker, h["id"], "dispute", expect=403, reason="代为申诉")
        await act(me, h["id"], "dispute", expect=422)
        disputed = await act(me, h["id"], "dispute", reason="实际服务4小时")
        assert disputed["status"] == "disputed" and disputed["dispute_reason"] == "实际服务4小时"
        await act(me, h["id"], "confirm", expect=404)
        stats = {r["metric"]: r["value"] for r in await db.fetch(
            "SELECT metric, sum(value) AS value FROM volunteers.daily_stat GROUP BY 1")}
        assert stats["volunteer.hours"] == 2 and stats["volunteer.person_times"] == 1  # the disputed one left

        # The organiser corrects it; the earlier versions stay in its history.
        r = await volunteers_client.post(f"{url}/correct", json={"hours": "4", "reason": "核实后更正"}, headers=worker)
        assert r.status_code == 428
        r = await volunteers_client.post(f"{url}/correct", json={"hours": "4", "reason": "核实后更正"},
                                         headers=with_etag(worker, f'"{disputed["version"]}"'))
        assert r.status_code == 200, r.text
        corrected = r.json()
        assert corrected["status"] == "corrected" and corrected["hours"] == 4.0 and corrected["content"] == "社区清洁"
        history = (await volunteers_client.get(f"{url}/history", headers=me)).json()["items"]
        assert [(i["action"], i["status"], i["values"]["hours"], i["version"]) for i in history] == [
            ("record", "recorded", 3, 1), ("confirm", "confirmed", 3, 2), ("dispute", "disputed", 3, 3),
            ("correct", "corrected", 4, 4)]
        assert history[2]["note"] == "实际服务4小时" and history[3]["note"] == "核实后更正" and history[3]["by"] == "w2"
        assert (await volunteers_client.get("/v1/volunteers/me", headers=me)).json()["certified_hours"] == 4
        stats = {r["metric"]: r["value"] for r in await db.fetch(
            "SELECT metric, sum(value) AS value FROM volunteers.daily_stat GROUP BY 1")}
        assert stats["volunteer.hours"] == 6 and stats["volunteer.person_times"] == 2

    async def test_correction_is_checked_like_a_record(self, volunteers_client, worker, register, record, today):
        v = await register(worker)
        h = await record(worker, v["id"], hours="20")
        await record(worker, v["id"], hours="3")
        url = f"/v1/volunteer-hours/{h['id']}/correct"
        for change, field in (({"hours": "22"}, "hours"), ({"hours": 0}, "hours"),
                              ({"start_time": "12:00", "end_time": "08:00"}, "end_time"), ({}, "reason")):
            r = await volunteers_client.post(url, json=change | ({"reason": "x"} if field != "reason" else {}),
                                             headers=with_etag(worker, '"1"'))
            assert r.status_code == 422 and field in fields_of(r), (change, r.text)


class TestDeleteHours:
    async def test_delete_takes_back_counts(self, volunteers_client, worker, register, record, act, db):
        v = await register(worker)
        h = await record(worker, v["id"], hours="5")
        await act(worker, h["id"], "confirm")
        url = f"/v1/volunteer-hours/{h['id']}"
        assert (await volunteers_client.delete(url, headers=with_etag(worker, '"1"'))).status_code == 412
        assert (await volunteers_client.delete(url, headers=with_etag(worker, '"2"'))).status_code == 204
        assert (await volunteers_client.get(url, headers=worker)).status_code == 404
        assert await db.fetchval("SELECT sum(value) FROM volunteers.daily_stat WHERE metric LIKE 'volunteer.%'") == 0
        assert await db.fetchval("SELECT count(*) FROM volunteers.served_day") == 0
        assert await db.fetchval("SELECT certified_hours FROM volunteers.volunteer") == 0


class TestShiftsPastMidnight:
    """One shift is one record and one volunteer person-time (DOMAIN.md), also when it runs past
    midnight: it ends on the next day (`ends_on`), its hours count on the days they were served."""

    async def _by_day(self, client, headers, first, last) -> dict[tuple[str, str], float]:
        r = await client.get("/v1/volunteers/stats", headers=headers, params={
            "from": first.isoformat(), "to": last.isoformat(), "group_by": "day"})
        assert r.status_code == 200, r.text
        return {(row["metric"], row["period"]): row["value"] for row in r.json()["rows"]
                if row["metric"] != "volunteers.registered"}

    async def test_a_night_shift_is_one_record_one_person_time_and_its_hours_split_by_day(
            self, volunteers_client, worker, register, record, act, today):
        v = await register(worker)
        night = today - timedelta(days=1)
        h = await record(worker, v["id"], served_on=night.isoformat(), ends_on=today.isoformat(), hours=None,
                         start_time="22:00", end_time="06:00", content="夜间陪护")
        assert (h["served_on"], h["ends_on"], h["hours"]) == (night.isoformat(), today.isoformat(), 8.0)
        await act(worker, h["id"], "confirm")
        got = await self._by_day(volunteers_client, worker, night, today)
        assert got == {("volunteer.person_times", night.isoformat()): 1,
                       ("volunteer.hours", night.isoformat()): 2, ("volunteer.hours", today.isoformat()): 6,
                       ("volunteers.active", night.isoformat()): 1, ("volunteers.active", today.isoformat()): 1}
        # Over both days: one shift, one volunteer, 8 hours.
        r = await volunteers_client.get("/v1/volunteers/stats", headers=worker, params={
            "from": night.isoformat(), "to": today.isoformat()})
        assert {row["metric"]: row["value"] for row in r.json()["rows"]} == {
            "volunteer.person_times": 1, "volunteer.hours": 8, "volunteers.active": 1, "volunteers.registered": 1}

    async def test_hours_below_the_span_split_in_proportion(self, volunteers_client, worker, register, record, today):
        v = await register(worker)
        night = today - timedelta(days=1)
        await record(worker, v["id"], served_on=night.isoformat(), ends_on=today.isoformat(), hours="3",
                     start_time="22:00", end_time="04:00")
        got = await self._by_day(volunteers_client, worker, night, today)
        assert (got[("volunteer.hours", night.isoformat())], got[("volunteer.hours", today.isoformat())]) == (1, 2)

    async def test_bad_shifts_write_nothing(self, volunteers_client, worker, register, db, today):
        v = await register(worker)
        night = today - timedelta(days=2)
        good = {"volunteer_id": v["id"], "served_on": night.isoformat(), "content": "夜间陪护",
                "ends_on": (night + timedelta(days=1)).isoformat(), "start_time": "22:00", "end_time": "06:00"}
        for change, field, code in (
                ({"ends_on": (night + timedelta(days=2)).isoformat()}, "ends_on", "too_long"),
                ({"ends_on": (night - timedelta(days=1)).isoformat()}, "ends_on", "before_start"),
                ({"start_time": None, "end_time": None, "hours": 8}, "start_time", "missing"),
                ({"start_time": "08:00", "end_time": "09:00"}, "end_time", "too_long"),
                ({"hours": 9}, "hours", "over_span")):
            r = await volunteers_client.post("/v1/volunteer-hours", json={**good, **change}, headers=worker)
            assert r.status_code == 422 and [(e["field"], e["code"]) for e in r.json()["errors"]] == [(field, code)], (
                change, r.text)
        assert await db.fetchval("SELECT count(*) FROM volunteers.service_hours") == 0

    async def test_24_hours_a_day_counts_the_part_of_a_shift_on_each_day(self, volunteers_client, worker,
                                                                          register, record, today):
        v = await register(worker)
        night = today - timedelta(days=1)
        await record(worker, v["id"], served_on=night.isoformat(), ends_on=today.isoformat(), hours=None,
                     start_time="20:00", end_time="08:00")  # 4 hours yesterday, 8 today
        await record(worker, v["id"], hours="16")
        r = await volunteers_client.post("/v1/volunteer-hours", headers=worker, json={
            "volunteer_id": v["id"], "served_on": today.isoformat(), "hours": "0.5", "content": "x"})
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "over_24_a_day", r.text
        await record(worker, v["id"], served_on=night.isoformat(), hours="20")

    async def test_a_correction_moving_the_day_keeps_the_shift_together(self, volunteers_client, worker, register,
                                                                         record, act, today):
        v = await register(worker)
        night = today - timedelta(days=1)
        h = await record(worker, v["id"], served_on=night.isoformat(), ends_on=today.isoformat(), hours=None,
                         start_time="22:00", end_time="06:00")
        earlier = night - timedelta(days=3)
        r = await volunteers_client.post(f"/v1/volunteer-hours/{h['id']}/correct",
                                         json={"served_on": earlier.isoformat(), "reason": "日期录错"},
                                         headers=with_etag(worker, f'"{h["version"]}"'))
        assert r.status_code == 200, r.text
        fixed = r.json()
        assert (fixed["served_on"], fixed["ends_on"], fixed["hours"]) == (
            earlier.isoformat(), (earlier + timedelta(days=1)).isoformat(), 8.0)
        got = await self._by_day(volunteers_client, worker, earlier, today)
        assert got == {("volunteer.person_times", earlier.isoformat()): 1,
                       ("volunteer.hours", earlier.isoformat()): 2,
                       ("volunteer.hours", (earlier + timedelta(days=1)).isoformat()): 6,
                       ("volunteers.active", earlier.isoformat()): 1,
                       ("volunteers.active", (earlier + timedelta(days=1)).isoformat()): 1}


class TestActivityNamed:
    """An hours record served at an activity or a group session names one the organiser can see
    (the projects service decides), when recorded and when corrected."""

    async def test_a_sibling_stations_activity_is_refused_naming_the_field(self, volunteers_client, worker, register,
                                                                          record, make_activity, db, today):
        await make_activity("act-ours")
        await make_activity("session-ours", session=True)
        await make_activity("act-theirs", 3, "/1/3/")
        v = await register(worker)
        for kind, ref in (("community_activity", "act-theirs"), ("community_activity", "ghost"),
                          ("group_session", "act-ours"), ("community_activity", "session-ours"),
                          ("free_text", "act-ours")):
            r = await record(worker, v["id"], expect=422, activity_kind=kind, activity_ref=ref)
            assert fields_of_json(r) == {"activity_ref"}, (kind, ref)
        assert await db.fetchval("SELECT count(*) FROM volunteers.service_hours") == 0
        await record(worker, v["id"], activity_kind="group_session", activity_ref="session-ours", hours="1")
        h = await record(worker, v["id"], activity_kind="community_activity", activity_ref="act-ours")
        url = f"/v1/volunteer-hours/{h['id']}/correct"
        r = await volunteers_client.post(url, headers=with_etag(worker, '"1"'),
                                         json={"activity_ref": "act-theirs", "reason": "记错了活动"})
        assert r.status_code == 422 and fields_of(r) == {"activity_ref"}, r.text
        assert await db.fetchval("SELECT activity_ref FROM volunteers.service_hours WHERE id = $1",
                                 h["id"]) == "act-ours"
        r = await volunteers_client.post(url, headers=with_etag(worker, '"1"'),
                                         json={"activity_kind": "free_text", "reason": "不是活动中的服务"})
        assert r.status_code == 200 and r.json()["activity_ref"] is None, r.text
