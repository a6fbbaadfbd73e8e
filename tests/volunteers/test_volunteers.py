"""Volunteers: registration, dedup by ID number, minors, masking per role, self-service, updates, deletes."""

from tests.fixtures.calls import fields_of, with_etag
from tests.fixtures.people import ID_BORN_1970, ID_BORN_1985, ID_BORN_1990, minor_id


class TestRegisterVolunteer:
    async def test_stores_encrypted_and_masks_per_role(self, volunteers_client, worker, supervisor, register, db):
        v = await register(worker, phone="13812345678", gender="female", skills=["医疗", "心理"],
                           available_times=["weekend"])
        assert v["id_number"] == ID_BORN_1990 and v["birth_on"] == "1990-01-01"  # a worker sees it in full
        assert v["station_id"] == 2 and v["status"] == "active" and v["disclosure_consent"] is False
        assert v["volunteer_number"].startswith("V2-") and v["star_level"] == 0
        row = await db.fetchrow("SELECT * FROM volunteers.volunteer WHERE id = $1", v["id"])
        assert ID_BORN_1990 not in " ".join(str(x) for x in row.values())
        assert row["station_path"] == "/1/2/" and row["created_by"] == "w2"
        seen = (await volunteers_client.get(f"/v1/volunteers/{v['id']}", headers=supervisor)).json()
        assert seen["id_number"] == "5101**********" + ID_BORN_1990[-4:] and seen["phone"] == "138****5678"
        listed = (await volunteers_client.get("/v1/volunteers", headers=worker)).json()["items"]
        assert [i["id_number"] for i in listed] == ["5101**********" + ID_BORN_1990[-4:]]

    async def test_same_id_number_anywhere_is_409_naming_nothing_of_another_station(self, volunteers_client, worker,
                                                                                    city_head, token_for, register,
                                                                                    db):
        first = await register(worker)
        other_province = token_for("social_worker", 10, "/9/10/", user_id="w10")
        r = await volunteers_client.post("/v1/volunteers", json={"name": "张三",
                                                                 "id_number": f" {ID_BORN_1990.lower()} "},
                                         headers=other_province)
        assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"] == "This person is registered at another station: ask for a transfer."
        assert "existing_id" not in r.json() and first["id"] not in r.text and "/1/2/" not in r.text
        assert ID_BORN_1990 not in r.text
        assert await db.fetchval("SELECT count(*) FROM volunteers.volunteer") == 1
        audit = await db.fetch("SELECT actor_id, record_id FROM volunteers.audit_log "
                               "WHERE action = 'id_number_elsewhere'")
        assert [tuple(a) for a in audit] == [("w10", first["id"])]
        r = await volunteers_client.post("/v1/volunteers", json={"name": "张三", "id_number": ID_BORN_1990},
                                         headers=city_head)
        assert r.status_code == 409 and r.json()["existing_id"] == first["id"]

    async def test_client_id_retry_returns_existing(self, volunteers_client, worker, tree, db):
        body = {"id": "tab-v1", "name": "李四", "id_number": ID_BORN_1985}
        first = await volunteers_client.post("/v1/volunteers", json=body, headers=worker)
        again = await volunteers_client.post("/v1/volunteers", json=body, headers=worker)
        assert (first.status_code, again.status_code) == (201, 200) and first.json() == again.json()
        changed = await volunteers_client.post("/v1/volunteers", json={**body, "name": "李五"}, headers=worker)
        assert changed.status_code == 409
        assert await db.fetchval("SELECT value FROM volunteers.daily_stat WHERE metric = 'volunteers.registered'") == 1

    async def test_minor_needs_guardian_consent(self, volunteers_client, worker, register, db, today):
        r = await volunteers_client.post("/v1/volunteers", json={"name": "小明", "id_number": minor_id()},
                                         headers=worker)
        assert r.status_code == 422 and fields_of(r) == {"guardian_consent"}
        assert await db.fetchval("SELECT count(*) FROM volunteers.volunteer") == 0
        consent = {"name": "王芳", "relation": "mother", "consented_on": today.isoformat()}
        v = await register(worker, id_number=minor_id(), guardian_consent=consent)
        assert v["guardian_consent"] == consent
        r = await volunteers_client.patch(f"/v1/volunteers/{v['id']}", json={"guardian_consent": None},
                                          headers=with_etag(worker, '"1"'))
        assert r.status_code == 422 and fields_of(r) == {"guardian_consent"}

    async def test_malformed_id_numbers(self, volunteers_client, worker, tree, db):
        bad_check = ID_BORN_1990[:17] + ("0" if ID_BORN_1990[17] != "0" else "1")
        for body, field in (({"id_number": bad_check}, "id_number"), ({"id_number": "12345"}, "id_number"),
                            ({"id_number": "5101041990013112X"}, "id_number"),
                            ({"id_type": "passport", "id_number": "E1234567"}, "birth_on"),
                            ({"id_type": "passport", "id_number": "E12", "birth_on": "1990-01-01"}, "id_number"),
                            ({"id_type": "driving_licence", "id_number": ID_BORN_1990}, "id_type"),
                            ({"id_number": ID_BORN_1990, "birth_on": "1991-01-01"}, "birth_on")):
            r = await volunteers_client.post("/v1/volunteers", json={"name": "赵六", **body}, headers=worker)
            assert r.status_code == 422 and field in fields_of(r), (body, r.text)
            assert bad_check not in r.text
        assert await db.fetchval("SELECT count(*) FROM volunteers.volunteer") == 0

    async def test_passport_with_birth_date(self, worker, register):
        v = await register(worker, id_type="passport", id_number="e 1234567", birth_on="1988-08-08")
        assert v["id_number"] == "E1234567" and v["id_type"] == "passport"

    async def test_roles_and_station_scope(self, volunteers_client, worker, official, supervisor, me, register):
        for headers in (official, supervisor, me):
            r = await volunteers_client.post("/v1/volunteers", json={"name": "王五", "id_number": ID_BORN_1985},
                                             headers=headers)
            assert r.status_code == 403
        r = await volunteers_client.post("/v1/volunteers", json={"name": "王五", "id_number": ID_BORN_1985,
                                                                 "station_id": 3}, headers=worker)
        assert r.status_code == 422 and fields_of(r) == {"station_id"}
        v = await register(worker, station_id=4)
        assert v["station_id"] == 4


