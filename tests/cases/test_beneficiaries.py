"""Beneficiaries: registration, dedup by ID number, masking per role, search, updates, deletes, scope."""

import json
import sys
from datetime import timedelta

import httpx

from services.cases.identity import pinyin_keys
from services.cases.models import Beneficiary
from tests.fixtures.calls import with_etag
from tests.fixtures.people import ID_BORN_1955, ID_BORN_1980, id_number


class TestRegisterBeneficiary:
    async def test_stores_encrypted_and_answers_masked(self, cases_client, worker, register, db, today):
        consent_on = (today - timedelta(days=3)).isoformat()
        b = await register(worker, id_number=ID_BORN_1980, phone="13812345678", gender="male",
                           populations=["elderly", "elderly_alone"], self_care="partial",
                           emergency_contact={"name": "张小", "relation": "son", "phone": "13900001111"},
                           consents=[{"kind": "service", "given_on": consent_on, "by": "本人"}])
        assert b["id_number"] == "5101**********" + ID_BORN_1980[-4:]
        assert b["phone"] == "138****5678"
        assert b["emergency_contact"]["phone"] == "139****1111"
        assert b["birth_on"] == "1980-01-01"  # taken from the ID number
        assert b["station_id"] == 2 and b["populations"] == ["elderly", "elderly_alone"]
        row = await db.fetchrow("SELECT * FROM cases.beneficiary WHERE id = $1", b["id"])
        assert ID_BORN_1980 not in row["id_number_enc"] and "13812345678" not in row["phone_enc"]
        assert row["name_initials"] == "zsf" and row["name_pinyin"] == "zhangsanfeng"
        assert row["station_path"] == "/1/2/" and row["created_by"] == "w2"
        consent = {"kind": "service", "given_on": consent_on, "by": "本人", "note": None}
        assert json.loads(row["consents"]) == [consent]

    async def test_duplicate_id_number_in_province_is_409_naming_nothing_of_another_station(
            self, cases_client, worker, sibling, city_head, register, db):
        first = await register(worker, id_number=ID_BORN_1980)
        r = await cases_client.post("/v1/beneficiaries", json={"name": "张三", "id_number": f" {ID_BORN_1980.lower()} "},
                                    headers=sibling)
        assert r.status_code == 409
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"] == "This person is registered at another station: ask for a transfer."
        assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [("id_number", "registered_elsewhere")]
        assert "existing_id" not in r.json() and first["id"] not in r.text and "/1/2/" not in r.text
        assert ID_BORN_1980 not in r.text
        assert await db.fetchval("SELECT count(*) FROM cases.beneficiary") == 1
        # The attempt is audited, naming the record matched, the station whose person it is, and who tried.
        audit = await db.fetch("SELECT actor_id, record_id, station_path FROM cases.audit_log "
                               "WHERE action = 'id_number_elsewhere'")
        assert [tuple(a) for a in audit] == [("w3", first["id"], "/1/2/")]
        # Whoever can see the record is told which one it is, to use it instead.
        r = await cases_client.post("/v1/beneficiaries", json={"name": "张三", "id_number": ID_BORN_1980},
                                    headers=city_head)
        assert r.status_code == 409 and r.json()["existing_id"] == first["id"]

    async def test_same_id_number_in_another_province_is_allowed(self, cases_client, worker, token_for, register):
        await register(worker, id_number=ID_BORN_1980)
        other = token_for("social_worker", 10, "/9/10/", user_id="w10")
        await register(other, id_number=ID_BORN_1980)

    async def test_deleted_beneficiary_frees_the_id_number(self, cases_client, worker, register):
        first = await register(worker, id_number=ID_BORN_1980)
        r = await cases_client.delete(f"/v1/beneficiaries/{first['id']}", headers=with_etag(worker, '"1"'))
        assert r.status_code == 204
        await register(worker, id_number=ID_BORN_1980)

    async def test_client_id_retry_returns_existing(self, cases_client, worker, register, db):
        body = {"id": "tab-0001", "name": "李四", "id_number": ID_BORN_1955}
        first = await cases_client.post("/v1/beneficiaries", json=body, headers=worker)
        again = await cases_client.post("/v1/beneficiaries", json=body, headers=worker)
        assert first.status_code == 201 and again.status_code == 200
        assert again.json() == first.json()
        changed = await cases_client.post("/v1/beneficiaries", json={**body, "name": "李五"}, headers=worker)
        assert changed.status_code == 409
        assert await db.fetchval("SELECT count(*) FROM cases.beneficiary") == 1
        stat = await db.fetchval("SELECT value FROM cases.daily_stat WHERE metric = 'beneficiaries.registered' "
                                 "AND population = '_all'")
        assert stat == 1

    async def test_registered_today_unless_an_earlier_day_is_given(self, cases_client, worker, register, db, today):
        assert (await register(worker))["registered_on"] == today.isoformat()
        # A paper file (建档) entered later keeps the day it was opened, and counts on that day.
        earlier = today - timedelta(days=40)
        b = await register(worker, registered_on=earlier.isoformat(), id_number=ID_BORN_1980)
        assert b["registered_on"] == earlier.isoformat()
        counted = await db.fetch("SELECT day, value FROM cases.daily_stat WHERE metric = 'beneficiaries.registered' "
                                 "AND population = '_all' ORDER BY day")
        assert [(r["day"], r["value"]) for r in counted] == [(earlier, 1), (today, 1)]

    async def test_registration_day_not_in_the_future_nor_before_birth(self, cases_client, worker, tree, db, today):
        for body in ({"registered_on": (today + timedelta(days=1)).isoformat()},
                     {"registered_on": "1979-12-31", "id_number": ID_BORN_1980}):
            r = await cases_client.post("/v1/beneficiaries", json={"name": "甲", **body}, headers=worker)
            assert r.status_code == 422, r.text
            assert {e["field"] for e in r.json()["errors"]} == {"registered_on"}
        assert await db.fetchval("SELECT count(*) FROM cases.beneficiary") == 0

    async def test_station_in_scope_and_default(self, cases_client, worker, register):
        b = await register(worker, station_id=4)
        assert b["station_id"] == 4
        r = await cases_client.post("/v1/beneficiaries", json={"name": "王五", "station_id": 3}, headers=worker)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "station_id"

    async def test_roles_that_cannot_write(self, cases_client, tree, official, supervisor, db):
        for headers in (official, supervisor):
            r = await cases_client.post("/v1/beneficiaries", json={"name": "王五"}, headers=headers)
            assert r.status_code == 403
        assert await db.fetchval("SELECT count(*) FROM cases.beneficiary") == 0


