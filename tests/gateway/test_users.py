"""Users: who may create and manage whom, passwords, disabling, and one's own account."""

from __future__ import annotations

from tests.fixtures.gateway import PASSWORD

PROBLEM = "application/problem+json"


def fields(problem: dict) -> set[str]:
    return {e["field"] for e in problem.get("errors", [])}


def user_body(username: str, role: str, station_id: int, **extra) -> dict:
    return {"username": username, "display_name": "Li Hua", "role": role, "station_id": station_id,
            "password": PASSWORD, **extra}


class TestCreateUser:
    async def test_admin_creates_a_user(self, gateway, admin_headers, gateway_tree, db):
        r = await gateway.post("/v1/users", json=user_body("Li.Hua", "social_worker", gateway_tree["heping"]["id"],
                                                           phone="138 0000 1111"), headers=admin_headers)
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["username"] == "Li.Hua" and body["role"] == "social_worker"
        assert body["station_id"] == gateway_tree["heping"]["id"] and body["disabled_at"] is None
        assert "password" not in r.text and "hash" not in r.text
        assert r.headers["Location"] == f"/v1/users/{body['id']}" and r.headers["ETag"] == '"1"'
        stored = await db.fetchrow('SELECT * FROM gateway."user" WHERE id = $1', body["id"])
        assert stored["password_hash"].startswith("$argon2id$") and PASSWORD not in stored["password_hash"]
        assert stored["created_by"] == "1"
        seen = await gateway.get(f"/v1/users/{body['id']}", headers=admin_headers)
        assert seen.json() == body
        assert (await gateway.login("li.hua")).status_code == 200

    async def test_usernames_are_unique_ignoring_case(self, gateway, admin_headers, gateway_tree, db):
        await gateway.user(admin_headers, "wang.fang", "volunteer", gateway_tree["heping"]["id"])
        r = await gateway.post("/v1/users", json=user_body("WANG.Fang", "volunteer", gateway_tree["heping"]["id"]),
                               headers=admin_headers)
        assert r.status_code == 409 and fields(r.json()) == {"username"}
        assert await db.fetchval('SELECT count(*) FROM gateway."user"') == 2

    async def test_weak_passwords_name_the_field(self, gateway, admin_headers, gateway_tree, db):
        for password in ("short", "zhang.san.01", "ZHANG.SAN.01"):
            r = await gateway.post("/v1/users", json=user_body("zhang.san.01", "volunteer",
                                                               gateway_tree["heping"]["id"],
                                                               password=password), headers=admin_headers)
            assert r.status_code == 422 and fields(r.json()) == {"password"}, r.text
        assert await db.fetchval('SELECT count(*) FROM gateway."user"') == 1

    async def test_bad_input_names_the_field(self, gateway, admin_headers, gateway_tree, db):
        sid = gateway_tree["heping"]["id"]
        cases = [(user_body("x", "volunteer", sid), "username"),
                 (user_body("has space", "volunteer", sid), "username"),
                 (user_body("ok.name", "service", sid), "role"),
                 (user_body("ok.name", "volunteer", sid, phone="call me"), "phone"),
                 (user_body("ok.name", "volunteer", sid, password_hash="x"), "password_hash"),
                 (user_body("ok.name", "volunteer", 999999), "station_id")]
        for body, field in cases:
            r = await gateway.post("/v1/users", json=body, headers=admin_headers)
            assert r.status_code == 422 and field in fields(r.json()), (body, r.text)
        assert await db.fetchval('SELECT count(*) FROM gateway."user"') == 1

    async def test_station_head_creates_staff_in_its_subtree(self, gateway, admin_headers, gateway_tree):
        await gateway.user(admin_headers, "head.chenghua", "station_head", gateway_tree["chenghua"]["id"])
        head = await gateway.headers_for("head.chenghua")
        for role in ("social_worker", "supervisor", "volunteer"):
            r = await gateway.post("/v1/users", json=user_body(f"new.{role}", role, gateway_tree["heping"]["id"]),
                                   headers=head)
            assert r.status_code == 201, r.text
        below = await gateway.post("/v1/users", json=user_body("head.mzw", "station_head",
                                                               gateway_tree["mengzhuiwan"]["id"]), headers=head)
        assert below.status_code == 201

    async def test_station_head_cannot_create_above_itself(self, gateway, admin_headers, gateway_tree, db):
        await gateway.user(admin_headers, "head.chenghua", "station_head", gateway_tree["chenghua"]["id"])
        head = await gateway.headers_for("head.chenghua")
        for role in ("admin", "official", "station_head"):
            r = await gateway.post("/v1/users", json=user_body(f"x.{role}", role, gateway_tree["chenghua"]["id"]),
                                   headers=head)
            assert r.status_code == 403 and r.headers["content-type"] == PROBLEM, role
        for role in ("admin", "official"):
            r = await gateway.post("/v1/users", json=user_body(f"y.{role}", role, gateway_tree["heping"]["id"]),
                                   headers=head)
            assert r.status_code == 403, role
        outside = await gateway.post("/v1/users", json=user_body("z.worker", "social_worker",
                                                                 gateway_tree["mianyang"]["id"]), headers=head)
        assert outside.status_code == 422 and fields(outside.json()) == {"station_id"}
        assert await db.fetchval('SELECT count(*) FROM gateway."user"') == 2

    async def test_other_roles_cannot_create_users(self, gateway, admin_headers, gateway_tree):
        await gateway.user(admin_headers, "sup", "supervisor", gateway_tree["chenghua"]["id"])
        sup = await gateway.headers_for("sup")
        r = await gateway.post("/v1/users", json=user_body("new.one", "volunteer", gateway_tree["heping"]["id"]),
                               headers=sup)
        assert r.status_code == 403


