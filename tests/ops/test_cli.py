"""The operator CLI (`haolin`) against the test database and the in-process apps: what an operator
types, what it prints, what is stored, and that the platform then works with it."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, Response

from shared import clock

ROOT = Path(__file__).resolve().parent.parent.parent


def printed(result, label: str) -> str:
    match = re.search(rf"^{label}: (\S+)$", result.stdout, re.MULTILINE)
    assert match, result.output
    return match.group(1)


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


TREE = [["code", "name", "level", "parent_code"],
        ["510100", "成都市", "city", ""],
        ["510108", "成华区社工总站", "county", "510100"],
        ["510108001", "猛追湾街道社工服务站", "township", "510108"],
        ["510108001001", "和平社区社工服务室", "village", "510108001"],
        ["510108001002", "望平社区社工服务室", "village", "510108001"]]


async def stations_by_code(db) -> dict[str, dict]:
    rows = await db.fetch("SELECT s.id, s.code, s.name, s.kind, s.version, p.code AS parent_code, s.parent_id "
                          "FROM gateway.station s LEFT JOIN gateway.station p ON p.id = s.parent_id "
                          "WHERE s.deleted_at IS NULL")
    return {r["code"] or "root": dict(r) for r in rows}


class TestStationImport:
    async def test_csv_builds_the_tree_and_the_services_learn_it(self, haolin, gateway, db, tmp_path):
        result = await haolin("stations", "import", str(write_csv(tmp_path / "tree.csv", TREE)))
        assert result.exit_code == 0, result.output
        assert "5 created, 0 renamed, 0 unchanged" in result.stdout

        stored = await stations_by_code(db)
        assert stored["510100"]["parent_id"] == stored["root"]["id"]
        assert {c: (s["name"], s["kind"], s["parent_code"]) for c, s in stored.items() if c != "root"} == {
            row[0]: (row[1], row[2], row[3] or None) for row in TREE[1:]}

        # The running gateway's pusher carries the change to every service's replica.
        await gateway.app.state.pusher.sync_now()
        for schema in ("cases", "projects", "volunteers"):
            replica = {r["id"]: r["name"] for r in await db.fetch(f"SELECT id, name FROM {schema}.station")}
            assert replica[stored["510108001001"]["id"]] == "和平社区社工服务室"

    async def test_importing_again_changes_nothing_and_an_edited_name_renames(self, haolin, db, tmp_path):
        first = await haolin("stations", "import", str(write_csv(tmp_path / "tree.csv", TREE)))
        assert first.exit_code == 0, first.output
        before = await stations_by_code(db)

        again = await haolin("stations", "import", str(tmp_path / "tree.csv"))
        assert again.exit_code == 0 and "0 created, 0 renamed, 5 unchanged" in again.stdout, again.output
        assert await stations_by_code(db) == before

        edited = [row[:] for row in TREE]
        edited[4][1] = "和平社区党群服务中心社工室"
        renamed = await haolin("stations", "import", str(write_csv(tmp_path / "edited.csv", edited)))
        assert renamed.exit_code == 0 and "0 created, 1 renamed, 4 unchanged" in renamed.stdout, renamed.output
        after = await stations_by_code(db)
        assert after["510108001001"]["name"] == "和平社区党群服务中心社工室"
        assert after["510108001001"]["id"] == before["510108001001"]["id"]
        assert after["510108001001"]["version"] == before["510108001001"]["version"] + 1
        assert len(after) == len(before)

    async def test_xlsx_with_chinese_headers_levels_and_number_cells(self, haolin, db, tmp_path):
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(["区划代码", "名称", "层级", "上级代码"])
        # The province row is the root station itself: it takes the file's name and code.
        sheet.append([510000, "四川省", "省", None])
        sheet.append([510700, "绵阳市", "市", 510000])
        sheet.append([510703, "涪城区社工总站", "区", 510700])
        sheet.append([510703101, "吴家镇社工服务站", "镇", 510703])
        sheet.append([510703101001, "伍家村社工服务室", "村", "510703101"])
        book.save(tmp_path / "tree.xlsx")

        result = await haolin("stations", "import", str(tmp_path / "tree.xlsx"))
        assert result.exit_code == 0, result.output
        assert "4 created, 1 renamed, 0 unchanged" in result.stdout
        stored = await stations_by_code(db)
        assert "root" not in stored and stored["510000"]["name"] == "四川省" and stored["510000"]["parent_id"] is None
        assert stored["510703101001"]["kind"] == "village" and stored["510703101001"]["parent_code"] == "510703101"
        assert stored["510700"]["parent_code"] == "510000"

    async def test_a_bad_file_names_line_and_column_and_writes_nothing(self, haolin, db, tmp_path):
        rows = [["code", "name", "level", "parent_code"],
                ["510100", "成都市", "city", ""],                      # line 2: good
                ["51010x", "成华区", "county", "510100"],              # line 3: bad code
                ["510108001", "", "township", "510100"],               # line 4: no name
                ["510108002", "双桥子街道", "planet", "510100"],        # line 5: no such level
                ["510108003", "府青路街道", "township", "999999"],      # line 6: unknown parent
                ["510200", "某市", "city", "510100"],                   # line 7: city under a city
                ["510100", "成都市", "city", ""]]                       # line 8: code twice
        result = await haolin("stations", "import", str(write_csv(tmp_path / "bad.csv", rows)))

        assert result.exit_code == 1
        problems = result.stderr
        assert "nothing imported" in problems
        for expected in ("line 3, column A (code)", "line 4, column B (name)", "line 5, column C (level)",
                         "line 6, column D (parent_code)", "line 7, column C (level)", "line 8, column A (code)"):
            assert expected in problems, problems
        assert not any(line.strip().startswith("line 2,") for line in problems.splitlines())
        # The root station the first command made (as the gateway's first start would), nothing else.
        assert [r["parent_id"] for r in await db.fetch("SELECT parent_id FROM gateway.station")] == [None]

    async def test_a_rule_the_service_refuses_rolls_back_the_whole_file(self, haolin, db, tmp_path):
        created = await haolin("stations", "create", "--name", "成都市", "--level", "city", "--code", "510199")
        assert created.exit_code == 0, created.output
        before = await db.fetchval("SELECT count(*) FROM gateway.station")

        # Valid on its own, but a sibling of that name exists: the station service refuses line 3.
        rows = [TREE[0], ["510700", "绵阳市", "city", ""], ["510100", "成都市", "city", ""]]
        result = await haolin("stations", "import", str(write_csv(tmp_path / "clash.csv", rows)))
        assert result.exit_code == 1 and "line 3" in result.stderr and "name" in result.stderr, result.output
        assert await db.fetchval("SELECT count(*) FROM gateway.station") == before


class TestStationCommands:
    async def test_create_and_list(self, haolin, db, tmp_path):
        await haolin("stations", "import", str(write_csv(tmp_path / "tree.csv", TREE[:4])))
        made = await haolin("stations", "create", "--name", "双桥子街道社工服务站", "--level", "街道",
                            "--parent", "510108", "--code", "510108002")
        assert made.exit_code == 0, made.output
        stored = await stations_by_code(db)
        assert stored["510108002"]["parent_code"] == "510108" and stored["510108002"]["kind"] == "township"

        bad = await haolin("stations", "create", "--name", "某村", "--level", "city", "--parent", "510108")
        assert bad.exit_code == 1 and "kind" in bad.stderr

        listed = await haolin("stations", "list", "--under", "510108")
        assert listed.exit_code == 0, listed.output
        lines = listed.stdout.splitlines()
        assert "成华区社工总站" in lines[0]
        assert sorted(line.split("── ")[1].split()[0] for line in lines[1:]) == ["双桥子街道社工服务站",
                                                                                "猛追湾街道社工服务站"]

    async def test_list_puts_siblings_in_code_order_then_name(self, haolin, tmp_path):
        # Made in an order that is neither the codes' nor the names' (东 < 和 < 望 by code point).
        rows = [*TREE[:4], ["510108001002", "望平社区社工服务室", "village", "510108001"],
                ["510108001003", "东风社区社工服务室", "village", "510108001"],
                ["510108001001", "和平社区社工服务室", "village", "510108001"]]
        await haolin("stations", "import", str(write_csv(tmp_path / "tree.csv", rows)))
        listed = await haolin("stations", "list", "--under", "510108001")
        assert listed.exit_code == 0, listed.output
        names = [line.split("── ")[1].split()[0] for line in listed.stdout.splitlines()[1:]]
        assert names == ["和平社区社工服务室", "望平社区社工服务室", "东风社区社工服务室"]


class TestUsers:
    async def test_create_prints_a_password_that_logs_in(self, haolin, gateway, tmp_path, caplog):
        await haolin("stations", "import", str(write_csv(tmp_path / "tree.csv", TREE)))
        result = await haolin("users", "create", "--username", "wang.li", "--role", "social_worker",
                              "--station", "510108001", "--display-name", "王丽")
        assert result.exit_code == 0, result.output
        password = printed(result, "password")
        assert password not in caplog.text

        r = await gateway.login("wang.li", password)
        assert r.status_code == 200, r.text
        me = await gateway.get("/v1/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
        assert me.json()["role"] == "social_worker" and me.json()["station"]["name"] == "猛追湾街道社工服务站"
        assert me.json()["display_name"] == "王丽"

        again = await haolin("users", "create", "--username", "WANG.LI", "--role", "social_worker",
                             "--station", "510108001")
        assert again.exit_code == 1 and "username" in again.stderr

    async def test_typed_password(self, haolin, gateway, root):
        result = await haolin("users", "create", "--username", "li.na", "--role", "official", "--station",
                              str(root["id"]), "--prompt-password", input="a typed password 1\n" * 2)
        assert result.exit_code == 0, result.output
        assert "a typed password 1" not in result.stdout
        assert (await gateway.login("li.na", "a typed password 1")).status_code == 200

    async def test_an_easy_typed_password_is_refused(self, haolin, gateway, admin_headers, root, db):
        for password in ("1234567890", "li.na.2026"):
            result = await haolin("users", "create", "--username", "li.na", "--role", "official", "--station",
                                  str(root["id"]), "--prompt-password", input=f"{password}\n" * 2)
            assert result.exit_code == 1 and "password" in result.stderr, result.output
            assert password not in result.stdout + result.stderr
        assert await db.fetchval("SELECT count(*) FROM gateway.\"user\" WHERE username = 'li.na'") == 0
        await gateway.user(admin_headers, "zhao.min", "social_worker", root["id"])
        result = await haolin("users", "reset-password", "zhao.min", "--prompt-password", input="aaaaaaaaaaaa\n" * 2)
        assert result.exit_code == 1 and "password" in result.stderr
        assert (await gateway.login("zhao.min")).status_code == 200

    async def test_reset_password(self, haolin, gateway, admin_headers, root):
        await gateway.user(admin_headers, "zhao.min", "social_worker", root["id"])
        old = (await gateway.login("zhao.min")).json()["refresh_token"]
        result = await haolin("users", "reset-password", "zhao.min")
        assert result.exit_code == 0, result.output
        new = printed(result, "password")
        assert (await gateway.login("zhao.min")).status_code == 401
        assert (await gateway.login("zhao.min", new)).status_code == 200
        # The old sessions are over.
        assert (await gateway.post("/v1/auth/refresh", json={"refresh_token": old})).status_code == 401

        missing = await haolin("users", "reset-password", "nobody")
        assert missing.exit_code == 1 and "No such user" in missing.stderr


class TestDevices:
    async def test_the_printed_credential_syncs(self, haolin, gateway, tmp_path):
        await haolin("stations", "import", str(write_csv(tmp_path / "tree.csv", TREE)))
        result = await haolin("devices", "create", "--station", "510108001001", "--name", "和平社区平板")
        assert result.exit_code == 0, result.output
        credential = printed(result, "credential")
        await gateway.app.state.pusher.sync_now()

        r = await gateway.get("/v1/sync", params={"last_pulled_at": "null"},
                              headers={"Authorization": f"Bearer {credential}"})
        assert r.status_code == 200 and r.json()["timestamp"] > 0, r.text
        wrong = await gateway.get("/v1/sync", params={"last_pulled_at": "null"},
                                  headers={"Authorization": f"Bearer {credential[:-3]}abc"})
        assert wrong.status_code == 401


class TestMigrate:
    async def test_migrate_is_safe_to_repeat(self, haolin, database_url, db):
        result = await haolin("migrate", "--url", database_url)
        assert result.exit_code == 0 and "all lineages at head" in result.stdout, result.output
        assert await db.fetchval("SELECT count(*) FROM gateway.alembic_version") == 1


class TestDemo:
    async def test_tiny_demo_fills_every_figure_and_a_second_run_adds_nothing(self, haolin, gateway_factory):
        gateway = await gateway_factory(station_push_interval_s=0.2, stats_cache_s=0)
        result = await haolin("demo", "--size", "tiny", "--url", "http://gateway", app_client=gateway,
                              env={"HAOLIN_DEMO_PASSWORD": "demo password 2026"})
        assert result.exit_code == 0, result.output

        official = await gateway.headers_for("demo.official", "demo password 2026")
        today = clock.today()
        params = {"from": (today - timedelta(days=364)).isoformat(), "to": today.isoformat()}
        summary = (await gateway.get("/v1/stats/summary", params=params, headers=official)).json()
        figures = {name: f["value"] for name, f in summary["figures"].items()}
        for name in ("person_times.casework", "person_times.group", "person_times.community", "person_times.visit",
                     "roster.members", "roster.visited", "roster.overdue", "persons",
                     "cases.new", "cases.open", "cases.closed", "cases.reopened", "beneficiaries.registered",
                     "groups", "group_sessions", "activities", "volunteers.registered", "volunteer.hours",
                     "volunteer.person_times", "supervision.sessions", "supervision.hours",
                     "supervision.cases_reviewed"):
            assert figures[name] > 0, (name, figures)
        assert summary["degraded"] == []
        assert figures["person_times"] == (figures["person_times.casework"] + figures["person_times.group"]
                                           + figures["person_times.community"] + figures["person_times.visit"])
        # The coverage card has something real: some of the roster visited, some overdue.
        assert figures["roster.visited"] < figures["roster.members"] and figures["roster.overdue"] > 0
        assert str(int(figures["person_times"])) in result.stdout
        # The station system it built: every tier's stations add up to the tree, served by its staff.
        system = {name: f["value"] for name, f in summary["system"].items()}
        tree = (await gateway.get(f"/v1/stations/{summary['station']['id']}/subtree", params={"limit": 200},
                                  headers=official)).json()
        assert tree["next_cursor"] is None and system["stations.total"] == len(tree["items"])
        assert system["stations.total"] == sum(system[f"stations.{t}"] for t in
                                               ("province", "city", "county", "township", "village"))
        for name in ("stations.active", "projects.active", "projects.budget_yuan", "staff.social_workers",
                     "staff.station_heads", "staff.active_workers"):
            assert system[name] > 0, (name, system)
        assert system["stations.active"] <= system["stations.total"]
        assert f"{int(system['projects.budget_yuan']):,}" in result.stdout

        worker = await gateway.headers_for("demo.mengzhuiwan.sw1", "demo password 2026")
        cases = (await gateway.get("/v1/cases", params={"limit": 200}, headers=worker)).json()["items"]
        assert {c["status"] for c in cases} == {"intake", "assessment", "planning", "intervention", "evaluation",
                                               "closed", "follow_up"}
        people = (await gateway.get("/v1/beneficiaries", params={"limit": 200}, headers=worker)).json()["items"]
        assert len(people) == 9 and len({p for b in people for p in b["populations"]}) >= 10

        again = await haolin("demo", "--size", "tiny", "--url", "http://gateway", app_client=gateway,
                             env={"HAOLIN_DEMO_PASSWORD": "demo password 2026"})
        assert again.exit_code == 0, again.output
        assert "stations: 0 new" in again.stdout and "users: 0 new" in again.stdout
        # Each run sets the demo users' password again, which ends their tokens: log in anew.
        official = await gateway.headers_for("demo.official", "demo password 2026")
        worker = await gateway.headers_for("demo.mengzhuiwan.sw1", "demo password 2026")
        second = (await gateway.get("/v1/stats/summary", params=params, headers=official)).json()
        assert {name: f["value"] for name, f in second["figures"].items()} == figures
        assert {name: f["value"] for name, f in second["system"].items()} == system
        assert len((await gateway.get("/v1/beneficiaries", params={"limit": 200}, headers=worker)).json()["items"]) \
            == 9

    async def test_without_a_gateway_it_says_so_and_writes_nothing(self, haolin, db):
        result = await haolin("demo", "--size", "tiny", "--url", "http://127.0.0.1:9")
        assert result.exit_code == 1 and "cannot reach the gateway" in result.stderr, result.output
        assert await db.fetchval("SELECT count(*) FROM gateway.station WHERE code IS NOT NULL") == 0


def fake_reports_app(seen: list) -> FastAPI:
    """The report endpoints' contract (GET /v1/reports/monthly.xlsx?station_id&month and
    /v1/reports/projects/{id}.xlsx), answering a workbook with what was asked written in it."""
    app = FastAPI()
    token = "fake-token"

    def workbook(*cells) -> Response:
        book = openpyxl.Workbook()
        book.active.append(list(cells))
        out = io.BytesIO()
        book.save(out)
        return Response(out.getvalue(), media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    def authorised(request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {token}"

    @app.post("/v1/auth/token")
    async def login(username: str = Form(), password: str = Form()):
        if (username, password) != ("county.head", "head password 1"):
            return JSONResponse({"title": "Not authenticated", "detail": "Wrong username or password.",
                                 "status": 401}, status_code=401, media_type="application/problem+json")
        return {"access_token": token, "token_type": "bearer", "expires_in": 900, "refresh_token": "r"}

    @app.get("/v1/me")
    async def me(request: Request):
        assert authorised(request)
        return {"id": 7, "username": "county.head", "station_id": 3}

    @app.get("/v1/stations/3/subtree")
    async def subtree(request: Request):
        assert authorised(request)
        return {"items": [{"id": 3, "code": "510108", "name": "成华区"}, {"id": 4, "code": "510108001",
                                                                         "name": "猛追湾街道"}], "next_cursor": None}

    @app.get("/v1/reports/monthly.xlsx")
    async def monthly(request: Request, station_id: int, month: str):
        if not authorised(request):
            return JSONResponse({"status": 401}, status_code=401)
        seen.append(("monthly", station_id, month))
        return workbook("monthly", station_id, month)

    @app.get("/v1/reports/projects/{project_id}.xlsx")
    async def project(request: Request, project_id: str):
        if not authorised(request):
            return JSONResponse({"status": 401}, status_code=401)
        if project_id != "p-1":
            return JSONResponse({"title": "Not found", "detail": "No such project.", "status": 404}, status_code=404,
                                media_type="application/problem+json")
        seen.append(("project", project_id))
        return workbook("project", project_id)

    return app


class TestReports:
    """Against a fake of the report endpoints' contract; TestReportsOnTheGateway runs the same
    commands on the real gateway once it has the endpoints."""

    @pytest.fixture
    async def fake(self):
        import httpx

        seen: list = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fake_reports_app(seen)),
                                     base_url="http://fake") as client:
            yield client, seen

    async def test_monthly_by_division_code(self, haolin, fake, tmp_path):
        client, seen = fake
        out = tmp_path / "monthly.xlsx"
        result = await haolin("report", "monthly", "--station", "510108001", "--month", "2026-10", "-o", str(out),
                              "--user", "county.head", "--url", "http://fake", app_client=client,
                              env={"HAOLIN_PASSWORD": "head password 1"})
        assert result.exit_code == 0, result.output
        assert seen == [("monthly", 4, "2026-10")]
        assert [c.value for c in openpyxl.load_workbook(out).active[1]] == ["monthly", 4, "2026-10"]

    async def test_project(self, haolin, fake, tmp_path):
        client, seen = fake
        out = tmp_path / "project.xlsx"
        result = await haolin("report", "project", "p-1", "-o", str(out), "--user", "county.head", "--url",
                              "http://fake", app_client=client, env={"HAOLIN_PASSWORD": "head password 1"})
        assert result.exit_code == 0, result.output
        assert seen == [("project", "p-1")] and out.stat().st_size > 0

        missing = await haolin("report", "project", "p-2", "-o", str(tmp_path / "x.xlsx"), "--user", "county.head",
                               "--url", "http://fake", app_client=client, env={"HAOLIN_PASSWORD": "head password 1"})
        assert missing.exit_code == 1 and "404" in missing.stderr and not (tmp_path / "x.xlsx").exists()

    async def test_refusals(self, haolin, fake, tmp_path):
        client, seen = fake
        common = ["-o", str(tmp_path / "m.xlsx"), "--user", "county.head", "--url", "http://fake"]
        month = await haolin("report", "monthly", "--station", "510108", "--month", "2026-13", *common,
                             app_client=client, env={"HAOLIN_PASSWORD": "head password 1"})
        assert month.exit_code == 2 and "YYYY-MM" in month.output
        outside = await haolin("report", "monthly", "--station", "510700", "--month", "2026-10", *common,
                               app_client=client, env={"HAOLIN_PASSWORD": "head password 1"})
        assert outside.exit_code == 1 and "510700" in outside.stderr
        wrong = await haolin("report", "monthly", "--station", "510108", "--month", "2026-10", *common,
                             app_client=client, env={"HAOLIN_PASSWORD": "not the password"})
        assert wrong.exit_code == 1 and "Wrong username or password" in wrong.stderr
        assert seen == []


class TestReportsOnTheGateway:
    async def test_monthly_and_project_reports(self, haolin, gateway, admin_headers, tmp_path):
        await haolin("stations", "import", str(write_csv(tmp_path / "tree.csv", TREE)))
        await gateway.app.state.pusher.sync_now()
        env = {"HAOLIN_PASSWORD": "admin-test-password"}
        out = tmp_path / "monthly.xlsx"
        today = clock.today()
        result = await haolin("report", "monthly", "--station", "510108", "--month", f"{today:%Y-%m}", "-o",
                              str(out), "--url", "http://gateway", app_client=gateway, env=env)
        assert result.exit_code == 0, result.output
        assert openpyxl.load_workbook(out).worksheets

        county = (await stations_by_code_via_api(gateway, admin_headers))["510108"]
        project = await gateway.post("/v1/projects", headers=admin_headers, json={
            "name": "成华区社工站项目", "purchaser": "成华区民政局", "operator": "好邻社工中心",
            "station_id": county, "starts_on": (today - timedelta(days=30)).isoformat(),
            "ends_on": (today + timedelta(days=300)).isoformat(),
            "targets": [{"metric": "activities", "target": "15"}]})
        assert project.status_code == 201, project.text
        out = tmp_path / "project.xlsx"
        result = await haolin("report", "project", project.json()["id"], "-o", str(out), "--url", "http://gateway",
                              app_client=gateway, env=env)
        assert result.exit_code == 0, result.output
        assert openpyxl.load_workbook(out).worksheets


async def stations_by_code_via_api(gateway, headers) -> dict[str, int]:
    root = (await gateway.get("/v1/stations", headers=headers)).json()["items"][0]
    items = (await gateway.get(f"/v1/stations/{root['id']}/subtree", params={"limit": 200},
                               headers=headers)).json()["items"]
    return {s["code"]: s["id"] for s in items if s["code"]}


@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    """An embedded PostgreSQL of its own data folder, on a port that is not HAOLIN_PG_PORT, migrated:
    what `HAOLIN_PG_PORT=... make run` leaves running for the CLI to find."""
    from ops import migrate, pg
    from tests.test_make_run import free_ports

    data = pg.ROOT / ".data" / f"test-pg-cli-{free_ports(1)[0]}"
    port = free_ports(1)[0]
    try:
        url = pg.start(data, port)
        migrate.upgrade_all(url)
        yield data, port
    finally:
        pg.stop(data)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def without_ports(monkeypatch, tmp_path):
    """A shell that names no database and no port: the CLI must find them. `.data/` is the test's."""
    from ops import pg
    from tests.test_make_run import free_ports

    for name in ("DATABASE_URL", "GATEWAY_DATABASE_URL", "HAOLIN_PG_PORT", "HAOLIN_URL", "GATEWAY_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HAOLIN_RUN_FILE", str(tmp_path / "run.json"))
    monkeypatch.setattr(pg, "DEFAULT_PORT", free_ports(1)[0])

    def data_folder(data: Path, port: int | None = None) -> str:
        """The CLI's data folder; answers the root station's name it makes on the own server (port)."""
        monkeypatch.setattr(pg, "DEFAULT_DATA", data)
        root_name = f"CLI测试平台{port}"
        monkeypatch.setenv("GATEWAY_ROOT_STATION_NAME", root_name)
        return root_name

    return data_folder


