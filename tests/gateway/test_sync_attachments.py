"""Station tablets' files: a photo taken offline is uploaded with the device credential, once
whatever the retries; its metadata reaches the tablets with their next pull (schema version 4)
as a read-only table; its bytes come on demand, without the photo's location, audited as the
tablet; another station's tablet can neither attach to nor fetch what it cannot see."""

import io
import re
import uuid

from PIL import Image

from tests.gateway.test_sync_flow import Tablet, updated
from tests.storage.samples import has_gps, jpeg, pdf


async def tablets(gateway, admin_headers, gateway_tree, db) -> tuple[Tablet, Tablet, dict]:
    township = gateway_tree["mengzhuiwan"]
    await gateway.user(admin_headers, "li.worker", "social_worker", township["id"])
    await gateway.app.state.pusher.sync_now()
    worker = await gateway.headers_for("li.worker")
    ours = (await gateway.post("/v1/devices", headers=admin_headers, json={"station_id": township["id"],
                                                                           "name": "平板"})).json()
    theirs = (await gateway.post("/v1/devices", headers=admin_headers,
                                 json={"station_id": gateway_tree["shuangqiao"]["id"],
                                                                      "name": "另一站平板"})).json()
    return Tablet(gateway, ours["credential"], db), Tablet(gateway, theirs["credential"], db), worker


class TestTabletFiles:
    async def test_an_offline_photo_is_uploaded_once_synced_and_fetched_on_demand(self, gateway, admin_headers,
                                                                                  gateway_tree, db):
        tablet, other, worker = await tablets(gateway, admin_headers, gateway_tree, db)
        person = (await gateway.post("/v1/beneficiaries", headers=worker, json={"name": "张桂芳"})).json()["id"]
        photo_id = str(uuid.uuid4())
        url = f"/v1/sync/attachments/{photo_id}"
        where = {"table": "beneficiaries", "record_id": person, "purpose": "photo", "file_name": "入户.jpg"}
        r = await gateway.put(url, content=jpeg(), headers=tablet.headers, params=where)
        assert r.status_code == 201, r.text
        stored = r.json()
        assert stored["id"] == photo_id and stored["owner_id"] == person and stored["media_type"] == "image/jpeg"
        # The answer was lost: the tablet sends it again, and gets the same file without a second copy.
        r = await gateway.put(url, content=jpeg(), headers=tablet.headers, params=where)
        assert r.status_code == 200 and r.json()["sha256"] == stored["sha256"]
        assert await db.fetchval("SELECT count(*) FROM cases.attachment") == 1
        assert (await db.fetchval("SELECT created_by FROM cases.attachment")).startswith("device:")

        schema = (await gateway.get("/v1/sync/schema")).json()
        assert schema["version"] == 5
        assert {t["name"]: t["since"] for t in schema["tables"]}["case_attachments"] == 4
        body = await tablet.pull(schema_version="4")
        row = updated(body, "case_attachments")[photo_id]
        assert row["owner_table"] == "beneficiary" and row["owner_id"] == person and row["file_name"] == "入户.jpg"
        assert row["kind"] == "jpeg" and row["size"] == stored["size"]
        # A tablet still on schema version 3 is not sent the table it does not have.
        older = Tablet(gateway, tablet.headers["Authorization"].removeprefix("Bearer "), db)
        assert "case_attachments" not in (await older.pull(schema_version="3"))["changes"]

        r = await gateway.get(url, headers=tablet.headers, params={"table": "case_attachments"})
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        assert r.headers["content-length"] == str(stored["size"])
        with Image.open(io.BytesIO(r.content)) as image:
            assert not has_gps(image)
        reads = await db.fetch("SELECT actor_id, operation FROM cases.audit_log WHERE record_table = 'attachment' "
                               "AND action = 'read'")
        assert [(a["actor_id"].startswith("device:"), a["operation"]) for a in reads] == [(True, "tablet_download")]

        # Another station's tablet: the person, and so the file, do not exist for it.
        r = await gateway.get(url, headers=other.headers, params={"table": "case_attachments"})
        assert r.status_code == 404
        r = await gateway.put(f"/v1/sync/attachments/{uuid.uuid4()}", content=pdf(), headers=other.headers,
                              params={**where, "purpose": "consent_form"})
        assert r.status_code == 404
        assert (await gateway.put(url, content=jpeg(), headers={"Authorization": "Bearer nope"},
                                  params=where)).status_code == 401

    async def test_the_synced_attachments_are_read_only_on_tablets(self, gateway, admin_headers, gateway_tree, db):
        tablet, _, worker = await tablets(gateway, admin_headers, gateway_tree, db)
        await tablet.pull(schema_version="4")
        made = {"id": str(uuid.uuid4()), "owner_table": "beneficiary", "owner_id": "x", "purpose": "photo",
                "kind": "jpeg", "size": 1, "sha256": "0" * 64}
        r = await tablet.push({"case_attachments": {"created": [made], "updated": [], "deleted": []}}, expect=422)
        assert r.json()["errors"][0]["field"] == f"changes.case_attachments.{made['id']}.id"
        assert r.json()["errors"][0]["code"] == "upload_first"
        assert await db.fetchval("SELECT count(*) FROM cases.attachment") == 0

    async def test_files_go_only_on_records_that_take_them(self, gateway, admin_headers, gateway_tree, db):
        tablet, _, worker = await tablets(gateway, admin_headers, gateway_tree, db)
        person = (await gateway.post("/v1/beneficiaries", headers=worker, json={"name": "张桂芳"})).json()["id"]
        r = await gateway.put(f"/v1/sync/attachments/{uuid.uuid4()}", content=jpeg(), headers=tablet.headers,
                              params={"table": "service_records", "record_id": person, "purpose": "photo"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "table"
        r = await gateway.put(f"/v1/sync/attachments/{uuid.uuid4()}", content=jpeg(), headers=tablet.headers,
                              params={"table": "beneficiaries", "record_id": person, "purpose": "selfie"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "purpose"


class TestSchemaVersion4:
    async def test_the_attachment_tables_pass_appschema_and_the_docs_migration_creates_them(self, gateway):
        from tests.gateway.test_sync_stock import SYNC_DOC, served_schema
        from tests.watermelon import schema_from_server

        served = await served_schema(gateway, 4)
        tables = {t["name"]: t for t in served["tables"]}
        names = ("case_attachments", "project_attachments", "volunteer_attachments")
        schema_from_server({"version": 4, "tables": [tables[n] for n in names]})  # WatermelonDB's own checks
        doc = SYNC_DOC.read_text()
        step = re.search(r"toVersion: 4,.*?\[(.*?)\]\.map.*?columns: \[(.*?)\]", doc, re.S)
        assert re.findall(r"'(\w+)'", step.group(1)) == list(names)
        shown = [{"name": m[0], "type": m[1], **({"isOptional": True} if m[2] else {}),
                  **({"isIndexed": True} if m[3] else {})}
                 for m in re.findall(r"\{ name: '(\w+)', type: '(\w+)'(, isOptional: true)?(, isIndexed: true)? \}",
                                     step.group(2))]
        for name in names:
            assert shown == [{k: v for k, v in c.items() if k != "readonly"} for c in tables[name]["columns"]], name