class TestBeneficiaryInput:
    async def _refused(self, client, headers, db, body, field, status=422):
        r = await client.post("/v1/beneficiaries", json=body, headers=headers)
        assert r.status_code == status, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert field in {e["field"] for e in r.json()["errors"]}, r.json()
        assert await db.fetchval("SELECT count(*) FROM cases.beneficiary") == 0
        return r

    async def test_bad_check_digit(self, cases_client, worker, tree, db):
        bad = ID_BORN_1980[:-1] + ("0" if ID_BORN_1980[-1] != "0" else "1")
        r = await self._refused(cases_client, worker, db, {"name": "甲", "id_number": bad}, "id_number")
        assert bad not in r.text

    async def test_impossible_birth_date_in_id(self, cases_client, worker, tree, db):
        await self._refused(cases_client, worker, db, {"name": "甲", "id_number": id_number("51010419800230123")},
                            "id_number")

    async def test_wrong_length_id(self, cases_client, worker, tree, db):
        await self._refused(cases_client, worker, db, {"name": "甲", "id_number": "5101041980"}, "id_number")

    async def test_birth_date_disagreeing_with_id(self, cases_client, worker, tree, db):
        await self._refused(cases_client, worker, db, {"name": "甲", "id_number": ID_BORN_1980,
                                                       "birth_on": "1981-01-01"},
                            "birth_on")

    async def test_future_birth_date(self, cases_client, worker, tree, db, today):
        await self._refused(cases_client, worker, db,
                            {"name": "甲", "birth_on": (today + timedelta(days=1)).isoformat()}, "birth_on")

    async def test_unknown_population(self, cases_client, worker, tree, db):
        await self._refused(cases_client, worker, db, {"name": "甲", "populations": ["elderly", "martians"]},
                            "populations")

    async def test_unknown_population_is_named_with_the_other_problems(self, cases_client, worker, register, db):
        zh = {**worker, "Accept-Language": "zh-CN"}
        body = {"name": "甲", "gender": "robot", "populations": ["elderly", "martians"]}
        r = await cases_client.post("/v1/beneficiaries", json=body, headers=zh)
        assert r.status_code == 422, r.text
        messages = {e["field"]: e["message"] for e in r.json()["errors"]}
        assert messages == {"gender": "应为以下之一：'male'、'female'、'other' 或 'unknown'",
                            "populations": "未知的人群代码：martians。"}
        assert r.json()["detail"] == "请检查这些字段：gender, populations"
        assert await db.fetchval("SELECT count(*) FROM cases.beneficiary") == 0
        b = await register(worker)
        r = await cases_client.patch(f"/v1/beneficiaries/{b['id']}", json={"self_care": "mostly", "populations": [
            "martians"]}, headers={**worker, "If-Match": '"1"'})
        assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"self_care", "populations"}

    async def test_unknown_enum_and_extra_field(self, cases_client, worker, tree, db):
        await self._refused(cases_client, worker, db, {"name": "甲", "self_care": "mostly"}, "self_care")
        await self._refused(cases_client, worker, db, {"name": "甲", "nickname": "x"}, "nickname")

    async def test_overlong_name_and_bad_phone(self, cases_client, worker, tree, db):
        await self._refused(cases_client, worker, db, {"name": "甲" * 101}, "name")
        await self._refused(cases_client, worker, db, {"name": "甲", "phone": "12345"}, "phone")

    async def test_malformed_json(self, cases_client, worker, tree, db):
        r = await cases_client.post("/v1/beneficiaries", content=b'{"name": ', headers={
            **worker, "content-type": "application/json"})
        assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"


