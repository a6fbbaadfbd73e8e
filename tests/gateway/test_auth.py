"""Logins, their throttle, rate limits, refresh rotation, logout, /v1/me, bootstrap, and tokens
that the services accept."""

from __future__ import annotations

import asyncio
import logging
import re

import httpx
import pytest

from gateway.config import GatewaySettings
from gateway.identity.bootstrap import ensure_admin
from gateway.identity.passwords import from_settings
from shared.auth import TokenVerifier
from shared.principals import Role
from shared.db import Database
from tests.fixtures.gateway import ADMIN_PASSWORD, FAST_HASHING, first_start_refuses
from tests.fixtures.stations import station_rows


def client_from(gateway, address: str):
    """A client of the same gateway app, connecting from `address`."""
    return type(gateway)(transport=httpx.ASGITransport(app=gateway.app, client=(address, 5000)),
                         base_url="http://gateway")


def fields(problem: dict) -> set[str]:
    return {e["field"] for e in problem.get("errors", [])}


class TestToken:
    async def test_login_answers_a_token_pair(self, gateway, admin_headers, gateway_tree, db):
        await gateway.user(admin_headers, "Li.Hua", "social_worker", gateway_tree["heping"]["id"])
        r = await gateway.login("LI.HUA")
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "failed_logins",
                             "last_login_at"}
        assert body["token_type"] == "bearer" and body["expires_in"] == 900
        verifier = TokenVerifier(gateway.app.state.settings.public_key_pem(), "haolin", "haolin")
        principal = verifier.verify(body["access_token"])
        assert principal.role is Role.social_worker and principal.station_id == gateway_tree["heping"]["id"]
        assert principal.station_path == gateway_tree["heping"]["path"] and principal.name == "Li.Hua"
        stored = await db.fetchrow("SELECT token_hash, revoked_at FROM gateway.refresh_token")
        assert stored["token_hash"] != body["refresh_token"] and stored["revoked_at"] is None
        assert await db.fetchval('SELECT last_login_at FROM gateway."user" WHERE username = $1', "Li.Hua")

    async def test_wrong_username_and_wrong_password_look_the_same(self, gateway, admin_headers, gateway_tree,
                                                                   monkeypatch):
        await gateway.user(admin_headers, "wk1", "social_worker", gateway_tree["heping"]["id"])
        passwords = from_settings(gateway.app.state.settings)
        verified = []
        real = passwords._verify
        monkeypatch.setattr(passwords, "_verify", lambda stored, pw: verified.append(stored) or real(stored, pw))
        wrong_password = await gateway.login("wk1", "not the password")
        unknown_user = await gateway.login("nobody", "not the password")
        assert wrong_password.status_code == unknown_user.status_code == 401
        assert wrong_password.json() == unknown_user.json()
        assert wrong_password.headers["content-type"] == "application/problem+json"
        # The unknown user cost a verification too (against the dummy hash).
        assert len(verified) == 2 and verified[1] is None

    async def test_a_wait_says_how_long_it_lasts_in_the_callers_language(self, gateway_factory):
        gw = await gateway_factory(login_free_failures=1, login_delay_s=289, login_max_delay_s=289)
        await gw.locked_out("wk2")
        r = await gw.post("/v1/auth/token", data={"username": "wk2", "password": "x"},
                          headers={"Accept-Language": "zh-CN"})
        assert r.status_code == 429 and 288 <= r.json()["retry_after"] <= 289
        wait = "4 分 49 秒" if r.json()["retry_after"] == 289 else "4 分 48 秒"
        assert r.json()["detail"] == f"此用户名从您的地址登录失败次数过多。请 {wait}后再试。"

    async def test_form_fields_are_required(self, gateway):
        r = await gateway.post("/v1/auth/token", data={"username": "admin"})
        assert r.status_code == 422 and fields(r.json()) == {"password"}

    async def test_a_stranger_cannot_lock_the_owner_out(self, gateway_factory, db):
        """Anyone may guess at anyone's account, the administrator's included: the guesses slow
        down the guesser's address, and the owner, elsewhere, logs in at once."""
        gw = await gateway_factory(login_free_failures=2, login_delay_s=30, login_per_address_per_minute=1000)
        async with client_from(gw, "198.51.100.66") as stranger:
            for _ in range(8):
                assert (await stranger.login("admin", "not the password")).status_code in (401, 429)
            assert (await stranger.login("admin", ADMIN_PASSWORD)).status_code == 429
        r = await gw.login("admin", ADMIN_PASSWORD)
        assert r.status_code == 200, r.text
        assert await db.fetchval("SELECT count(*) FROM gateway.login_throttle") == 1
        assert await db.fetchval("SELECT address FROM gateway.login_throttle") == "198.51.100.66"

    async def test_failures_from_one_address_wait_longer_and_longer(self, gateway_factory):
        gw = await gateway_factory(login_free_failures=2, login_delay_s=1, login_max_delay_s=2)
        admin = await gw.admin()
        root = (await gw.get("/v1/stations", headers=admin)).json()["items"][0]
        await gw.user(admin, "wk1", "social_worker", root["id"])
        for _ in range(3):  # two free failures, then the third sets a wait of 1 s
            assert (await gw.login("wk1", "wrong password")).status_code == 401
        waiting = await gw.login("wk1")  # even the right password waits: the guesser may have found it
        assert waiting.status_code == 429 and waiting.headers["Retry-After"] == "1"
        assert waiting.json()["type"].endswith("login-throttled") and waiting.json()["retry_after"] == 1
        assert "try again in 1 s" in waiting.json()["detail"]
        await asyncio.sleep(1.05)
        assert (await gw.login("wk1", "wrong password")).status_code == 401  # the fourth: 2 s
        assert (await gw.login("wk1")).headers["Retry-After"] == "2"
        await asyncio.sleep(2.05)
        assert (await gw.login("wk1", "wrong password")).status_code == 401  # the fifth: 4 s, capped at 2
        assert (await gw.login("wk1")).headers["Retry-After"] == "2"
        await asyncio.sleep(2.05)
        assert (await gw.login("wk1")).status_code == 200
        # A success forgets the address's failures: the next mistakes are free again.
        assert (await gw.login("wk1", "wrong password")).status_code == 401
        assert (await gw.login("wk1")).status_code == 200

    async def test_throttled_and_unknown_accounts_answer_alike(self, gateway_factory, monkeypatch):
        """The same attempts at a real account and at a name nobody has: the same statuses and bodies,
        and a password hashed for the unknown name too."""
        gw = await gateway_factory(login_free_failures=2, login_delay_s=60)
        admin = await gw.admin()
        root = (await gw.get("/v1/stations", headers=admin)).json()["items"][0]
        await gw.user(admin, "wk1", "social_worker", root["id"])
        passwords = from_settings(gw.app.state.settings)
        verified = []
        real = passwords._verify
        monkeypatch.setattr(passwords, "_verify", lambda stored, pw: verified.append(stored) or real(stored, pw))
        answers = {}
        for name in ("wk1", "nobody.here"):
            verified.clear()
            seen = []
            for _ in range(5):
                r = await gw.login(name, "wrong password")
                seen.append((r.status_code, r.headers.get("retry-after"), r.headers["content-type"], r.json()))
            answers[name] = seen
            assert len(verified) == 3  # hashed for the attempts let through, known name or not
        assert answers["wk1"] == answers["nobody.here"]
        assert [a[0] for a in answers["wk1"]] == [401, 401, 401, 429, 429]

    async def test_the_owner_is_told_at_the_next_login(self, gateway_factory, db):
        gw = await gateway_factory(login_per_address_per_minute=1000)
        admin = await gw.admin()
        root = (await gw.get("/v1/stations", headers=admin)).json()["items"][0]
        await gw.user(admin, "wk1", "social_worker", root["id"])
        first = (await gw.login("wk1")).json()
        assert first["failed_logins"] == 0 and first["last_login_at"] is None
        for address in ("198.51.100.1", "198.51.100.2"):
            async with client_from(gw, address) as stranger:
                for _ in range(2):
                    assert (await stranger.login("wk1", "a guess")).status_code == 401
        r = await gw.login("wk1")
        assert r.status_code == 200
        assert r.json()["failed_logins"] == 4 and r.json()["last_login_at"] is not None
        assert (await gw.login("wk1")).json()["failed_logins"] == 0
        # A manager sees the count too, on the user.
        await gw.login("wk1", "another guess")
        users = (await gw.get("/v1/users", headers=admin, params={"role": "social_worker"})).json()["items"]
        assert users[0]["failed_logins"] == 1

    @pytest.mark.replicated
    async def test_every_gateway_process_counts_the_same_failures(self, gateway_factory):
        """The counters live in PostgreSQL: a second gateway (another worker or replica) makes the
        same address wait."""
        first = await gateway_factory(login_free_failures=1, login_delay_s=60)
        second = await gateway_factory(login_free_failures=1, login_delay_s=60)
        for _ in range(2):
            assert (await first.login("admin", "wrong password")).status_code == 401
        assert (await second.login("admin", ADMIN_PASSWORD)).status_code == 429

    async def test_enabling_or_a_new_password_lifts_the_delays(self, gateway_factory):
        gw = await gateway_factory(login_free_failures=1, login_delay_s=3600)
        admin = await gw.admin()
        root = (await gw.get("/v1/stations", headers=admin)).json()["items"][0]
        user = await gw.user(admin, "wk1", "social_worker", root["id"])
        for _ in range(2):
            await gw.login("wk1", "wrong password")
        assert (await gw.login("wk1")).status_code == 429
        assert (await gw.post(f"/v1/users/{user['id']}/enable", headers=admin)).status_code == 200
        assert (await gw.login("wk1")).status_code == 200
        for _ in range(2):
            await gw.login("wk1", "wrong password")
        assert (await gw.login("wk1")).status_code == 429
        r = await gw.post(f"/v1/users/{user['id']}/password", json={"password": "a fresh one for spring"},
                          headers=admin)
        assert r.status_code == 204
        assert (await gw.login("wk1", "a fresh one for spring")).status_code == 200

    async def test_per_address_limit(self, gateway_factory):
        gw = await gateway_factory(login_per_address_per_minute=3)
        for _ in range(3):
            assert (await gw.login("nobody", "wrong password")).status_code == 401
        limited = await gw.login("admin", ADMIN_PASSWORD)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        other = httpx.AsyncClient(transport=httpx.ASGITransport(app=gw.app, client=("10.0.0.9", 5000)),
                                  base_url="http://gateway")
        async with other:
            r = await other.post("/v1/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD})
            assert r.status_code == 200

    @pytest.mark.replicated
    async def test_per_address_limit_is_shared_by_every_gateway_on_the_database(self, gateway_factory, db):
        """Two gateways (two workers, two replicas) count one address's attempts together: three on
        one and none left on the other, and the wait is what the first would answer."""
        one = await gateway_factory(login_per_address_per_minute=3)
        two = await gateway_factory(login_per_address_per_minute=3)
        assert [(await gw.login("nobody", "wrong password")).status_code for gw in (one, two, one)] == [401] * 3
        limited = await two.login("admin", ADMIN_PASSWORD)
        assert limited.status_code == 429 and 55 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.json()["status"] == 429
        assert (await one.login("admin", ADMIN_PASSWORD)).status_code == 429
        assert len(await db.fetchval("SELECT attempts FROM gateway.login_address WHERE address = '127.0.0.1'")) == 3

    async def test_attempts_leave_the_window_after_a_minute(self, gateway_factory, db):
        gw = await gateway_factory(login_per_address_per_minute=2)
        assert [(await gw.login("nobody", "wrong password")).status_code for _ in range(2)] == [401, 401]
        assert (await gw.login("admin", ADMIN_PASSWORD)).status_code == 429
        # The first attempt a minute old (50 s for the second): one attempt is free again, and the
        # wait after it is what is left of the second's minute.
        await db.execute("UPDATE gateway.login_address SET attempts = ARRAY[clock_timestamp() - interval '61 s', "
                         "clock_timestamp() - interval '50 s']")
        assert (await gw.login("admin", ADMIN_PASSWORD)).status_code == 200
        limited = await gw.login("admin", ADMIN_PASSWORD)
        assert limited.status_code == 429 and 9 <= int(limited.headers["Retry-After"]) <= 11

    async def test_hash_is_upgraded_when_parameters_change(self, gateway_factory, db):
        first = await gateway_factory()
        admin = await first.admin()
        root = (await first.get("/v1/stations", headers=admin)).json()["items"][0]
        await first.user(admin, "wk1", "social_worker", root["id"])
        assert ",t=1," in await db.fetchval('SELECT password_hash FROM gateway."user" WHERE username = $1', "wk1")
        stronger = await gateway_factory(password_time_cost=2)
        assert (await stronger.login("wk1")).status_code == 200
        assert ",t=2," in await db.fetchval('SELECT password_hash FROM gateway."user" WHERE username = $1', "wk1")
        assert (await stronger.login("wk1")).status_code == 200


class TestRefresh:
    async def test_rotation(self, gateway, admin_headers, db):
        first = (await gateway.login("admin", ADMIN_PASSWORD)).json()
        r = await gateway.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert r.status_code == 200, r.text
        second = r.json()
        assert second["refresh_token"] != first["refresh_token"] and second["access_token"]
        rows = await db.fetch("SELECT family_id, revoked_at FROM gateway.refresh_token ORDER BY id")
        mine = [row for row in rows if row["family_id"] == rows[-1]["family_id"]]
        assert len(mine) == 2 and mine[0]["revoked_at"] is not None and mine[1]["revoked_at"] is None
        me = await gateway.get("/v1/me", headers={"Authorization": f"Bearer {second['access_token']}"})
        assert me.status_code == 200 and me.json()["username"] == "admin"

    async def test_reuse_revokes_the_whole_family(self, gateway, admin_headers, db):
        first = (await gateway.login("admin", ADMIN_PASSWORD)).json()
        second = (await gateway.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
        reuse = await gateway.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert reuse.status_code == 401 and "already used" in reuse.json()["detail"]
        thief_lost = await gateway.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
        assert thief_lost.status_code == 401
        family = await db.fetchval("SELECT family_id FROM gateway.refresh_token ORDER BY id DESC LIMIT 1")
        assert await db.fetchval("SELECT count(*) FROM gateway.refresh_token WHERE family_id = $1 "
                                 "AND revoked_at IS NULL", family) == 0
        # Other logins of the same user are untouched.
        assert await db.fetchval("SELECT count(*) FROM gateway.refresh_token WHERE revoked_at IS NULL") == 1

    async def test_unknown_and_expired_tokens(self, gateway, admin_headers, db):
        assert (await gateway.post("/v1/auth/refresh", json={"refresh_token": "made-up"})).status_code == 401
        pair = (await gateway.login("admin", ADMIN_PASSWORD)).json()
        await db.execute("UPDATE gateway.refresh_token SET expires_at = now() - interval '1 second'")
        expired = await gateway.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert expired.status_code == 401 and "expired" in expired.json()["detail"]

    async def test_body_is_validated(self, gateway):
        r = await gateway.post("/v1/auth/refresh", json={"token": "x"})
        assert r.status_code == 422 and {"refresh_token", "token"} <= fields(r.json())


@pytest.mark.replicated
class TestLogout:
    async def test_logout_revokes(self, gateway, admin_headers, db):
        pair = (await gateway.login("admin", ADMIN_PASSWORD)).json()
        r = await gateway.post("/v1/auth/logout", json={"refresh_token": pair["refresh_token"]})
        assert r.status_code == 204
        assert (await gateway.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})).status_code \
            == 401
        assert await db.fetchval("SELECT count(*) FROM gateway.refresh_token WHERE revoked_at IS NULL") == 1
        assert (await gateway.post("/v1/auth/logout", json={"refresh_token": "unknown"})).status_code == 204