class TestReadVolunteer:
    async def test_scope_and_aggregate_roles(self, volunteers_client, worker, sibling, official, city_head, register):
        v = await register(worker)
        url = f"/v1/volunteers/{v['id']}"
        assert (await volunteers_client.get(url, headers=sibling)).status_code == 404
        assert (await volunteers_client.get(url, headers=official)).status_code == 404
        assert (await volunteers_client.get("/v1/volunteers", headers=official)).status_code == 403
        assert (await volunteers_client.get("/v1/volunteers", headers=sibling)).json()["items"] == []
        assert (await volunteers_client.get(url, headers=city_head)).status_code == 200

    async def test_filters_and_pages(self, volunteers_client, worker, register):
        ids = [(await register(worker, name=f"志愿者{i}", id_number=n, skills=["医疗"] if i else []))["id"]
               for i, n in enumerate((ID_BORN_1990, ID_BORN_1985))]
        r = await volunteers_client.get("/v1/volunteers", params={"skill": "医疗"}, headers=worker)
        assert [i["id"] for i in r.json()["items"]] == [ids[1]]
        r = await volunteers_client.get("/v1/volunteers", params={"id_number": ID_BORN_1990}, headers=worker)
        assert [i["id"] for i in r.json()["items"]] == [ids[0]]
        first = (await volunteers_client.get("/v1/volunteers", params={"limit": 1}, headers=worker)).json()
        second = (await volunteers_client.get("/v1/volunteers", params={"limit": 1, "cursor": first["next_cursor"]},
                                              headers=worker)).json()
        assert [first["items"][0]["id"], second["items"][0]["id"]] == ids[::-1] and second["next_cursor"] is None


class TestSelfService:
    async def test_linked_volunteer_sees_only_their_own_record(self, volunteers_client, worker, login, me, register):
        mine = await register(worker)
        other = await register(worker, name="别人", id_number=ID_BORN_1985)
        assert (await volunteers_client.get("/v1/volunteers/me", headers=me)).status_code == 404
        r = await volunteers_client.patch(f"/v1/volunteers/{mine['id']}", json={"user_id": login.user_id},
                                          headers=with_etag(worker, '"1"'))
        assert r.status_code == 403  # linking a login is for station heads
        r = await volunteers_client.patch(f"/v1/volunteers/{mine['id']}", json={"user_id": login.user_id},
                                          headers=with_etag(login.head, '"1"'))
        assert r.status_code == 200, r.text
        got = (await volunteers_client.get("/v1/volunteers/me", headers=me)).json()
        assert got["id"] == mine["id"] and got["id_number"] == ID_BORN_1990
        assert (await volunteers_client.get(f"/v1/volunteers/{mine['id']}", headers=me)).status_code == 200
        assert (await volunteers_client.get(f"/v1/volunteers/{other['id']}", headers=me)).status_code == 404
        assert (await volunteers_client.get("/v1/volunteers", headers=me)).status_code == 403
        assert (await volunteers_client.get("/v1/teams", headers=me)).status_code == 403
        r = await volunteers_client.patch(f"/v1/volunteers/{other['id']}", json={"user_id": login.user_id},
                                          headers=with_etag(login.head, '"1"'))
        assert r.status_code == 409 and fields_of(r) == {"user_id"}