class TestListUsers:
    async def test_scoped_filtered_and_paged(self, gateway, admin_headers, gateway_tree):
        await gateway.user(admin_headers, "head.mzw", "station_head", gateway_tree["mengzhuiwan"]["id"])
        await gateway.user(admin_headers, "wk1", "social_worker", gateway_tree["heping"]["id"])
        await gateway.user(admin_headers, "wk2", "social_worker", gateway_tree["mengzhuiwan"]["id"])
        await gateway.user(admin_headers, "vol1", "volunteer", gateway_tree["heping"]["id"])
        await gateway.user(admin_headers, "far", "social_worker", gateway_tree["mianyang"]["id"])
        head = await gateway.headers_for("head.mzw")
        r = await gateway.get("/v1/users", headers=head)
        assert r.status_code == 200
        assert {u["username"] for u in r.json()["items"]} == {"head.mzw", "wk1", "wk2", "vol1"}
        workers = await gateway.get("/v1/users", params={"role": "social_worker"}, headers=head)
        assert {u["username"] for u in workers.json()["items"]} == {"wk1", "wk2"}
        at_heping = await gateway.get("/v1/users", params={"station_id": gateway_tree["heping"]["id"]}, headers=head)
        assert {u["username"] for u in at_heping.json()["items"]} == {"wk1", "vol1"}
        names, cursor = [], None
        while True:
            page = await gateway.get("/v1/users", params={"limit": 3, **({"cursor": cursor} if cursor else {})},
                                     headers=admin_headers)
            names += [u["username"] for u in page.json()["items"]]
            cursor = page.json()["next_cursor"]
            if not cursor:
                break
        assert sorted(names) == sorted(["admin", "head.mzw", "wk1", "wk2", "vol1", "far"])

    async def test_workers_cannot_list_users(self, gateway, admin_headers, gateway_tree):
        await gateway.user(admin_headers, "wk1", "social_worker", gateway_tree["heping"]["id"])
        r = await gateway.get("/v1/users", headers=await gateway.headers_for("wk1"))
        assert r.status_code == 403


