"""Every limit answers a clear problem naming what is too large and by how much, through the
gateway as a client meets it, and writes nothing: request bodies (413), page sizes (422 naming
`limit`), tablet pushes (413 naming the record count and the limit) and roster imports (422
naming the row count and the limit; 413 for the file)."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from shared.pagination import MAX_LIMIT
from tests.fixtures.calls import chunked
from tests.fixtures.people import ID_BORN_1970
from tests.reliability.conftest import problem
from tests.volunteers.test_import import HEADER, as_csv


class TestBodySize:
    async def test_a_body_over_the_limit_is_413_at_the_gateway_and_nothing_is_written(self, gateway, admin_headers,
                                                                                      root,
                                                                                      db):
        huge = {"name": "张三", "address": "x" * 1_100_000}
        for path in ("/v1/beneficiaries", "/v1/projects", "/v1/volunteers", "/v1/stations"):
            body = problem(await gateway.post(path, json=huge, headers=admin_headers), 413)
            assert body["errors"][0]["field"] == "body"
            assert "1000000 bytes" in body["detail"]
        assert await db.fetchval("SELECT count(*) FROM cases.beneficiary") == 0
        assert await db.fetchval("SELECT count(*) FROM gateway.station WHERE name = '张三'") == 0

    async def test_a_chunked_body_without_a_length_is_cut_off_as_well(self, gateway, admin_headers, root, db):
        r = await gateway.post("/v1/beneficiaries", content=chunked(30),
                               headers={**admin_headers, "content-type": "application/json"})
        assert problem(r, 413)["errors"][0]["field"] == "body"
        assert await db.fetchval("SELECT count(*) FROM cases.beneficiary") == 0

    async def test_a_chunked_body_within_the_limit_goes_through(self, gateway, admin_headers, root, db):
        async def chunks():
            yield b'{"name": "'
            yield "李四".encode()
            yield b'"}'

        r = await gateway.post("/v1/beneficiaries", content=chunks(),
                               headers={**admin_headers, "content-type": "application/json"})
        assert r.status_code == 201, r.text
        assert await db.fetchval("SELECT count(*) FROM cases.beneficiary") == 1


class TestPageSize:
    async def test_every_list_refuses_a_page_over_the_limit_naming_limit(self, gateway, admin_headers, root):
        r = await gateway.get("/openapi.json")
        lists = sorted(path for path, item in r.json()["paths"].items() if "{" not in path
                       and any(p["name"] == "limit" for p in item.get("get", {}).get("parameters", [])))
        # The API document is merged from every service: this covers each process's lists.
        assert {"/v1/beneficiaries", "/v1/cases", "/v1/projects", "/v1/volunteers"} <= set(lists), lists
        for path in lists:
            for limit in (MAX_LIMIT + 1, 0):
                body = problem(await gateway.get(path, params={"limit": limit}, headers=admin_headers), 422)
                assert [e["field"] for e in body["errors"]] == ["query.limit"], (path, body)
            r = await gateway.get(path, params={"limit": MAX_LIMIT}, headers=admin_headers)
            assert r.status_code == 200, (path, r.text)


class TestSyncPushSize:
    @pytest.fixture
    async def small_gateway(self, gateway_factory):
        return await gateway_factory(sync_max_push_records=3)

    async def tablet(self, gw, headers, station_id: int) -> dict[str, str]:
        r = await gw.post("/v1/devices", headers=headers, json={"station_id": station_id, "name": "平板"})
        assert r.status_code == 201, r.text
        return {"Authorization": f"Bearer {r.json()['credential']}"}

    async def test_a_push_over_the_limit_is_413_naming_count_and_limit_and_writes_nothing(self, small_gateway,
                                                                                           db):
        gw = small_gateway
        headers = await gw.admin()
        station = (await gw.get("/v1/stations", headers=headers)).json()["items"][0]
        await gw.app.state.pusher.sync_now()
        tablet = await self.tablet(gw, headers, station["id"])
        r = await gw.get("/v1/sync", headers=tablet, params={"last_pulled_at": "null", "schema_version": "2"})
        assert r.status_code == 200, r.text
        since = r.json()["timestamp"]

        def people(n: int) -> list[dict]:
            return [{"id": f"b-{uuid.uuid4()}", "name": f"居民{i}", "populations": '["elderly"]'} for i in range(n)]

        changes = {"beneficiaries": {"created": people(2), "updated": [], "deleted": ["b-gone-1", "b-gone-2"]}}
        r = await gw.post("/v1/sync", headers=tablet, params={"last_pulled_at": str(since)}, json=changes)
        body = problem(r, 413)
        assert body["count"] == 4 and body["limit"] == 3
        assert body["errors"][0]["field"] == "changes" and body["errors"][0]["code"] == "too_many_records"
        assert "4 records" in body["detail"] and "at most 3" in body["detail"]
        assert await db.fetchval("SELECT count(*) FROM cases.beneficiary") == 0

        changes = {"beneficiaries": {"created": people(3), "updated": [], "deleted": []}}
        r = await gw.post("/v1/sync", headers=tablet, params={"last_pulled_at": str(since)}, json=changes)
        assert r.status_code == 204, r.text
        assert await db.fetchval("SELECT count(*) FROM cases.beneficiary") == 3

    async def test_a_push_has_room_beyond_the_ordinary_body_limit(self, gateway_factory, db):
        """A tablet cannot split its push: one larger than the 1 MB of other requests goes through
        the gateway and to the service; past the sync body limit it is a 413 naming the body."""
        gw = await gateway_factory(sync_max_body_bytes=3_000_000)
        headers = await gw.admin()
        station = (await gw.get("/v1/stations", headers=headers)).json()["items"][0]
        await gw.app.state.pusher.sync_now()
        tablet = await self.tablet(gw, headers, station["id"])
        r = await gw.get("/v1/sync", headers=tablet, params={"last_pulled_at": "null", "schema_version": "2"})
        since = str(r.json()["timestamp"])
        # Bulk in a column this server does not know (ignored, as WatermelonDB's rules say), so the
        # test pays for the bytes, not for writing thousands of records.
        people = [{"id": f"b-{uuid.uuid4()}", "name": f"居民{i}", "populations": '["elderly"]',
                   "photo_local": "x" * 100_000} for i in range(15)]
        big = {"beneficiaries": {"created": people, "updated": [], "deleted": []}}
        size = len(json.dumps(big, ensure_ascii=False).encode())
        assert 1_000_000 < size < 3_000_000
        r = await gw.post("/v1/sync", headers=tablet, params={"last_pulled_at": since}, json=big)
        assert r.status_code == 204, r.text[:500]
        assert await db.fetchval("SELECT count(*) FROM cases.beneficiary") == 15

        bigger = {"beneficiaries": {"created": people * 2, "updated": [], "deleted": []}}
        r = await gw.post("/v1/sync", headers=tablet, params={"last_pulled_at": since}, json=bigger)
        body = problem(r, 413)
        assert body["errors"][0]["field"] == "body"

    async def test_the_default_limit_is_ten_thousand(self):
        from gateway.config import GatewaySettings

        assert GatewaySettings().sync_max_push_records == 10_000


class TestImportSize:
    async def upload(self, gateway: httpx.AsyncClient, headers, content: bytes):
        return await gateway.post("/v1/volunteers/import", headers=headers, params={"dry_run": "false"},
                                  files={"file": ("roster.csv", content, "text/csv")})

    async def test_too_many_rows_is_422_naming_count_and_limit_and_writes_nothing(self, gateway, admin_headers, root,
                                                                                  db):
        await gateway.app.state.pusher.sync_now()
        rows = [HEADER] + [[f"志愿者{i}", "护照", f"E{i:07d}"] for i in range(2001)]
        body = problem(await self.upload(gateway, admin_headers, as_csv(rows)), 422)
        assert body["errors"][0]["field"] == "file" and body["errors"][0]["code"] == "too_many_rows"
        assert "2000" in body["detail"] and "2001" in body["detail"]
        assert await db.fetchval("SELECT count(*) FROM volunteers.volunteer") == 0

    async def test_a_file_over_the_size_limit_is_413(self, gateway, admin_headers, root, db):
        await gateway.app.state.pusher.sync_now()
        big = as_csv([HEADER, ["王一", "身份证", ID_BORN_1970]]) + b"\n" * 1_100_000
        assert problem(await self.upload(gateway, admin_headers, big), 413)["status"] == 413
        assert await db.fetchval("SELECT count(*) FROM volunteers.volunteer") == 0
