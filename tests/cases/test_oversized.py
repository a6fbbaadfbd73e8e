"""Oversized bodies are refused before they are parsed, at the service and at the gateway."""

from tests.fixtures.calls import chunked


class TestOversizedBody:
    async def test_service_answers_413_naming_the_body_and_writes_nothing(self, cases_client, tree, worker, db):
        huge = {"name": "张三", "address": "x" * 2_000_000}
        r = await cases_client.post("/v1/beneficiaries", json=huge, headers=worker)
        assert r.status_code == 413
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"][0]["field"] == "body"
        assert await db.fetchval("SELECT count(*) FROM cases.beneficiary") == 0

    async def test_chunked_body_without_length_is_cut_off_too(self, cases_client, tree, worker, db):
        r = await cases_client.post("/v1/beneficiaries", content=chunked(40),
                                    headers={**worker, "content-type": "application/json"})
        assert r.status_code == 413
        assert await db.fetchval("SELECT count(*) FROM cases.beneficiary") == 0
