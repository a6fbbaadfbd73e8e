"""Attachments through the gateway: every kind of record that carries files takes an upload and
gives it back through the proxy, streamed; a photo's location is gone end to end; other stations
cannot tell a file exists; every download is in the audit log; the gateway's own limit holds."""

import io

from PIL import Image

from shared import clock
from tests.fixtures.calls import a_project
from tests.fixtures.gateway import users
from tests.storage.samples import has_gps, jpeg, pdf, png

ID = "11010519491231002X"
# The record kind as operations name it (upload_session_attachment...).
NAMES = {"cases:beneficiary": "beneficiary", "cases:case": "case", "projects:group_session": "session",
         "projects:activity": "activity", "projects:evaluation": "evaluation", "volunteers:service_hours": "hours"}


async def world(gateway, admin_headers, gateway_tree) -> dict:
    staff = await users(gateway, admin_headers, gateway_tree, ("chen.head", "station_head", "mengzhuiwan"),
                        ("li.worker", "social_worker", "mengzhuiwan"), ("wang.sibling", "social_worker", "shuangqiao"))
    head, worker = staff["chen.head"], staff["li.worker"]
    today = clock.today()
    r = await gateway.post("/v1/projects", headers=head, json=a_project("猛追湾街道社工站项目"))
    assert r.status_code == 201, r.text
    project = r.json()["id"]
    person = (await gateway.post("/v1/beneficiaries", headers=worker, json={"name": "张桂芳"})).json()["id"]
    r = await gateway.post("/v1/cases", headers=worker, json={"beneficiary_id": person, "title": "独居老人照护"})
    case = r.json()["id"]
    group = (await gateway.post("/v1/groups", headers=worker, json={"project_id": project, "title": "防诈骗小组"})).json()
    r = await gateway.post(f"/v1/groups/{group['id']}/sessions", headers=worker, json={"held_on": today.isoformat()})
    session = r.json()["id"]
    r = await gateway.post("/v1/activities", headers=worker, json={
        "project_id": project, "title": "重阳节敬老活动", "held_on": today.isoformat(), "anonymous_count": 9})
    activity = r.json()["id"]
    r = await gateway.post(f"/v1/projects/{project}/evaluations", headers=head, json={
        "evaluated_on": today.isoformat(), "evaluator": "第三方评估机构"})
    evaluation = r.json()["id"]
    r = await gateway.post("/v1/volunteers", headers=worker, json={
        "name": "李志愿", "id_type": "mainland_id", "id_number": ID})
    assert r.status_code == 201, r.text
    r = await gateway.post("/v1/volunteer-hours", headers=worker, json={
        "volunteer_id": r.json()["id"], "served_on": today.isoformat(), "hours": "2", "content": "助老送餐"})
    assert r.status_code == 201, r.text
    hours = r.json()["id"]
    return {"head": head, "worker": worker, "sibling": await gateway.headers_for("wang.sibling"),
            "bases": {
                "cases:beneficiary": (f"/v1/beneficiaries/{person}/attachments", "consent_form"),
                "cases:case": (f"/v1/cases/{case}/attachments", "closure_report"),
                "projects:group_session": (f"/v1/groups/{group['id']}/sessions/{session}/attachments",
                                           "sign_in_sheet"),
                "projects:activity": (f"/v1/activities/{activity}/attachments", "photo"),
                "projects:evaluation": (f"/v1/projects/{project}/evaluations/{evaluation}/attachments",
                                        "evaluation_report"),
                "volunteers:service_hours": (f"/v1/volunteer-hours/{hours}/attachments", "proof"),
            }}


class TestAttachmentsThroughTheGateway:
    async def test_every_owner_takes_a_file_and_gives_it_back_audited(self, gateway, admin_headers, gateway_tree):
        w = await world(gateway, admin_headers, gateway_tree)
        for owner, (base, purpose) in w["bases"].items():
            writer = w["head"] if owner == "projects:evaluation" else w["worker"]
            sent = pdf() if purpose != "photo" else jpeg()
            r = await gateway.post(base, content=sent, headers=writer, params={"purpose": purpose, "file_name": "证据"})
            assert r.status_code == 201, (owner, r.text)
            file = r.json()
            assert r.headers["location"] == f"{base}/{file['id']}"
            r = await gateway.get(f"{base}/{file['id']}/content", headers=writer)
            assert r.status_code == 200, (owner, r.text)
            assert r.headers["content-length"] == str(file["size"])
            assert r.headers["x-content-type-options"] == "nosniff"
            if purpose == "photo":
                with Image.open(io.BytesIO(r.content)) as image:
                    assert not has_gps(image) and not image.getexif()
            else:
                assert r.content == sent
                assert r.headers["content-disposition"].endswith("filename*=UTF-8''%E8%AF%81%E6%8D%AE.pdf")
            for path in (base, f"{base}/{file['id']}", f"{base}/{file['id']}/content"):
                assert (await gateway.get(path, headers=w["sibling"])).status_code == 404, (owner, path)
            r = await gateway.post(base, content=sent, headers=w["sibling"], params={"purpose": purpose})
            assert r.status_code in (403, 404), (owner, r.text)

            r = await gateway.get("/v1/audit", headers=admin_headers,
                                  params={"record": f"{owner.split(':')[0]}:attachment:{file['id']}"})
            assert r.status_code == 200, r.text
            name = NAMES[owner]
            actions = sorted((e["action"], e["operation"]) for e in r.json()["items"])
            assert actions == [("create", f"upload_{name}_attachment"), ("read", f"download_{name}_attachment")]

    async def test_the_gateway_refuses_a_file_over_the_limit_before_reading_it(self, gateway_factory, gateway_tree,
                                                                               admin_headers):
        small = await gateway_factory(upload_max_bytes=10_000)
        w = await world(small, await small.admin(), gateway_tree)
        base, purpose = w["bases"]["cases:beneficiary"]
        r = await small.post(base, content=png(400, 400) + b"\x00" * 20_000, headers=w["worker"],
                             params={"purpose": "photo"})
        assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
        assert (await small.get(base, headers=w["worker"])).json()["items"] == []