class TestGetUser:
    async def test_outside_scope_is_404(self, gateway, admin_headers, gateway_tree):
        far = await gateway.user(admin_headers, "far", "social_worker", gateway_tree["mianyang"]["id"])
        await gateway.user(admin_headers, "head.chenghua", "station_head", gateway_tree["chenghua"]["id"])
        head = await gateway.headers_for("head.chenghua")
        r = await gateway.get(f"/v1/users/{far['id']}", headers=head)
        assert r.status_code == 404
        assert (await gateway.get("/v1/users/999999", headers=head)).json()["detail"] == r.json()["detail"]


class TestUpdateUser:
    async def test_update_with_if_match(self, gateway, admin_headers, gateway_tree, db):
        user = await gateway.user(admin_headers, "wk1", "social_worker", gateway_tree["heping"]["id"])
        r = await gateway.patch(f"/v1/users/{user['id']}", json={"display_name": "Wang Wei", "phone": "13800001111"},
                                headers={**admin_headers, "If-Match": '"1"'})
        assert r.status_code == 200, r.text
        assert r.json()["display_name"] == "Wang Wei" and r.json()["version"] == 2 and r.headers["ETag"] == '"2"'
        stored = await db.fetchrow('SELECT display_name, phone, updated_by FROM gateway."user" WHERE id = $1',
                                   user["id"])
        assert tuple(stored) == ("Wang Wei", "13800001111", "1")
        stale = await gateway.patch(f"/v1/users/{user['id']}", json={"display_name": "X"},
                                    headers={**admin_headers, "If-Match": '"1"'})
        assert stale.status_code == 412
        missing = await gateway.patch(f"/v1/users/{user['id']}", json={"display_name": "X"}, headers=admin_headers)
        assert missing.status_code == 428

    async def test_role_or_station_change_ends_sessions(self, gateway, admin_headers, gateway_tree, db):
        user = await gateway.user(admin_headers, "wk1", "social_worker", gateway_tree["heping"]["id"])
        refresh = (await gateway.login("wk1")).json()["refresh_token"]
        r = await gateway.patch(f"/v1/users/{user['id']}", json={"role": "supervisor",
                                                                 "station_id": gateway_tree["chenghua"]["id"]},
                                headers={**admin_headers, "If-Match": '"1"'})
        assert r.status_code == 200 and r.json()["role"] == "supervisor"
        assert (await gateway.post("/v1/auth/refresh", json={"refresh_token": refresh})).status_code == 401
        me = await gateway.get("/v1/me", headers=await gateway.headers_for("wk1"))
        assert me.json()["station"]["id"] == gateway_tree["chenghua"]["id"]

    async def test_station_head_cannot_promote(self, gateway, admin_headers, gateway_tree, db):
        await gateway.user(admin_headers, "head.chenghua", "station_head", gateway_tree["chenghua"]["id"])
        user = await gateway.user(admin_headers, "wk1", "social_worker", gateway_tree["heping"]["id"])
        head = await gateway.headers_for("head.chenghua")
        r = await gateway.patch(f"/v1/users/{user['id']}", json={"role": "admin"}, headers={**head, "If-Match": '"1"'})
        assert r.status_code == 403
        outside = await gateway.patch(f"/v1/users/{user['id']}", json={"station_id": gateway_tree["mianyang"]["id"]},
                                      headers={**head, "If-Match": '"1"'})
        assert outside.status_code == 422 and fields(outside.json()) == {"station_id"}
        assert await db.fetchval('SELECT role FROM gateway."user" WHERE id = $1', user["id"]) == "social_worker"

    async def test_admin_cannot_change_own_role(self, gateway, admin_headers):
        r = await gateway.patch("/v1/users/1", json={"role": "volunteer"}, headers={**admin_headers, "If-Match": '"1"'})
        assert r.status_code == 409