class TestMe:
    async def test_profile_with_station(self, gateway, admin_headers, gateway_tree):
        await gateway.user(admin_headers, "wk1", "social_worker", gateway_tree["heping"]["id"], phone="13800001111")
        r = await gateway.get("/v1/me", headers=await gateway.headers_for("wk1"))
        assert r.status_code == 200
        body = r.json()
        assert body["username"] == "wk1" and body["role"] == "social_worker" and body["phone"] == "13800001111"
        assert body["station"] == {"id": gateway_tree["heping"]["id"], "name": "Heping",
                                   "path": gateway_tree["heping"]["path"],
                                   "kind": "village"}
        assert "password" not in r.text

    async def test_needs_a_token_of_a_real_user(self, gateway, token_for):
        assert (await gateway.get("/v1/me")).status_code == 401
        assert (await gateway.get("/v1/me", headers=token_for("admin"))).status_code == 401
        assert (await gateway.get("/v1/me", headers={"Authorization": "Bearer nonsense"})).status_code == 401


class TestServicesAcceptGatewayTokens:
    async def test_service_token_pushes_user_token_does_not(self, gateway, admin_headers, cases_client, db):
        user_token = (await gateway.login("admin", ADMIN_PASSWORD)).json()["access_token"]
        body = {"stations": station_rows("/900/")}
        refused = await cases_client.put("/internal/stations", json=body,
                                         headers={"Authorization": f"Bearer {user_token}"})
        assert refused.status_code == 401
        service = gateway.app.state.signer.service_token()
        accepted = await cases_client.put("/internal/stations", json=body,
                                          headers={"Authorization": f"Bearer {service}"})
        assert accepted.status_code == 200
        assert await db.fetchval("SELECT count(*) FROM cases.station WHERE id = 900") == 1

    async def test_access_token_verifies_with_the_services_key(self, gateway, admin_headers, cases_app):
        token = (await gateway.login("admin", ADMIN_PASSWORD)).json()["access_token"]
        principal = cases_app.state.verifier.verify(token)
        assert principal.role is Role.admin and principal.station_path == "/1/"


