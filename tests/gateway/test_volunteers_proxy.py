"""The volunteers service through the gateway: a roster upload (multipart) and a certificate PDF
(binary) pass the proxy intact, and a volunteer's login reaches only their own record."""

import csv
import io
from datetime import date, timedelta

from pypdf import PdfReader

from tests.fixtures.people import ID_BORN_1985, ID_BORN_1990


def roster() -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows([["姓名", "证件号码", "手机", "技能"], ["张桂芳", ID_BORN_1990, "13800138000", "助老"],
                               ["李建国", ID_BORN_1985, None, "维修"]])
    return buf.getvalue().encode("utf-8-sig")


class TestVolunteersThroughTheGateway:
    async def test_roster_upload_hours_and_certificate_pdf(self, gateway, admin_headers, gateway_tree):
        township = gateway_tree["mengzhuiwan"]
        await gateway.user(admin_headers, "li.worker", "social_worker", township["id"])
        await gateway.user(admin_headers, "chen.head", "station_head", township["id"])
        vol_user = await gateway.user(admin_headers, "zhang.vol", "volunteer", township["id"])
        await gateway.app.state.pusher.sync_now()
        worker = await gateway.headers_for("li.worker")

        r = await gateway.post("/v1/volunteers/import", headers=worker, params={"dry_run": "true"},
                               files={"file": ("roster.csv", roster(), "text/csv")})
        assert r.status_code == 200 and r.json()["valid_rows"] == 2 and r.json()["errors"] == [], r.text
        r = await gateway.post("/v1/volunteers/import", headers=worker,
                               files={"file": ("roster.csv", roster(), "text/csv")})
        assert r.status_code == 201, r.text
        zhang_id = r.json()["ids"][0]

        served = date.today() - timedelta(days=1)
        r = await gateway.post("/v1/volunteer-hours", headers=worker, json={
            "volunteer_id": zhang_id, "served_on": served.isoformat(), "start_time": "09:00", "end_time": "12:00",
            "content": "社区助老送餐"})
        assert r.status_code == 201, r.text
        hours = r.json()
        assert (await gateway.post(f"/v1/volunteer-hours/{hours['id']}/confirm", headers=worker)).status_code == 200
        r = await gateway.post("/v1/certificates", headers=worker, json={
            "volunteer_id": zhang_id, "from": served.isoformat(), "to": served.isoformat()})
        assert r.status_code == 201, r.text
        cert = r.json()
        assert cert["total_hours"] == 3

        r = await gateway.get(f"/v1/certificates/{cert['id']}.pdf", headers=worker)
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        assert r.headers["content-disposition"].startswith("inline;") and r.content.startswith(b"%PDF")
        text = PdfReader(io.BytesIO(r.content)).pages[0].extract_text()
        assert "3.00" in text and cert["number"] in text
        r = await gateway.get(f"/v1/certificates/{cert['id']}", headers={**worker, "Accept": "application/pdf"})
        assert r.content.startswith(b"%PDF")

        # The station head links the volunteer's login; the volunteer then sees only their own.
        head = await gateway.headers_for("chen.head")
        r = await gateway.patch(f"/v1/volunteers/{zhang_id}", json={"user_id": vol_user["id"]},
                                headers={**head, "If-Match": '"1"'})
        assert r.status_code == 200, r.text
        me = await gateway.headers_for("zhang.vol")
        mine = await gateway.get("/v1/volunteers/me", headers=me)
        assert mine.status_code == 200 and mine.json()["id_number"] == ID_BORN_1990
        assert (await gateway.get("/v1/volunteers", headers=me)).status_code == 403
        r = await gateway.post(f"/v1/volunteer-hours/{hours['id']}/dispute", headers=me, json={"reason": "实为4小时"})
        assert r.status_code == 200 and r.json()["status"] == "disputed"
        assert (await gateway.get(f"/v1/certificates/{cert['id']}.pdf", headers=me)).content.startswith(b"%PDF")