class TestGetBeneficiary:
    async def test_masking_per_role(self, cases_client, worker, head, supervisor, city_head, admin_token, register):
        b = await register(worker, id_number=ID_BORN_1980, phone="13812345678")
        url = f"/v1/beneficiaries/{b['id']}"
        for headers in (worker, head, city_head):
            r = await cases_client.get(url, headers=headers)
            assert r.json()["id_number"] == ID_BORN_1980 and r.json()["phone"] == "13812345678"
            assert r.headers["etag"] == '"1"'
        for headers in (supervisor, admin_token):
            got = (await cases_client.get(url, headers=headers)).json()
            assert got["id_number"].startswith("5101**") and got["phone"] == "138****5678"

    async def test_same_body_as_written(self, cases_client, worker, supervisor, register, today):
        consent = {"kind": "service", "given_on": today.isoformat(), "by": "本人"}
        b = await register(worker, id_number=ID_BORN_1980, phone="13812345678", address="和平社区",
                           emergency_contact={"name": "李四", "relation": "女儿", "phone": "13900001111"},
                           consents=[consent], populations=["elderly"], self_care="partial")
        # The create answer is masked; so is a supervisor's read. A worker's read shows all in full.
        masked = (await cases_client.get(f"/v1/beneficiaries/{b['id']}", headers=supervisor)).json()
        assert masked == b and masked["emergency_contact"]["phone"] == "139****1111"
        full = (await cases_client.get(f"/v1/beneficiaries/{b['id']}", headers=worker)).json()
        assert full == {**b, "id_number": ID_BORN_1980, "phone": "13812345678",
                        "emergency_contact": {"name": "李四", "relation": "女儿", "phone": "13900001111"}}
        assert full["consents"][0]["kind"] == "service"

    async def test_out_of_scope_and_aggregate_roles_get_404(self, cases_client, worker, sibling, official, token_for,
                                                            register):
        b = await register(worker, id_number=ID_BORN_1980)
        for headers in (sibling, official, token_for("volunteer", 2, "/1/2/"),
                        token_for("social_worker", 4, "/1/2/4/")):
            r = await cases_client.get(f"/v1/beneficiaries/{b['id']}", headers=headers)
            assert r.status_code == 404
        missing = await cases_client.get("/v1/beneficiaries/nope", headers=worker)
        assert missing.status_code == 404

    async def test_no_token_is_401(self, cases_client, tree):
        assert (await cases_client.get("/v1/beneficiaries/x")).status_code == 401


