"""Passwords that are easy to guess are refused wherever a password is set: common ones,
sequences and repeats, and ones built on the username, the user's or the station's name, or
the platform's own name (NIST SP 800-63B). A 422 names the field and says why, in Chinese too."""

from __future__ import annotations

import pytest

from gateway.identity.passwords import check_policy
from tests.fixtures.gateway import PASSWORD, first_start_refuses

ZH = {"Accept-Language": "zh-CN"}
# (password, code): the probe's examples first.
REFUSED = [("1234567890", "common"), ("aaaaaaaaaa", "repeat"), ("password12", "common"),
           ("qwertyuiop", "common"), ("abcdefghijk", "sequence"), ("19890604", "too_short"),
           ("2024-05-06!", "date"), ("haolin2026!", "context"), ("Haolin-2026-Haolin", "context"),
           ("好邻好邻好邻12345", "context"), ("zhang.san.2026", "context"), ("Heping2026!!", "context"),
           ("张三丰张三丰1990", "context")]


def problem_of(r) -> dict:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    return r.json()


def body(station_id: int, password: str) -> dict:
    return {"username": "zhang.san", "display_name": "张三丰", "role": "social_worker", "station_id": station_id,
            "password": password}


class TestWherePasswordsAreSet:
    @pytest.mark.parametrize(("password", "code"), REFUSED)
    async def test_creating_a_user(self, gateway, admin_headers, gateway_tree, db, password, code):
        r = await gateway.post("/v1/users", json=body(gateway_tree["heping"]["id"], password), headers=admin_headers)
        problem = problem_of(r)
        assert [(e["field"], e["code"]) for e in problem["errors"]] == [("password", code)], problem
        assert password not in r.text
        assert await db.fetchval('SELECT count(*) FROM gateway."user"') == 1

    async def test_a_good_passphrase_is_taken(self, gateway, admin_headers, gateway_tree):
        for i, password in enumerate(("correct horse battery", "morning tea on the balcony", "Xq7#vL2m!pR9")):
            r = await gateway.post("/v1/users", json={**body(gateway_tree["heping"]["id"], password),
                                                      "username": f"zhang.san{i}"}, headers=admin_headers)
            assert r.status_code == 201, (password, r.text)

    async def test_the_reason_in_chinese(self, gateway, admin_headers, gateway_tree):
        r = await gateway.post("/v1/users", json=body(gateway_tree["heping"]["id"], "1234567890"),
                               headers={**admin_headers, **ZH})
        error = problem_of(r)["errors"][0]
        assert error["field"] == "password" and error["message"] == "这是常用密码，请换一个。"
        r = await gateway.post("/v1/users", json=body(gateway_tree["heping"]["id"], "Heping2026!!"),
                               headers={**admin_headers, **ZH})
        assert "站点名称" in problem_of(r)["errors"][0]["message"]

    async def test_a_reset_and_ones_own_change(self, gateway, admin_headers, gateway_tree):
        user = await gateway.user(admin_headers, "wk1", "social_worker", gateway_tree["heping"]["id"])
        r = await gateway.post(f"/v1/users/{user['id']}/password", json={"password": "password12"},
                               headers=admin_headers)
        assert [e["field"] for e in problem_of(r)["errors"]] == ["password"]
        me = await gateway.headers_for("wk1")
        r = await gateway.post("/v1/me/password", json={"old_password": PASSWORD, "new_password": "Heping-2026"},
                               headers=me)
        assert [(e["field"], e["code"]) for e in problem_of(r)["errors"]] == [("new_password", "context")]
        assert (await gateway.login("wk1")).status_code == 200


class TestTheFirstStart:
    async def test_a_guessable_admin_password_is_refused(self, database_url, db):
        for weak in ("haolin-admin-1", "1234567890"):
            await first_start_refuses(weak, match="ADMIN_PASSWORD|easy to guess|commonly used|Haolin")
        assert await db.fetchval('SELECT count(*) FROM gateway."user"') == 0

    async def test_generated_passwords_pass_the_rules(self):
        from gateway.identity.passwords import generate_password

        for _ in range(50):
            password = generate_password("admin", ("Administrator", "省级社工服务平台"))
            await check_policy(password, "admin", context=("Administrator", "省级社工服务平台"))