class TestBootstrap:
    async def test_admin_from_admin_password(self, gateway, db):
        users = await db.fetch('SELECT username, role, station_id FROM gateway."user"')
        assert [tuple(u) for u in users] == [("admin", "admin", 1)]
        root = await db.fetchrow("SELECT kind, name, parent_id, path FROM gateway.station")
        assert tuple(root) == ("province", "省级社工服务平台", None, "/1/")
        assert (await gateway.login("admin", ADMIN_PASSWORD)).status_code == 200

    async def test_generated_password_is_printed_once(self, database_url, db, monkeypatch, capsys, caplog):
        monkeypatch.delenv("ADMIN_PASSWORD")
        settings = GatewaySettings(**FAST_HASHING)
        assert settings.admin_password is None
        database = Database.connect(settings, "bootstrap-test")
        try:
            with caplog.at_level(logging.DEBUG):
                assert await ensure_admin(database, settings) is True
            out = capsys.readouterr().out
            match = re.search(r"administrator 'admin' with password: (\S+)", out)
            assert match, out
            password = match.group(1)
            assert len(password) >= 10 and password not in caplog.text
            stored = await db.fetchval('SELECT password_hash FROM gateway."user" WHERE username = $1', "admin")
            assert await from_settings(settings).verify(stored, password)
            assert await ensure_admin(database, settings) is False
            assert capsys.readouterr().out == ""
        finally:
            await database.dispose()

    async def test_two_processes_starting_at_once(self, database_url, db):
        settings = GatewaySettings(**FAST_HASHING)
        databases = [Database.connect(settings, f"bootstrap-{i}") for i in range(3)]
        try:
            results = await asyncio.gather(*(ensure_admin(d, settings) for d in databases))
        finally:
            for d in databases:
                await d.dispose()
        assert sorted(results) == [False, False, True]
        assert await db.fetchval('SELECT count(*) FROM gateway."user"') == 1
        assert await db.fetchval("SELECT count(*) FROM gateway.station") == 1

    async def test_a_weak_admin_password_is_refused(self, database_url, db):
        await first_start_refuses("admin", match="at least 10")
        assert await db.fetchval('SELECT count(*) FROM gateway."user"') == 0


def test_the_delay_doubles_up_to_its_cap():
    from gateway.identity.service.auth import delay_s

    settings = GatewaySettings(login_free_failures=5, login_delay_s=1, login_max_delay_s=900)
    assert [delay_s(settings, n) for n in range(1, 10)] == [0, 0, 0, 0, 0, 1, 2, 4, 8]
    assert delay_s(settings, 500) == 900