class TestListBeneficiaries:
    async def test_search_by_name_pinyin_phone_and_id(self, cases_client, worker, register):
        zhang = await register(worker, name="张三丰", phone="13812345678", id_number=ID_BORN_1980)
        li = await register(worker, name="李四光", phone="13900004321", id_number=ID_BORN_1955)

        async def ids(**params):
            r = await cases_client.get("/v1/beneficiaries", params=params, headers=worker)
            assert r.status_code == 200, r.text
            return [b["id"] for b in r.json()["items"]]

        assert await ids(q="三丰") == [zhang["id"]]
        assert await ids(q="zsf") == [zhang["id"]]
        assert await ids(q="ZSF") == [zhang["id"]]
        assert await ids(q="lisi") == [li["id"]]
        assert await ids(phone_tail="4321") == [li["id"]]
        assert await ids(id_number=ID_BORN_1980) == [zhang["id"]]
        assert set(await ids()) == {zhang["id"], li["id"]}
        r = await cases_client.get("/v1/beneficiaries", params={"phone_tail": "12"}, headers=worker)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "phone_tail"

    async def test_lists_mask_even_for_workers(self, cases_client, worker, register):
        await register(worker, id_number=ID_BORN_1980, phone="13812345678")
        item = (await cases_client.get("/v1/beneficiaries", headers=worker)).json()["items"][0]
        assert item["id_number"] != ID_BORN_1980 and item["phone"] == "138****5678"

    async def test_filters_and_scope(self, cases_client, worker, sibling, city_head, register):
        ours = await register(worker, populations=["children", "child_left_behind"], worker_id="w2")
        village = await register(worker, station_id=4, populations=["elderly"])
        theirs = await register(sibling, populations=["children"])

        async def ids(headers, **params):
            r = await cases_client.get("/v1/beneficiaries", params=params, headers=headers)
            assert r.status_code == 200, r.text
            return {b["id"] for b in r.json()["items"]}

        assert await ids(worker) == {ours["id"], village["id"]}
        assert await ids(sibling) == {theirs["id"]}
        assert await ids(city_head) == {ours["id"], village["id"], theirs["id"]}
        assert await ids(city_head, population="children") == {ours["id"], theirs["id"]}
        assert await ids(city_head, station_id=2) == {ours["id"], village["id"]}
        assert await ids(worker, station_id=4) == {village["id"]}
        assert await ids(worker, worker_id="w2") == {ours["id"]}
        r = await cases_client.get("/v1/beneficiaries", params={"station_id": 3}, headers=worker)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "station_id"

    async def test_aggregate_roles_are_refused(self, cases_client, tree, official, token_for):
        for headers in (official, token_for("volunteer", 2, "/1/2/")):
            assert (await cases_client.get("/v1/beneficiaries", headers=headers)).status_code == 403

    async def test_pages_cover_everything_once(self, cases_client, worker, register):
        made = {(await register(worker, name=f"居民{i}"))["id"] for i in range(7)}
        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            body = (await cases_client.get("/v1/beneficiaries", params=params, headers=worker)).json()
            seen += [b["id"] for b in body["items"]]
            pages += 1
            cursor = body["next_cursor"]
            if not cursor:
                break
        assert pages == 3 and len(seen) == 7 and set(seen) == made
        bad = await cases_client.get("/v1/beneficiaries", params={"cursor": "garbage"}, headers=worker)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"


