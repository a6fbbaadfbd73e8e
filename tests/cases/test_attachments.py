"""Files on beneficiaries and cases, in the cases service: each type taken and cleaned, others
refused, stored sealed, scoped like their record, every download audited, a child's files kept to
the staff who work with the child."""

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import TEST_FILES
from tests.fixtures.people import ID_CHILD
from tests.storage.samples import COMMENT, has_gps, heic, jpeg, pdf, png


async def upload(client, headers, path: str, body: bytes, expect: int = 201, **params) -> dict:
    r = await client.post(path, content=body, headers=headers, params={"purpose": "photo", **params})
    assert r.status_code == expect, r.text
    return r.json()


def stored_files() -> set[Path]:
    return {p for p in (Path(TEST_FILES) / "cases").rglob("*") if p.is_file()}


async def audit_rows(db, record_id: str) -> list:
    return await db.fetch("SELECT actor_id, action, operation, record_table FROM cases.audit_log "
                          "WHERE record_table = 'attachment' AND record_id = $1 ORDER BY id", record_id)


class TestUpload:
    async def test_each_type_is_taken_and_photos_lose_their_location(self, cases_client, worker, register, db):
        person = await register(worker)
        base = f"/v1/beneficiaries/{person['id']}/attachments"
        photo = await upload(cases_client, worker, base, jpeg(), file_name="张秀英家.jpg")
        assert photo["media_type"] == "image/jpeg" and photo["thumbnail"] and photo["width"] == 64
        assert photo["file_name"] == "张秀英家.jpg" and photo["owner_table"] == "beneficiary"
        scan = await upload(cases_client, worker, base, png(), file_name="签到表.png")
        assert scan["media_type"] == "image/png"
        iphone = await upload(cases_client, worker, base, heic(), file_name="IMG_0001.HEIC")
        assert iphone["media_type"] == "image/jpeg" and iphone["file_name"] == "IMG_0001.jpg"
        consent = await upload(cases_client, worker, base, pdf(), purpose="consent_form", file_name="知情同意书.pdf")
        assert consent["media_type"] == "application/pdf" and not consent["thumbnail"]

        r = await cases_client.get(f"{base}/{photo['id']}/content", headers=worker)
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        with Image.open(io.BytesIO(r.content)) as image:
            assert not has_gps(image) and not image.getexif()
        assert COMMENT not in r.content and b"Apple" not in r.content
        assert r.headers["content-disposition"] == (
            "attachment; filename=\"attachment.jpg\"; filename*=UTF-8''%E5%BC%A0%E7%A7%80%E8%8B%B1%E5%AE%B6.jpg")
        assert r.headers["x-content-type-options"] == "nosniff"
        r = await cases_client.get(f"{base}/{consent['id']}/content", headers=worker)
        assert r.content == pdf() and r.headers["content-type"] == "application/pdf"
        r = await cases_client.get(f"{base}/{photo['id']}/thumbnail", headers=worker)
        assert r.status_code == 200 and r.content.startswith(b"\xff\xd8")
        assert (await cases_client.get(f"{base}/{consent['id']}/thumbnail", headers=worker)).status_code == 404

        listed = (await cases_client.get(base, headers=worker)).json()["items"]
        assert [a["id"] for a in listed] == [photo["id"], scan["id"], iphone["id"], consent["id"]]
        stored = await db.fetch("SELECT file_name, owner_id FROM cases.attachment ORDER BY created_at")
        assert len(stored) == 4 and all(r["owner_id"] == person["id"] for r in stored)
        assert all("知情" not in r["file_name"] and "张" not in r["file_name"] for r in stored)  # sealed

    async def test_files_at_rest_are_not_the_plaintext(self, cases_client, worker, register, db):
        person = await register(worker)
        sent = pdf(b"BT (Zhang Xiuying consents) Tj ET")
        consent = await upload(cases_client, worker, f"/v1/beneficiaries/{person['id']}/attachments", sent,
                               purpose="consent_form")
        key = await db.fetchval("SELECT storage_key FROM cases.attachment WHERE id = $1", consent["id"])
        at_rest = (Path(TEST_FILES) / "cases" / key).read_bytes()
        assert b"Zhang Xiuying" not in at_rest and b"%PDF" not in at_rest and at_rest.startswith(b"HLF\x01")
        assert len(at_rest) > len(sent)

    async def test_other_types_and_oversized_files_are_refused_and_nothing_is_stored(self, cases_client, worker,
                                                                                       register, db):
        person = await register(worker)
        before = stored_files()
        base = f"/v1/beneficiaries/{person['id']}/attachments"
        gif = b"GIF89a" + b"\x00" * 100
        r = await cases_client.post(base, content=gif, headers=worker, params={"purpose": "photo"})
        assert r.status_code == 415 and r.json()["errors"][0]["field"] == "file"
        assert "image/jpeg" in r.headers["accept"]
        r = await cases_client.post(base, content=b"%PDF-1.7\nnot really", headers=worker,
                                    params={"purpose": "consent_form"})
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "invalid_file"
        r = await cases_client.post(base, content=jpeg(), headers=worker, params={"purpose": "selfie"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.purpose"
        uploads = cases_client.app.state.attachments.uploads
        limit, uploads.max_bytes = uploads.max_bytes, 50_000
        try:
            async def body():
                for _ in range(20):
                    yield b"\xff\xd8\xff" + b"\x00" * 9_997

            r = await cases_client.post(base, content=body(), headers=worker, params={"purpose": "photo"})
            assert r.status_code == 413 and r.json()["errors"][0]["field"] == "file"
        finally:
            uploads.max_bytes = limit
        assert await db.fetchval("SELECT count(*) FROM cases.attachment") == 0
        assert stored_files() == before


class TestScope:
    async def test_out_of_scope_reads_as_missing_and_downloads_are_audited(self, cases_client, worker, sibling,
                                                                           official, open_case, db):
        case = await open_case(worker)
        base = f"/v1/cases/{case['id']}/attachments"
        report = await upload(cases_client, worker, base, pdf(), purpose="closure_report", file_name="结案报告.pdf")
        for path in (base, f"{base}/{report['id']}", f"{base}/{report['id']}/content"):
            for headers in (sibling, official):
                r = await cases_client.get(path, headers=headers)
                assert r.status_code == 404, (path, r.text)
        r = await cases_client.get(f"/v1/cases/missing/attachments/{report['id']}/content", headers=worker)
        assert r.status_code == 404
        # An attachment id under another record of the caller's scope is not found there either.
        other = await open_case(worker)
        r = await cases_client.get(f"/v1/cases/{other['id']}/attachments/{report['id']}/content", headers=worker)
        assert r.status_code == 404
        assert (await cases_client.post(base, content=pdf(), headers=sibling,
                                        params={"purpose": "closure_report"})).status_code == 404

        assert (await cases_client.get(f"{base}/{report['id']}/content", headers=worker)).status_code == 200
        rows = await audit_rows(db, report["id"])
        assert [(r["action"], r["operation"]) for r in rows] == [
            ("create", "upload_case_attachment"), ("read", "download_case_attachment")]
        assert rows[1]["actor_id"] == "w2"

    async def test_a_childs_files_are_for_the_staff_who_work_with_the_child(self, cases_client, worker, admin_token,
                                                                            supervisor, register, db):
        child = await register(worker, id_number=ID_CHILD, birth_on="2015-03-10")
        base = f"/v1/beneficiaries/{child['id']}/attachments"
        photo = await upload(cases_client, worker, base, jpeg(), file_name="小明.jpg")
        assert photo["child"] is True
        r = await cases_client.get(f"{base}/{photo['id']}/content", headers=admin_token)
        assert r.status_code == 403
        listed = (await cases_client.get(base, headers=admin_token)).json()["items"]
        assert listed[0]["file_name"] is None  # the name of a person's file is for the staff who work with them
        assert (await cases_client.get(f"{base}/{photo['id']}/content", headers=supervisor)).status_code == 200
        reads = [r for r in await audit_rows(db, photo["id"]) if r["action"] == "read"]
        # The admin's list of a child's files and the supervisor's download.
        assert [r["operation"] for r in reads] == ["list_beneficiary_attachments", "download_beneficiary_attachment"]


class TestRetriesAndDeletes:
    async def test_a_client_id_makes_a_retry_answer_the_stored_file(self, cases_client, worker, register, db):
        person = await register(worker)
        base = f"/v1/beneficiaries/{person['id']}/attachments"
        first = await upload(cases_client, worker, base, jpeg(), id="tablet-photo-1")
        again = await upload(cases_client, worker, base, b"not even read", expect=200, id="tablet-photo-1")
        assert again["id"] == first["id"] == "tablet-photo-1" and again["sha256"] == first["sha256"]
        other = await register(worker, name="李四")
        r = await cases_client.post(f"/v1/beneficiaries/{other['id']}/attachments", content=jpeg(), headers=worker,
                                    params={"purpose": "photo", "id": "tablet-photo-1"})
        assert r.status_code == 409
        assert await db.fetchval("SELECT count(*) FROM cases.attachment") == 1

    async def test_delete_needs_the_version_and_removes_the_bytes(self, cases_client, worker, register, db):
        person = await register(worker)
        base = f"/v1/beneficiaries/{person['id']}/attachments"
        photo = await upload(cases_client, worker, base, jpeg())
        key = await db.fetchval("SELECT storage_key FROM cases.attachment WHERE id = $1", photo["id"])
        assert (await cases_client.delete(f"{base}/{photo['id']}", headers=worker)).status_code == 428
        r = await cases_client.delete(f"{base}/{photo['id']}", headers={**worker, "If-Match": '"1"'})
        assert r.status_code == 204
        assert not (Path(TEST_FILES) / "cases" / key).exists()
        assert (await cases_client.get(f"{base}/{photo['id']}/content", headers=worker)).status_code == 404
        assert (await cases_client.get(base, headers=worker)).json()["items"] == []
