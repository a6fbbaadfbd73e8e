"""Attachments on the real S3-compatible server (the embedded SeaweedFS): a service run with
STORAGE_URL=s3://... stores a consent form and a phone photo sealed in the bucket (nothing of
the plaintext, nor the photo's GPS, in any object), gives them back whole, scoped and audited,
and a refused upload leaves no object behind."""

import io
import secrets
from contextlib import AsyncExitStack

import httpx
from PIL import Image

from services.cases.config import CasesSettings
from tests.fixtures.stations import station_rows
from tests.storage.samples import has_gps, jpeg, pdf


async def bucket_objects(server, prefix: str) -> dict[str, bytes]:
    from tests.storage.conftest import s3_storage

    async with s3_storage(server, prefix=prefix) as store:
        return {key: await store.read(key) async for key in store.keys()}


class TestAttachmentsOnS3:
    async def test_sealed_in_the_bucket_and_given_back_whole(self, s3_server, database_url, token_for,
                                                             service_headers, db):
        from services.cases.app import create_app

        prefix = f"t{secrets.token_hex(6)}"
        settings = CasesSettings(storage_url=f"s3://{s3_server.bucket}/{prefix}?endpoint={s3_server.endpoint}",
                                 storage_access_key_id=s3_server.access_key_id,
                                 storage_secret_access_key=s3_server.secret_access_key)
        app = create_app(settings)
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cases"))
            r = await client.put("/internal/stations", json={"stations": station_rows("/1/", "/1/2/", "/1/3/")},
                                 headers=service_headers)
            assert r.status_code == 200, r.text
            worker = token_for("social_worker", 2, "/1/2/", user_id="w2")
            person = (await client.post("/v1/beneficiaries", json={"name": "张秀英"}, headers=worker)).json()["id"]
            base = f"/v1/beneficiaries/{person}/attachments"
            consent = pdf(b"BT (Zhang Xiuying agrees) Tj ET")
            r = await client.post(base, content=consent, headers=worker, params={"purpose": "consent_form"})
            assert r.status_code == 201, r.text
            form = r.json()
            r = await client.post(base, content=jpeg(), headers=worker, params={"purpose": "photo"})
            assert r.status_code == 201, r.text
            photo = r.json()
            r = await client.post(base, content=b"<svg onload=alert(1)>", headers=worker, params={"purpose": "photo"})
            assert r.status_code == 415

            stored = await bucket_objects(s3_server, f"{prefix}/cases")
            # Each file and its thumbnail, each with its sealed key beside it: nothing else.
            assert len(stored) == 6 and sum(k.endswith(".key") for k in stored) == 3
            for key, data in stored.items():
                assert b"Zhang Xiuying" not in data and b"%PDF" not in data and b"\xff\xd8\xff" not in data, key
                assert b"Apple" not in data and b"iPhone" not in data
            keys = await db.fetch("SELECT storage_key FROM cases.attachment WHERE owner_id = $1", person)
            assert {f"{r['storage_key']}" for r in keys} <= set(stored)

            r = await client.get(f"{base}/{form['id']}/content", headers=worker)
            assert r.status_code == 200 and r.content == consent
            r = await client.get(f"{base}/{photo['id']}/content", headers=worker)
            with Image.open(io.BytesIO(r.content)) as image:
                assert not has_gps(image) and image.size == (64, 48)
            sibling = token_for("social_worker", 3, "/1/3/", user_id="w3")
            assert (await client.get(f"{base}/{form['id']}/content", headers=sibling)).status_code == 404
            reads = await db.fetch("SELECT record_id FROM cases.audit_log WHERE record_table = 'attachment' "
                                   "AND action = 'read' ORDER BY id")
            assert [r["record_id"] for r in reads] == [form["id"], photo["id"]]