class TestUpdateBeneficiary:
    async def test_needs_if_match_and_rejects_stale(self, cases_client, worker, register, db):
        b = await register(worker)
        url = f"/v1/beneficiaries/{b['id']}"
        r = await cases_client.patch(url, json={"address": "和平社区1号"}, headers=worker)
        assert r.status_code == 428
        r = await cases_client.patch(url, json={"address": "和平社区1号"}, headers=with_etag(worker, '"7"'))
        assert r.status_code == 412
        r = await cases_client.patch(url, json={"address": "和平社区1号", "name": "张三"},
                                     headers=with_etag(worker, '"1"'))
        assert r.status_code == 200 and r.headers["etag"] == '"2"' and r.json()["address"] == "和平社区1号"
        row = await db.fetchrow("SELECT name_initials, version, updated_by FROM cases.beneficiary")
        assert tuple(row) == ("zs", 2, "w2")
        again = await cases_client.patch(url, json={"address": "x"}, headers=with_etag(worker, '"1"'))
        assert again.status_code == 412

    async def test_populations_move_counts(self, cases_client, worker, register, db):
        b = await register(worker, populations=["elderly"])
        r = await cases_client.patch(f"/v1/beneficiaries/{b['id']}", json={"populations": ["disabled"]},
                                     headers=with_etag(worker, '"1"'))
        assert r.status_code == 200
        rows = dict(await db.fetch("SELECT population, value FROM cases.daily_stat "
                                   "WHERE metric = 'beneficiaries.registered'"))
        assert rows == {"_all": 1, "elderly": 0, "disabled": 1}

    async def test_duplicate_id_number_on_update(self, cases_client, worker, register):
        a = await register(worker, id_number=ID_BORN_1980)
        b = await register(worker, name="李四")
        r = await cases_client.patch(f"/v1/beneficiaries/{b['id']}", json={"id_number": ID_BORN_1980},
                                     headers=with_etag(worker, '"1"'))
        assert r.status_code == 409 and r.json()["existing_id"] == a["id"]

    async def test_bad_input_and_null_name(self, cases_client, worker, register, db):
        b = await register(worker)
        url = f"/v1/beneficiaries/{b['id']}"
        r = await cases_client.patch(url, json={"name": None}, headers=with_etag(worker, '"1"'))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "name"
        r = await cases_client.patch(url, json={"populations": ["nope"]}, headers=with_etag(worker, '"1"'))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "populations"
        assert await db.fetchval("SELECT version FROM cases.beneficiary") == 1

    async def test_supervisor_is_read_only_and_sibling_404(self, cases_client, worker, supervisor, sibling, register):
        b = await register(worker)
        url = f"/v1/beneficiaries/{b['id']}"
        assert (await cases_client.get(url, headers=supervisor)).status_code == 200
        r = await cases_client.patch(url, json={"address": "x"}, headers=with_etag(supervisor, '"1"'))
        assert r.status_code == 403
        r = await cases_client.patch(url, json={"address": "x"}, headers=with_etag(sibling, '"1"'))
        assert r.status_code == 404