class TestResetPassword:
    async def test_manager_resets_and_sessions_end(self, gateway, admin_headers, gateway_tree, db):
        user = await gateway.user(admin_headers, "wk1", "social_worker", gateway_tree["heping"]["id"])
        refresh = (await gateway.login("wk1")).json()["refresh_token"]
        r = await gateway.post(f"/v1/users/{user['id']}/password", json={"password": "a brand new secret"},
                               headers=admin_headers)
        assert r.status_code == 204
        assert (await gateway.login("wk1")).status_code == 401
        assert (await gateway.login("wk1", "a brand new secret")).status_code == 200
        assert (await gateway.post("/v1/auth/refresh", json={"refresh_token": refresh})).status_code == 401

    async def test_weak_password_is_refused(self, gateway, admin_headers, gateway_tree):
        user = await gateway.user(admin_headers, "wk1", "social_worker", gateway_tree["heping"]["id"])
        r = await gateway.post(f"/v1/users/{user['id']}/password", json={"password": "tiny"}, headers=admin_headers)
        assert r.status_code == 422 and fields(r.json()) == {"password"}
        assert (await gateway.login("wk1")).status_code == 200

    async def test_not_for_ones_own_account(self, gateway, admin_headers):
        r = await gateway.post("/v1/users/1/password", json={"password": "a brand new secret"}, headers=admin_headers)
        assert r.status_code == 403 and "/v1/me/password" in r.json()["detail"]


class TestChangeOwnPassword:
    async def test_with_the_current_password(self, gateway, admin_headers, gateway_tree):
        await gateway.user(admin_headers, "wk1", "social_worker", gateway_tree["heping"]["id"])
        me = await gateway.headers_for("wk1")
        wrong = await gateway.post("/v1/me/password", json={"old_password": "not my password",
                                                            "new_password": "another good one"}, headers=me)
        assert wrong.status_code == 422 and fields(wrong.json()) == {"old_password"}
        weak = await gateway.post("/v1/me/password", json={"old_password": PASSWORD, "new_password": "wk1"},
                                  headers=me)
        assert weak.status_code == 422 and fields(weak.json()) == {"new_password"}
        ok = await gateway.post("/v1/me/password", json={"old_password": PASSWORD,
                                                         "new_password": "another good one"}, headers=me)
        assert ok.status_code == 204
        assert (await gateway.login("wk1", "another good one")).status_code == 200
        assert (await gateway.login("wk1")).status_code == 401


class TestDisableUser:
    async def test_disabled_users_are_shut_out(self, gateway, admin_headers, gateway_tree, db):
        user = await gateway.user(admin_headers, "wk1", "social_worker", gateway_tree["heping"]["id"])
        tokens = (await gateway.login("wk1")).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        r = await gateway.post(f"/v1/users/{user['id']}/disable", headers=admin_headers)
        assert r.status_code == 200 and r.json()["disabled_at"] is not None
        assert await db.fetchval('SELECT disabled_at FROM gateway."user" WHERE id = $1', user["id"]) is not None
        login = await gateway.login("wk1")
        assert login.status_code == 403 and "disabled" in login.json()["detail"]
        assert (await gateway.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).status_code \
            == 401
        assert (await gateway.get("/v1/me", headers=headers)).status_code == 401

        enabled = await gateway.post(f"/v1/users/{user['id']}/enable", headers=admin_headers)
        assert enabled.status_code == 200 and enabled.json()["disabled_at"] is None
        assert (await gateway.login("wk1")).status_code == 200

    async def test_not_oneself(self, gateway, admin_headers):
        assert (await gateway.post("/v1/users/1/disable", headers=admin_headers)).status_code == 409

    async def test_head_cannot_disable_its_peer(self, gateway, admin_headers, gateway_tree):
        await gateway.user(admin_headers, "head.a", "station_head", gateway_tree["chenghua"]["id"])
        peer = await gateway.user(admin_headers, "head.b", "station_head", gateway_tree["chenghua"]["id"])
        head = await gateway.headers_for("head.a")
        assert (await gateway.post(f"/v1/users/{peer['id']}/disable", headers=head)).status_code == 403