class TestFindingTheDatabase:
    async def test_the_running_servers_port_is_found_without_haolin_pg_port(self, haolin, own_server, without_ports):
        data, port = own_server
        root_name = without_ports(data, port)
        result = await haolin("stations", "list")
        assert result.exit_code == 0, result.output
        assert root_name in result.stdout

    async def test_the_ports_of_the_running_make_run_are_read_from_its_run_file(self, haolin, own_server,
                                                                              without_ports, tmp_path):
        from ops import runfile

        data, port = own_server
        # The data folder says nothing: only the run file does.
        root_name = without_ports(tmp_path / "no-server-here", port)
        # A process standing in for `python -m ops.run` (the run file names a live one).
        stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "ops.run"])
        try:
            runfile.write(runfile.RunInfo(pid=stand_in.pid, gateway_url="http://127.0.0.1:1", pg_port=port))
            result = await haolin("stations", "list")
            assert result.exit_code == 0, result.output
            assert root_name in result.stdout
            from ops.cli.api import default_url

            assert default_url() == "http://127.0.0.1:1"
        finally:
            stand_in.kill()
            stand_in.wait()
        # A run file whose run has died is not believed.
        assert runfile.read() is None

    async def test_a_second_server_over_a_data_folder_in_use_is_refused_in_one_line(self, own_server):
        from ops import pg
        from tests.test_make_run import free_ports

        data, port = own_server
        other = free_ports(1)[0]
        with pytest.raises(pg.PgError) as refused:
            pg.start(data, other)
        message = str(refused.value)
        assert "\n" not in message and f"HAOLIN_PG_PORT={port}" in message, message
        assert not pg.is_running(other)
        assert pg.running_port(data) == port

    async def test_a_database_that_cannot_start_is_one_line_saying_what_to_do(self, haolin, without_ports,
                                                                             tmp_path):
        broken = tmp_path / "pg"
        broken.mkdir()
        (broken / "PG_VERSION").write_text("18\n")  # looks initialised, holds nothing
        without_ports(broken)
        result = await haolin("stations", "list")
        assert result.exit_code == 1
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: the embedded PostgreSQL did not start"), result.stderr
        assert "HAOLIN_PG_PORT" in lines[0] and "Traceback" not in result.stderr

    async def test_no_xdg_runtime_dir_warning(self, own_server):
        data, port = own_server
        env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
        done = subprocess.run([sys.executable, "-m", "ops.pg", "start", "--data", str(data), "--port", str(port)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stderr == "", done.stderr


class TestRostersImport:
    async def test_a_roster_through_the_cli_dry_run_then_real_and_a_bad_one(self, haolin, gateway, admin_headers,
                                                                            db, tmp_path):
        from tests.fixtures.people import id_number

        await haolin("stations", "import", str(write_csv(tmp_path / "tree.csv", TREE)))
        await gateway.app.state.pusher.sync_now()
        env = {"HAOLIN_PASSWORD": "admin-test-password"}
        header = ["姓名", "身份证号", "人群类别", "村(社区)", "住址", "联系电话"]
        good = write_csv(tmp_path / "名册.csv", [header, ["张大爷", id_number("51010819400101123"), "特困人员",
                                                         "和平社区社工服务室", "和平村3组", "13800000001"],
                                               ["李奶奶", id_number("51010819450202234"), "elderly_alone", "", "", ""]])
        args = ("rosters", "import", str(good), "--station", "510108001", "--url", "http://gateway",
                "--user", "admin")
        dry = await haolin(*args, "--dry-run", app_client=gateway, env=env)
        assert dry.exit_code == 0, dry.output
        assert "registered 2, added 2" in dry.stdout and "dry run" in dry.stdout
        assert await db.fetchval("SELECT count(*) FROM cases.roster_member") == 0
        result = await haolin(*args, app_client=gateway, env=env)
        assert result.exit_code == 0, result.output
        assert "registered 2, added 2" in result.stdout and "imported" in result.stdout
        # Filed at the village room the roster names, else at the roster's station.
        villages = await db.fetch("SELECT b.name AS person, b.source, s.name FROM cases.beneficiary b "
                                  "JOIN cases.station s ON s.id = b.station_id")
        assert {v["person"]: (v["source"], v["name"]) for v in villages} == {
            "张大爷": ("roster", "和平社区社工服务室"), "李奶奶": ("roster", "猛追湾街道社工服务站")}

        bad = write_csv(tmp_path / "bad.csv", [header, ["王", "123", "tekun", "", "", ""]])
        failed = await haolin("rosters", "import", str(bad), "--station", "510108001", "--url", "http://gateway",
                              "--user", "admin", app_client=gateway, env=env)
        assert failed.exit_code == 1 and "row 2, column id_number" in failed.stderr, failed.output
        assert await db.fetchval("SELECT count(*) FROM cases.roster_member") == 2
