"""Certificates (志愿服务证明): confirmed hours only, reproducible, JSON and printable PDF."""

import io
from datetime import timedelta

from pypdf import PdfReader

from tests.volunteers.conftest import ID_A, fields_of, with_etag


async def issue(client, headers, volunteer_id, from_on, to_on, expect=201) -> dict:
    r = await client.post("/v1/certificates", headers=headers, json={
        "volunteer_id": volunteer_id, "from": from_on.isoformat(), "to": to_on.isoformat()})
    assert r.status_code == expect, r.text
    return r.json()


class TestIssueCertificate:
    async def test_hours_equal_the_confirmed_records(self, volunteers_client, worker, sibling, register, record,
                                                     act, db, today):
        v = await register(worker)
        start = today - timedelta(days=20)
        confirmed = []
        for days_ago, hours in ((15, "2.5"), (10, "3"), (5, "1.25")):
            h = await record(worker, v["id"], hours=hours, served_on=(today - timedelta(days=days_ago)).isoformat(),
                             content=f"服务{days_ago}")
            confirmed.append(await act(worker, h["id"], "confirm"))
        await record(worker, v["id"], hours="4", served_on=(today - timedelta(days=3)).isoformat())  # not confirmed
        await record(worker, v["id"], hours="6", served_on=(today - timedelta(days=30)).isoformat())  # outside
        cert = await issue(volunteers_client, worker, v["id"], start, today)
        stored = await db.fetchval("SELECT sum(hours) FROM volunteers.service_hours WHERE status IN "
                                   "('confirmed', 'corrected') AND served_on BETWEEN $1 AND $2", start, today)
        assert cert["total_hours"] == float(stored) == 6.75 and cert["record_count"] == 3
        assert [i["hours_id"] for i in cert["items"]] == [h["id"] for h in confirmed]
        assert cert["number"] == f"2-{today.year}-000001" and cert["issuer_name"] == "Station 2"
        assert cert["handler_id"] == "w2" and cert["handler_name"] == "王丽" and cert["issued_on"] == today.isoformat()
        assert cert["id_number"] == ID_A and cert["from"] == start.isoformat() and cert["volunteer_number"]
        row = await db.fetchrow("SELECT * FROM volunteers.certificate")
        assert ID_A not in row["id_number_enc"] and row["content_hash"] == cert["content_hash"]
        r = await volunteers_client.post("/v1/certificates", headers=sibling, json={
            "volunteer_id": v["id"], "from": start.isoformat(), "to": today.isoformat()})
        assert r.status_code == 422 and fields_of(r) == {"volunteer_id"}

    async def test_same_request_same_certificate_until_records_change(self, volunteers_client, worker, register,
                                                                      record, act, today):
        v = await register(worker)
        h = await record(worker, v["id"], hours="2")
        await act(worker, h["id"], "confirm")
        first = await issue(volunteers_client, worker, v["id"], today, today)
        again = await issue(volunteers_client, worker, v["id"], today, today, expect=200)
        assert again == first
        later = await record(worker, v["id"], hours="1")
        await act(worker, later["id"], "confirm")
        second = await issue(volunteers_client, worker, v["id"], today, today)
        assert second["total_hours"] == 3 and second["number"] != first["number"]
        # The first one still reads as issued.
        assert (await volunteers_client.get(f"/v1/certificates/{first['id']}", headers=worker)).json() == first

    async def test_bad_requests(self, volunteers_client, worker, supervisor, register, record, today):
        v = await register(worker)
        await record(worker, v["id"])  # recorded, not confirmed
        r = await volunteers_client.post("/v1/certificates", headers=worker, json={
            "volunteer_id": v["id"], "from": today.isoformat(), "to": today.isoformat()})
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "no_certified_hours"
        r = await volunteers_client.post("/v1/certificates", headers=worker, json={
            "volunteer_id": v["id"], "from": today.isoformat(), "to": (today - timedelta(days=1)).isoformat()})
        assert r.status_code == 422
        r = await volunteers_client.post("/v1/certificates", headers=supervisor, json={
            "volunteer_id": v["id"], "from": today.isoformat(), "to": today.isoformat()})
        assert r.status_code == 403


class TestCertificatePdf:
    async def test_pdf_states_the_hours(self, volunteers_client, worker, login, me, register, record, act, today):
        v = await register(worker)
        h = await record(worker, v["id"], hours="7.5", content="社区图书角值守")
        await act(worker, h["id"], "confirm")
        cert = await issue(volunteers_client, worker, v["id"], today, today)
        r = await volunteers_client.get(f"/v1/certificates/{cert['id']}.pdf", headers=worker)
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        assert r.content.startswith(b"%PDF")
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
        assert "志愿服务证明" in text and "7.50" in text and cert["number"] in text and "社区图书角值守" in text
        negotiated = await volunteers_client.get(f"/v1/certificates/{cert['id']}",
                                                 headers={**worker, "Accept": "application/pdf"})
        assert negotiated.headers["content-type"] == "application/pdf" and negotiated.content == r.content

        # The volunteer reads their own certificate; nobody else's.
        await volunteers_client.patch(f"/v1/volunteers/{v['id']}", json={"user_id": login.user_id},
                                      headers=with_etag(login.head, '"1"'))
        mine = (await volunteers_client.get("/v1/certificates", headers=me)).json()["items"]
        assert [c["id"] for c in mine] == [cert["id"]]
        assert (await volunteers_client.get(f"/v1/certificates/{cert['id']}.pdf", headers=me)).status_code == 200
        assert (await volunteers_client.get("/v1/certificates/nope.pdf", headers=me)).status_code == 404