class TestLinkedLogin:
    """A login linked to a volunteer reads that record as its own: it must be an account the linking
    head manages (the gateway decides), of role volunteer, at the volunteer's station or below."""

    async def test_only_a_volunteer_login_of_the_station_the_head_manages(self, volunteers_client, worker, login,
                                                                         register, db):
        gateway, admin = login.gateway, login.admin
        sibling_station = await gateway.station(admin, 1, "township", "站3")
        elsewhere = await gateway.user(admin, "volunteer.3", "volunteer", sibling_station["id"])
        head = (await gateway.get("/v1/me", headers=login.head)).json()
        mine = await register(worker)
        in_village = await register(worker, name="村里", id_number=ID_BORN_1985, station_id=4)
        url = f"/v1/volunteers/{mine['id']}"
        for user_id, code in ((str(elsewhere["id"]), "unknown_user"), ("987654", "unknown_user"),
                              ("u-vol", "unknown_user"), (str(head["id"]), "not_a_volunteer_login")):
            r = await volunteers_client.patch(url, json={"user_id": user_id}, headers=with_etag(login.head, '"1"'))
            assert r.status_code == 422, r.text
            assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [("user_id", code)]
        r = await volunteers_client.patch(f"/v1/volunteers/{in_village['id']}", json={"user_id": login.user_id},
                                          headers=with_etag(login.head, '"1"'))
        assert r.status_code == 422 and fields_of(r) == {"user_id"}, r.text
        r = await volunteers_client.post("/v1/volunteers", headers=login.head, json={
            "name": "新人", "id_number": ID_BORN_1970, "user_id": str(elsewhere["id"])})
        assert r.status_code == 422 and fields_of(r) == {"user_id"}, r.text
        assert await db.fetchval("SELECT count(*) FROM volunteers.volunteer WHERE user_id IS NOT NULL") == 0
        assert await db.fetchval("SELECT count(*) FROM volunteers.volunteer") == 2


class TestUpdateVolunteer:
    async def test_if_match_and_fields(self, volunteers_client, worker, supervisor, register):
        v = await register(worker)
        url = f"/v1/volunteers/{v['id']}"
        change = {"status": "paused", "skills": ["摄影"], "disclosure_consent": True}
        assert (await volunteers_client.patch(url, json=change, headers=worker)).status_code == 428
        assert (await volunteers_client.patch(url, json=change, headers=with_etag(worker, '"7"'))).status_code == 412
        r = await volunteers_client.patch(url, json=change, headers=with_etag(supervisor, '"1"'))
        assert r.status_code == 403
        r = await volunteers_client.patch(url, json=change, headers=with_etag(worker, '"1"'))
        assert r.status_code == 200 and r.headers["etag"] == '"2"'
        assert {k: r.json()[k] for k in change} == change
        r = await volunteers_client.patch(url, json={"name": None}, headers=with_etag(worker, '"2"'))
        assert r.status_code == 422 and fields_of(r) == {"name"}


class TestDeleteVolunteer:
    async def test_soft_delete_frees_the_id_number_and_counts(self, volunteers_client, worker, register, db):
        v = await register(worker)
        url = f"/v1/volunteers/{v['id']}"
        assert (await volunteers_client.delete(url, headers=worker)).status_code == 428
        assert (await volunteers_client.delete(url, headers=with_etag(worker, '"1"'))).status_code == 204
        assert (await volunteers_client.get(url, headers=worker)).status_code == 404
        assert await db.fetchval("SELECT sum(value) FROM volunteers.daily_stat") == 0
        await register(worker)

    async def test_refused_with_service_hours(self, volunteers_client, worker, register, record):
        v = await register(worker)
        await record(worker, v["id"])
        r = await volunteers_client.delete(f"/v1/volunteers/{v['id']}", headers=with_etag(worker, '"1"'))
        assert r.status_code == 409


class TestEntries:
    async def test_training_and_awards(self, volunteers_client, worker, login, me, register, today):
        v = await register(worker)
        base = f"/v1/volunteers/{v['id']}/entries"
        r = await volunteers_client.post(base, headers=worker, json={
            "kind": "training", "title": "急救培训", "issuer": "区红十字会", "occurred_on": today.isoformat(),
            "hours": 4})
        assert r.status_code == 201, r.text
        training = r.json()
        await volunteers_client.post(base, headers=worker, json={"kind": "award", "title": "优秀志愿者",
                                                                 "occurred_on": today.isoformat()})
        r = await volunteers_client.post(base, headers=worker, json={"kind": "medal", "title": "x",
                                                                     "occurred_on": today.isoformat()})
        assert r.status_code == 422 and fields_of(r) == {"kind"}
        assert {e["kind"] for e in (await volunteers_client.get(base, headers=worker)).json()["items"]} == {
            "training", "award"}
        await volunteers_client.patch(f"/v1/volunteers/{v['id']}", json={"user_id": login.user_id},
                                      headers=with_etag(login.head, '"1"'))
        assert len((await volunteers_client.get(base, headers=me)).json()["items"]) == 2
        r = await volunteers_client.delete(f"{base}/{training['id']}", headers=with_etag(worker, '"1"'))
        assert r.status_code == 204
        assert len((await volunteers_client.get(base, headers=worker)).json()["items"]) == 1