class TestDeleteBeneficiary:
    async def test_soft_delete(self, cases_client, worker, register, db):
        b = await register(worker, populations=["elderly"])
        url = f"/v1/beneficiaries/{b['id']}"
        assert (await cases_client.delete(url, headers=worker)).status_code == 428
        assert (await cases_client.delete(url, headers=with_etag(worker, '"3"'))).status_code == 412
        assert (await cases_client.delete(url, headers=with_etag(worker, '"1"'))).status_code == 204
        assert (await cases_client.get(url, headers=worker)).status_code == 404
        assert (await cases_client.get("/v1/beneficiaries", headers=worker)).json()["items"] == []
        assert await db.fetchval("SELECT deleted_at IS NOT NULL FROM cases.beneficiary")
        values = await db.fetch("SELECT value FROM cases.daily_stat WHERE metric = 'beneficiaries.registered'")
        assert all(v["value"] == 0 for v in values)

    async def test_refused_while_cases_exist(self, cases_client, worker, open_case):
        case = await open_case(worker)
        r = await cases_client.delete(f"/v1/beneficiaries/{case['beneficiary_id']}", headers=with_etag(worker, '"1"'))
        assert r.status_code == 409


class TestPinyin:
    def test_initials_and_full(self):
        assert pinyin_keys("张三丰") == ("zsf", "zhangsanfeng")
        assert pinyin_keys("Anna Li") == ("annali", "annali")

    def test_the_keys_of_any_valid_name_fit_their_columns(self):
        initials = Beneficiary.__table__.c.name_initials.type.length
        full = Beneficiary.__table__.c.name_pinyin.type.length
        longest = Beneficiary.__table__.c.name.type.length
        # The characters whose keys are longest: lower-casing doubles only U+0130; 㕠 is "shuang".
        assert max(len(chr(c).lower()) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF) == 2
        for name in ("İ" * longest, "㕠" * longest, "İ㕠" * (longest // 2), "张" * longest):
            keys = pinyin_keys(name)
            assert len(keys[0]) <= initials and len(keys[1]) <= full, name


class TestRegistrationsOfPeopleElsewhere:
    """Each registration refused because the person is registered where the caller cannot look tells
    that they exist: such attempts are limited per user, counted in PostgreSQL for every worker."""

    async def test_limited_per_user_for_every_process(self, cases_app, cases_client, worker, worker2, sibling,
                                                      register, monkeypatch, db):
        from services.cases.app import create_app

        monkeypatch.setattr(cases_app.state.settings, "duplicate_id_attempts_per_hour", 3)
        people = [ID_BORN_1980, ID_BORN_1955, id_number("51010419700310345"), id_number("51010419650710456")]
        for number in people:
            await register(worker, name="张三", id_number=number)
        for number in people[:3]:
            r = await cases_client.post("/v1/beneficiaries", json={"name": "李四", "id_number": number},
                                        headers=sibling)
            assert r.status_code == 409, r.text
        r = await cases_client.post("/v1/beneficiaries", json={"name": "李四", "id_number": people[3]},
                                    headers=sibling)
        assert r.status_code == 429 and r.json()["type"].endswith("too-many-attempts"), r.text
        assert 0 < int(r.headers["retry-after"]) <= 3600
        # Over the limit, every registration with an ID number waits: a new number as well, so the
        # answer tells nothing about whether it is registered.
        fresh = id_number("51010419991231567")
        r = await cases_client.post("/v1/beneficiaries", json={"name": "王五", "id_number": fresh}, headers=sibling)
        assert r.status_code == 429, r.text
        # Another worker of the platform, a second process: the count is the database's.
        other = create_app()
        monkeypatch.setattr(other.state.settings, "duplicate_id_attempts_per_hour", 3)
        async with other.router.lifespan_context(other), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=other), base_url="http://second") as second:
            r = await second.post("/v1/beneficiaries", json={"name": "王五", "id_number": fresh}, headers=sibling)
            assert r.status_code == 429, r.text
            r = await second.post("/v1/beneficiaries", json={"name": "王五"}, headers=sibling)
            assert r.status_code == 201, r.text  # without an ID number, nothing is told
        r = await cases_client.post("/v1/beneficiaries", json={"name": "王五", "id_number": fresh}, headers=worker2)
        assert r.status_code == 201, r.text  # another user is not held back
        assert await db.fetchval("SELECT count(*) FROM cases.audit_log WHERE action = 'id_number_elsewhere' "
                                 "AND actor_id = 'w3'") == 3
