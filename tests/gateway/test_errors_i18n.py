"""Problem details in the caller's language (Accept-Language) from every process: the three
services directly and through the gateway, which passes their problems on as they are.

Titles and details are Chinese when asked for; `type`, field names and codes never change.
"""

from __future__ import annotations

import uuid

import pytest

from tests.fixtures.people import ID_BORN_1980

ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
EN = {"Accept-Language": "en-US,en;q=0.9"}
PROBLEM = "application/problem+json"


def zh_problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM and r.headers["content-language"] == "zh-CN"
    return r.json()


@pytest.fixture
async def services(cases_client, projects_client, volunteers_client, push_tree):
    await push_tree(cases_client, projects_client, volunteers_client)
    return {"cases": cases_client, "projects": projects_client, "volunteers": volunteers_client}


# Per service: a record path, a create path with a body missing a required field, and the
# noun of its 404.
SERVICES = {
    "cases": ("/v1/cases/", "/v1/beneficiaries", {"populations": "elderly"}, "没有该个案。"),
    "projects": ("/v1/projects/", "/v1/projects", {"name": "x", "starts_on": "not a date"}, "没有该项目。"),
    "volunteers": ("/v1/volunteers/", "/v1/volunteers", {"name": "x", "id_number": 5}, "没有该志愿者。"),
}


class TestEveryService:
    @pytest.mark.parametrize("name", sorted(SERVICES))
    async def test_401_403_404_422_413(self, services, token_for, name):
        client = services[name]
        record, create, bad_body, not_found = SERVICES[name]
        worker = token_for("station_head", 2, "/1/2/")

        p = zh_problem(await client.get(record + str(uuid.uuid4()), headers=ZH), 401)
        assert p["title"] == "未登录或登录已失效"
        assert p["detail"] == "请先登录，并以 'Authorization: Bearer <token>' 发送访问令牌。"

        p = zh_problem(await client.get(record + str(uuid.uuid4()), headers={**worker, **ZH}), 404)
        assert p["title"] == "未找到" and p["detail"] == not_found

        official = token_for("official", 1, "/1/")
        p = zh_problem(await client.post(create, json={}, headers={**official, **ZH}), 403)
        assert p["title"] == "无权操作" and "\u4e00" <= p["detail"][0] <= "\u9fff", p

        en = await client.post(create, json=bad_body, headers={**worker, **EN})
        r = await client.post(create, json=bad_body, headers={**worker, **ZH})
        p = zh_problem(r, 422)
        assert p["title"] == "输入有误" and p["detail"].startswith("请检查这些字段：")
        assert p["type"] == en.json()["type"] and en.json()["title"] == "Invalid input"
        # The same fields and codes as in English: machine names, never translated.
        assert [(e["field"], e["code"]) for e in p["errors"]] == [(e["field"], e["code"]) for e in en.json()["errors"]]
        assert p["detail"].removeprefix("请检查这些字段：") == en.json()["detail"].removeprefix("Check these fields: ")
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in e["message"]) for e in p["errors"]), p["errors"]
        # Nothing was written.
        listed = await client.get(create, headers=worker)
        assert listed.status_code == 200 and listed.json()["items"] == []

        huge = b'{"name": "' + b"x" * 2_000_000 + b'"}'
        p = zh_problem(await client.post(create, content=huge, headers={
            **worker, **ZH, "content-type": "application/json"}), 413)
        assert p["title"] == "请求内容过大" and p["errors"][0]["field"] == "body"

    async def test_409_in_the_requested_language(self, services, token_for):
        admin = token_for("admin", 1, "/1/")
        body = {"code": "veterans", "label_zh": "退役军人", "label_en": "Veterans"}
        assert (await services["cases"].post("/v1/populations", json=body, headers=admin)).status_code == 201
        p = zh_problem(await services["cases"].post("/v1/populations", json=body, headers={**admin, **ZH}), 409)
        assert p["title"] == "操作冲突" and p["detail"] == "此人群代码已存在。"
        assert p["errors"] == [{"field": "code", "message": "已存在", "code": "duplicate"}]

        worker = token_for("social_worker", 2, "/1/2/")
        volunteer = {"name": "张志愿", "id_number": ID_BORN_1980, "station_id": 2}
        volunteers = services["volunteers"]
        assert (await volunteers.post("/v1/volunteers", json=volunteer, headers=worker)).status_code == 201
        p = zh_problem(await volunteers.post("/v1/volunteers", json=volunteer, headers={**worker, **ZH}), 409)
        assert p["detail"] == "此身份证号的志愿者已经注册。"
        # Without Accept-Language: English, as before.
        r = await volunteers.post("/v1/volunteers", json=volunteer, headers=worker)
        assert r.status_code == 409 and r.json()["title"] == "Conflict" and "content-language" not in r.headers


class TestThroughTheGateway:
    async def test_the_gateways_own_and_the_services_problems(self, gateway, admin_headers, gateway_tree):
        # The gateway's own: 401 on login, 404 of a station, 422 of its own input.
        p = zh_problem(await gateway.post("/v1/auth/token", data={"username": "admin", "password": "wrong"},
                                          headers=ZH), 401)
        assert p["title"] == "未登录或登录已失效" and p["detail"] == "用户名或密码错误。"
        p = zh_problem(await gateway.get("/v1/stations/99999", headers={**admin_headers, **ZH}), 404)
        assert p["detail"] == "您的范围内没有该站点。"
        p = zh_problem(await gateway.post("/v1/stations", json={"parent_id": gateway_tree["chenghua"]["id"]},
                                          headers={**admin_headers, **ZH}), 422)
        assert {e["field"] for e in p["errors"]} == {"kind", "name"}
        assert {e["message"] for e in p["errors"]} == {"必填字段"}
        # A service's problem comes through as the service wrote it, in the language asked for.
        p = zh_problem(await gateway.get(f"/v1/cases/{uuid.uuid4()}", headers={**admin_headers, **ZH}), 404)
        assert p["detail"] == "没有该个案。"
        r = await gateway.get(f"/v1/cases/{uuid.uuid4()}", headers=admin_headers)
        assert r.status_code == 404 and r.json()["detail"] == "No such case."
        # 403: a volunteer asks for aggregates.
        await gateway.user(admin_headers, "vol.one", "volunteer", gateway_tree["heping"]["id"])
        vol = await gateway.headers_for("vol.one")
        p = zh_problem(await gateway.get("/v1/stats/summary", headers={**vol, **ZH}), 403)
        assert p["detail"] == "志愿者不能查看站点统计数据。"

    async def test_429_throttled_login(self, gateway_factory):
        gateway = await gateway_factory(login_free_failures=2)
        for _ in range(3):
            await gateway.post("/v1/auth/token", data={"username": "admin", "password": "wrong"})
        p = zh_problem(await gateway.post("/v1/auth/token", data={"username": "admin", "password": "wrong"},
                                          headers=ZH), 429)
        assert p["title"] == "请求过于频繁" and "登录失败次数过多" in p["detail"]
