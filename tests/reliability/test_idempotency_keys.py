"""`Idempotency-Key` on every create (shared/idempotency.py), through the gateway: a retry with
the same key and request gets the first answer and writes nothing; the same key with another
request is 422; keys are the caller's own and live 24 hours; a retry racing its original waits
for it. The creates take no client id here: the key alone keeps them from duplicating.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest

from shared import clock
from tests.fixtures.people import ID_BORN_1990
from tests.reliability.conftest import problem

SCHEMAS = ("gateway", "cases", "projects", "volunteers")


def key() -> str:
    return str(uuid.uuid4())


@dataclass
class Create:
    who: str  # "admin", "head" or "worker"
    path: str
    table: str
    body: dict
    changed: str  # a field to change for "another request"


@pytest.fixture
async def people(gateway, admin_headers, root):
    await gateway.user(admin_headers, "chen.head", "station_head", root["id"])
    await gateway.user(admin_headers, "li.worker", "social_worker", root["id"])
    await gateway.user(admin_headers, "wu.worker", "social_worker", root["id"])
    await gateway.app.state.pusher.sync_now()
    return {"admin": admin_headers, "head": await gateway.headers_for("chen.head"),
            "worker": await gateway.headers_for("li.worker"), "other": await gateway.headers_for("wu.worker")}


@pytest.fixture
async def creates(gateway, people, root) -> list[Create]:
    """One create of each kind, of every service and of the gateway itself, with the records
    they hang on made beforehand (without keys)."""
    worker, head = people["worker"], people["head"]
    today = clock.today().isoformat()

    async def made(path: str, body: dict, headers: dict) -> dict:
        r = await gateway.post(path, json=body, headers=headers)
        assert r.status_code == 201, (path, r.text)
        return r.json()

    person = await made("/v1/beneficiaries", {"name": "张桂芳", "populations": ["elderly"]}, worker)
    case = await made("/v1/cases", {"beneficiary_id": person["id"], "title": "独居老人照护", "opened_on": today}, worker)
    project = await made("/v1/projects", {
        "name": "社区长者服务项目", "purchaser": "民政局", "operator": "好邻社工中心",
        "starts_on": (clock.today() - timedelta(days=30)).isoformat(),
        "ends_on": (clock.today() + timedelta(days=300)).isoformat()}, head)
    group = await made("/v1/groups", {"project_id": project["id"], "title": "长者防诈骗小组",
                                      "members": [person["id"]]}, worker)
    volunteer = await made("/v1/volunteers", {"name": "张志愿", "id_number": ID_BORN_1990}, worker)
    return [
        Create("admin", "/v1/stations", "gateway.station",
               {"parent_id": root["id"], "kind": "city", "name": "成都市"}, "name"),
        Create("admin", "/v1/users", "gateway.user",
               {"username": "zhou.worker", "display_name": "周社工", "role": "social_worker",
                "station_id": root["id"], "password": "correct horse battery"}, "display_name"),
        Create("head", "/v1/devices", "gateway.device", {"station_id": root["id"], "name": "和平社区平板"}, "name"),
        Create("worker", "/v1/beneficiaries", "cases.beneficiary",
               {"name": "李秀兰", "populations": ["elderly"]}, "name"),
        Create("worker", "/v1/cases", "cases.case",
               {"beneficiary_id": person["id"], "title": "居家安全", "opened_on": today}, "title"),
        Create("worker", f"/v1/cases/{case['id']}/service-records", "cases.service_record",
               {"served_on": today, "mode": "home_visit", "content": "入户探访", "service_type": "elder_child_care",
                "person_times": 1}, "content"),
        Create("head", "/v1/projects", "projects.project", {
            "name": "儿童关爱项目", "purchaser": "民政局", "operator": "好邻社工中心",
            "starts_on": (clock.today() - timedelta(days=30)).isoformat(),
            "ends_on": (clock.today() + timedelta(days=300)).isoformat()}, "name"),
        Create("worker", f"/v1/groups/{group['id']}/sessions", "projects.group_session",
               {"held_on": today, "topic": "识别电话诈骗", "anonymous_count": 3}, "topic"),
        Create("worker", "/v1/activities", "projects.activity",
               {"project_id": project["id"], "title": "重阳节敬老活动", "held_on": today, "anonymous_count": 7}, "title"),
        Create("worker", "/v1/teams", "volunteers.team", {"name": "助老服务队"}, "name"),
        Create("worker", "/v1/volunteer-hours", "volunteers.service_hours",
               {"volunteer_id": volunteer["id"], "served_on": today, "hours": "2", "content": "助老送餐"}, "content"),
    ]


async def count(db, table: str) -> int:
    return await db.fetchval(f"SELECT count(*) FROM {table}")


async def stored_keys(db) -> int:
    return sum([await count(db, f"{schema}.idempotency_key") for schema in SCHEMAS])


class TestSameKeySameRequest:
    async def test_every_create_answers_its_first_answer_again_and_writes_once(self, gateway, people, creates, db):
        for create in creates:
            headers = {**people[create.who], "Idempotency-Key": key()}
            before = await count(db, create.table)
            first = await gateway.post(create.path, json=create.body, headers=headers)
            assert first.status_code == 201, (create.path, first.text)
            assert "idempotent-replayed" not in first.headers

            again = await gateway.post(create.path, json=create.body, headers=headers)
            assert again.status_code == 201, (create.path, again.text)
            assert again.json() == first.json(), create.path
            assert again.headers["idempotent-replayed"] == "true"
            for header in ("location", "etag", "content-type"):
                assert again.headers.get(header) == first.headers.get(header), (create.path, header)
            assert await count(db, create.table) == before + 1, f"a retried {create.path} wrote twice"

    async def test_a_device_registration_retried_gives_the_same_device_and_credential(self, gateway, people, root, db):
        headers = {**people["head"], "Idempotency-Key": key()}
        body = {"station_id": root["id"], "name": "双桥社区平板"}
        first = await gateway.post("/v1/devices", json=body, headers=headers)
        again = await gateway.post("/v1/devices", json=body, headers=headers)
        assert first.status_code == again.status_code == 201, (first.text, again.text)
        assert again.json()["credential"] == first.json()["credential"]
        assert await db.fetchval("SELECT count(*) FROM gateway.device WHERE name = '双桥社区平板'") == 1
        # The credential the retry gave back is the one that works.
        r = await gateway.get("/v1/sync", headers={"Authorization": f"Bearer {again.json()['credential']}"})
        assert r.status_code == 200, r.text


class TestSameKeyAnotherRequest:
    async def test_is_422_naming_the_header_and_writes_nothing(self, gateway, people, creates, db):
        for create in creates:
            headers = {**people[create.who], "Idempotency-Key": key()}
            first = await gateway.post(create.path, json=create.body, headers=headers)
            assert first.status_code == 201, (create.path, first.text)
            before = await count(db, create.table)

            other = problem(await gateway.post(create.path, json={**create.body, create.changed: "另一条"},
                                               headers=headers), 422)
            assert other["type"].endswith("/idempotency-key-reused"), other
            assert other["errors"][0]["field"] == "header.idempotency-key"
            assert await count(db, create.table) == before
            # The key still answers its own request.
            again = await gateway.post(create.path, json=create.body, headers=headers)
            assert again.status_code == 201 and again.json() == first.json()

    async def test_the_refusal_speaks_the_callers_language(self, gateway, people):
        headers = {**people["worker"], "Idempotency-Key": key(), "Accept-Language": "zh-CN"}
        assert (await gateway.post("/v1/teams", json={"name": "助老服务队"}, headers=headers)).status_code == 201
        body = problem(await gateway.post("/v1/teams", json={"name": "助残服务队"}, headers=headers), 422)
        assert body["detail"].startswith("此 Idempotency-Key 已用于另一个请求"), body
        assert body["errors"][0]["field"] == "header.idempotency-key"

    async def test_the_same_key_on_another_path_is_another_request(self, gateway, people):
        headers = {**people["worker"], "Idempotency-Key": key()}
        assert (await gateway.post("/v1/teams", json={"name": "助老服务队"}, headers=headers)).status_code == 201
        problem(await gateway.post("/v1/volunteers", json={"name": "助老服务队"}, headers=headers), 422)

    async def test_json_compared_by_value_not_by_spelling(self, gateway, people, db):
        headers = {**people["worker"], "Idempotency-Key": key(), "Content-Type": "application/json"}
        first = await gateway.post("/v1/teams", content=b'{"name": "A team", "description": "x"}', headers=headers)
        again = await gateway.post("/v1/teams", content=b'{"description":"x","name":"A team"}', headers=headers)
        assert first.status_code == again.status_code == 201, (first.text, again.text)
        assert again.json() == first.json()
        assert await count(db, "volunteers.team") == 1


class TestKeysBelongToTheirCaller:
    async def test_another_callers_same_key_is_another_request(self, gateway, people, db):
        shared_key = key()
        body = {"name": "刘建国", "populations": ["elderly"]}
        mine = await gateway.post("/v1/beneficiaries", json=body,
                                  headers={**people["worker"], "Idempotency-Key": shared_key})
        theirs = await gateway.post("/v1/beneficiaries", json=body,
                                    headers={**people["other"], "Idempotency-Key": shared_key})
        assert mine.status_code == theirs.status_code == 201, (mine.text, theirs.text)
        assert mine.json()["id"] != theirs.json()["id"]
        assert "idempotent-replayed" not in theirs.headers
        assert await count(db, "cases.beneficiary") == 2


class TestExpiry:
    async def test_a_key_expires_after_24_hours_and_expired_answers_are_pruned(self, gateway, people, db):
        worker = people["worker"]
        old_key, other_old_key = key(), key()
        for k, name in ((old_key, "助老服务队"), (other_old_key, "助残服务队")):
            r = await gateway.post("/v1/teams", json={"name": name}, headers={**worker, "Idempotency-Key": k})
            assert r.status_code == 201, r.text
        await db.execute("UPDATE volunteers.idempotency_key SET created_at = now() - interval '24 hours 1 minute'")

        # Expired: the key is free again, for any request.
        r = await gateway.post("/v1/teams", json={"name": "青少年服务队"},
                               headers={**worker, "Idempotency-Key": old_key})
        assert r.status_code == 201, r.text
        assert "idempotent-replayed" not in r.headers
        assert await count(db, "volunteers.team") == 3
        # Storing it pruned the other expired answer; only the fresh one is left.
        rows = await db.fetch(
            "SELECT created_at > now() - interval '1 minute' AS fresh FROM volunteers.idempotency_key")
        assert [r["fresh"] for r in rows] == [True]

    async def test_a_key_within_24_hours_still_answers(self, gateway, people, db):
        headers = {**people["worker"], "Idempotency-Key": key()}
        first = await gateway.post("/v1/teams", json={"name": "助老服务队"}, headers=headers)
        await db.execute("UPDATE volunteers.idempotency_key SET created_at = now() - interval '23 hours 59 minutes'")
        again = await gateway.post("/v1/teams", json={"name": "助老服务队"}, headers=headers)
        assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()


class TestRacingRetries:
    async def test_two_identical_keyed_creates_at_once_make_one_record_and_one_answer(self, gateway, people, root,
                                                                                     db):
        for who, path, table, body in (
                ("worker", "/v1/beneficiaries", "cases.beneficiary", {"name": "王淑珍", "populations": ["elderly"]}),
                ("worker", "/v1/teams", "volunteers.team", {"name": "助老服务队"}),
                ("head", "/v1/devices", "gateway.device", {"station_id": root["id"], "name": "猛追湾平板"})):
            headers = {**people[who], "Idempotency-Key": key()}
            before = await count(db, table)
            a, b = await asyncio.gather(gateway.post(path, json=body, headers=headers),
                                        gateway.post(path, json=body, headers=headers))
            assert a.status_code == b.status_code == 201, (path, a.text, b.text)
            assert a.json() == b.json(), path
            assert sorted(r.headers.get("idempotent-replayed", "") for r in (a, b)) == ["", "true"]
            assert await count(db, table) == before + 1, f"two racing {path} made two records"

    async def test_two_identical_creates_with_one_client_id_at_once_answer_201_and_200_not_409(self, gateway, people,
                                                                                              db):
        for path, table, body in (
                ("/v1/beneficiaries", "cases.beneficiary", {"name": "赵德明", "populations": ["elderly"]}),
                ("/v1/teams", "volunteers.team", {"name": "青年服务队"})):
            body = {"id": f"race-{uuid.uuid4()}", **body}
            a, b = await asyncio.gather(gateway.post(path, json=body, headers=people["worker"]),
                                        gateway.post(path, json=body, headers=people["worker"]))
            assert sorted((a.status_code, b.status_code)) == [200, 201], (path, a.text, b.text)
            assert a.json() == b.json()
            assert await db.fetchval(f"SELECT count(*) FROM {table} WHERE id = $1", body["id"]) == 1


class TestStoredAnswers:
    async def test_hold_neither_the_key_nor_the_answer_in_plain(self, gateway, people, db):
        k = key()
        r = await gateway.post("/v1/beneficiaries", json={"name": "孙玉兰", "phone": "13912345678",
                                                           "populations": ["elderly"]},
                               headers={**people["worker"], "Idempotency-Key": k})
        assert r.status_code == 201, r.text
        row = await db.fetchrow("SELECT * FROM cases.idempotency_key")
        stored = b"".join(v.encode() if isinstance(v, str) else bytes(v) for v in (row["id"], row["answer"],
                                                                                   row["fingerprint"]))
        for plain in (k, "孙玉兰", r.json()["id"], "1391234"):
            assert plain.encode() not in stored

    async def test_nothing_is_stored_for_a_create_that_failed_and_the_key_can_be_used_again(self, gateway, people,
                                                                                            db):
        headers = {**people["worker"], "Idempotency-Key": key()}
        problem(await gateway.post("/v1/teams", json={"name": ""}, headers=headers), 422)
        assert await stored_keys(db) == 0
        r = await gateway.post("/v1/teams", json={"name": "助老服务队"}, headers=headers)
        assert r.status_code == 201, r.text


class TestBadKeys:
    @pytest.mark.parametrize("bad", ["short-key", "x" * 256, "has space in the key!!"])
    async def test_a_key_that_is_not_16_to_255_visible_characters_is_422(self, gateway, people, db, bad):
        body = problem(await gateway.post("/v1/teams", json={"name": "助老服务队"},
                                          headers={**people["worker"], "Idempotency-Key": bad}), 422)
        assert body["errors"][0]["field"] == "header.idempotency-key"
        assert await count(db, "volunteers.team") == 0

    async def test_without_a_key_every_create_is_a_new_record(self, gateway, people, db):
        for _ in range(2):
            assert (await gateway.post("/v1/teams", json={"name": "助老服务队"},
                                       headers=people["worker"])).status_code == 201
        assert await count(db, "volunteers.team") == 2
        assert await stored_keys(db) == 0


class TestDocumented:
    async def test_every_create_of_every_process_takes_the_header(self, gateway, cases_app, projects_app,
                                                                  volunteers_app):
        for app in (gateway.app, cases_app, projects_app, volunteers_app):
            creates = [(path, item["post"]) for path, item in app.openapi()["paths"].items()
                       if "201" in item.get("post", {}).get("responses", {})]
            assert creates, app.title
            for path, operation in creates:
                names = {p["name"] for p in operation.get("parameters", [])}
                assert "Idempotency-Key" in names, (app.title, path)

    async def test_every_create_writes_in_the_session_that_keeps_its_answer(self, gateway, cases_app, projects_app,
                                                                            volunteers_app):
        # A create whose handler wrote outside shared.db.write_session would not be kept with its answer.
        from fastapi.routing import APIRoute

        from shared.db import write_session
        from shared.idempotency import is_create

        def routes(container):
            for route in container.routes:
                if isinstance(route, APIRoute):
                    yield route
                elif hasattr(route, "original_router"):  # FastAPI keeps included routers whole
                    yield from routes(route.original_router)

        def calls(dependant):
            for sub in dependant.dependencies:
                yield sub.call
                yield from calls(sub)

        creates = [r for app in (gateway.app, cases_app, projects_app, volunteers_app) for r in routes(app.router)
                   if is_create(r)]
        assert len(creates) >= 20
        # An upload writes in shared.db.transaction once the file is stored (no connection held while a slow
        # body arrives), which the claim covers as write_session does: TestUploads below replays one.
        uploads = [r for r in creates if r.path.endswith("/attachments")]
        assert len(uploads) == 6
        assert [r.path for r in creates if r not in uploads and write_session not in set(calls(r.dependant))] == []


class TestUploads:
    async def test_an_upload_retried_with_its_key_answers_the_first_answer_and_stores_once(self, gateway, people,
                                                                                           db):
        from tests.storage.samples import pdf

        worker = people["worker"]
        person = (await gateway.post("/v1/beneficiaries", json={"name": "张桂芳"}, headers=worker)).json()["id"]
        headers = {**worker, "Idempotency-Key": key()}
        url = f"/v1/beneficiaries/{person}/attachments"
        first = await gateway.post(url, content=pdf(), headers=headers, params={"purpose": "consent_form"})
        assert first.status_code == 201, first.text
        again = await gateway.post(url, content=pdf(), headers=headers, params={"purpose": "consent_form"})
        assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        assert await count(db, "cases.attachment") == 1
