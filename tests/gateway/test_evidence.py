"""Evidence for evaluation: a project's progress and its .xlsx report name, per target, the records
the target counts that lack their evidence (a session or an activity without a sign-in sheet, a
closed case without a closure report), and a record leaves the list once its file is uploaded."""

import io

from openpyxl import load_workbook

from shared import clock
from tests.fixtures.calls import a_project
from tests.fixtures.gateway import users
from tests.gateway.test_project_progress import gateway  # noqa: F401 - the fixture: projects through the gateway
from tests.storage.samples import jpeg, pdf


def gaps(progress: dict) -> dict[str, list[tuple[str, str, str]]]:
    return {t["metric"]: [(g["record"], g["id"], g["lacking"]) for g in t.get("lacking_evidence") or []]
            for t in progress["targets"]}


class TestEvidence:
    async def test_progress_and_report_name_the_records_lacking_evidence(self, gateway, admin_headers,
                                                                         gateway_tree):  # noqa: F811
        staff = await users(gateway, admin_headers, gateway_tree, ("chen.head", "station_head", "mengzhuiwan"),
                            ("li.worker", "social_worker", "mengzhuiwan"))
        head, worker = staff["chen.head"], staff["li.worker"]
        today = clock.today()
        r = await gateway.post("/v1/projects", headers=head, json=a_project(
            "猛追湾项目", targets=[{"metric": "group_sessions", "target": 2}, {"metric": "activities", "target": 2},
                                 {"metric": "cases.full", "target": 1, "conditions": {"min_sessions": 1}}]))
        assert r.status_code == 201, r.text
        project = r.json()["id"]
        person = (await gateway.post("/v1/beneficiaries", headers=worker, json={"name": "张桂芳"})).json()["id"]
        group = (await gateway.post("/v1/groups", headers=worker, json={"project_id": project, "title": "小组"})).json()
        sessions = [(await gateway.post(f"/v1/groups/{group['id']}/sessions", headers=worker,
                                        json={"held_on": today.isoformat()})).json()["id"] for _ in range(2)]
        activities = [(await gateway.post("/v1/activities", headers=worker, json={
            "project_id": project, "title": f"活动{i}", "held_on": today.isoformat(), "anonymous_count": 9})).json()["id"]
            for i in range(2)]
        # One session and one activity have their sign-in sheet; the others have a photo only.
        sheet = {"purpose": "sign_in_sheet"}
        for path, params in ((f"/v1/groups/{group['id']}/sessions/{sessions[0]}/attachments", sheet),
                             (f"/v1/groups/{group['id']}/sessions/{sessions[1]}/attachments", {"purpose": "photo"}),
                             (f"/v1/activities/{activities[0]}/attachments", sheet)):
            r = await gateway.post(path, content=jpeg(), headers=worker, params=params)
            assert r.status_code == 201, r.text
        case = (await gateway.post("/v1/cases", headers=worker, json={
            "beneficiary_id": person, "title": "独居老人照护", "project_id": project})).json()["id"]
        r = await gateway.post(f"/v1/cases/{case}/service-records", headers=worker, json={
            "served_on": today.isoformat(), "mode": "home_visit", "content": "入户探访",
            "service_type": "elder_child_care", "person_times": 1})
        assert r.status_code == 201, r.text
        for step in ("assess", "plan", "intervene", "evaluate"):
            assert (await gateway.post(f"/v1/cases/{case}/{step}", headers=worker, json={})).status_code == 200
        r = await gateway.post(f"/v1/cases/{case}/close", headers=worker, json={"reason": "completed"})
        assert r.status_code == 200, r.text

        url = f"/v1/projects/{project}/progress"
        progress = (await gateway.get(url, headers=head)).json()
        assert progress["degraded"] == []
        assert gaps(progress) == {
            "group_sessions": [("group_session", sessions[1], "sign_in_sheet")],
            "activities": [("activity", activities[1], "sign_in_sheet")],
            "cases.full": [("case", case, "closure_report")]}

        r = await gateway.get(f"/v1/reports/projects/{project}.xlsx", headers=head, params={"lang": "en"})
        assert r.status_code == 200, r.text
        book = load_workbook(io.BytesIO(r.content))
        sheet_rows = [[c.value for c in row] for row in book.worksheets[1].iter_rows(min_row=5)]
        assert [(row[1], row[2], row[4]) for row in sheet_rows] == [
            ("Group session", sessions[1], "Sign-in sheet"), ("Community activity", activities[1], "Sign-in sheet"),
            ("Case (closed)", case, "Closure report")]

        for path, purpose in ((f"/v1/groups/{group['id']}/sessions/{sessions[1]}/attachments", "sign_in_sheet"),
                              (f"/v1/activities/{activities[1]}/attachments", "sign_in_sheet"),
                              (f"/v1/cases/{case}/attachments", "closure_report")):
            r = await gateway.post(path, content=pdf(), headers=worker, params={"purpose": purpose})
            assert r.status_code == 201, r.text
        progress = (await gateway.get(url, headers=head)).json()
        assert gaps(progress) == {"group_sessions": [], "activities": [], "cases.full": []}
        r = await gateway.get(f"/v1/reports/projects/{project}.xlsx", headers=head)
        evidence = load_workbook(io.BytesIO(r.content)).worksheets[1]
        assert any(c.value == "各指标计入的记录均有佐证材料。" for row in evidence.iter_rows() for c in row)
