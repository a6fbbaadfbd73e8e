"""GET /v1/meta/labels: public, in either language, cacheable with an ETag."""

from __future__ import annotations

from shared.labels import TABLES


class TestLabels:
    async def test_public_in_chinese_by_default(self, gateway):
        r = await gateway.get("/v1/meta/labels")  # no login
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        body = r.json()
        assert body["lang"] == "zh-CN" and r.headers["content-language"] == "zh-CN"
        assert set(body["labels"]) == set(TABLES)
        assert body["labels"]["case_status"] == {"intake": "接案", "assessment": "预估", "planning": "计划",
                                                 "intervention": "介入", "evaluation": "评估", "closed": "结案",
                                                 "follow_up": "跟进"}
        assert body["labels"]["method"]["group"] == "小组工作"
        assert body["labels"]["population"]["child_left_behind"] == "留守儿童"
        assert body["labels"]["funding_source"]["disabled_federation"] == "残联"
        assert body["labels"]["role"]["station_head"] == "站长"
        assert body["labels"]["figure"]["person_times"] == "服务人次"
        for name, table in TABLES.items():
            assert list(body["labels"][name]) == list(table)  # every value, in the code's order

    async def test_english_by_parameter_or_header(self, gateway):
        en = (await gateway.get("/v1/meta/labels", params={"lang": "en"})).json()
        assert en["lang"] == "en" and en["labels"]["service_type"]["elder_child_care"] == "Care for elders and children"
        assert en["labels"]["method"] == {"casework": "Casework", "group": "Group work", "community": "Community work",
                                         "visit": "Visits"}
        by_header = await gateway.get("/v1/meta/labels", headers={"Accept-Language": "en-GB,en;q=0.9,zh;q=0.1"})
        assert by_header.json() == en and by_header.headers["vary"] == "Accept-Language"
        # The parameter wins over the header.
        zh = await gateway.get("/v1/meta/labels", params={"lang": "zh-CN"}, headers={"Accept-Language": "en"})
        assert zh.json()["lang"] == "zh-CN"

    async def test_etag_and_304(self, gateway):
        r = await gateway.get("/v1/meta/labels", params={"lang": "en"})
        etag = r.headers["etag"]
        assert "public" in r.headers["cache-control"]
        again = await gateway.get("/v1/meta/labels", params={"lang": "en"}, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        other = await gateway.get("/v1/meta/labels", params={"lang": "zh-CN"}, headers={"If-None-Match": etag})
        assert other.status_code == 200 and other.headers["etag"] != etag

    async def test_unknown_language_names_the_parameter(self, gateway):
        r = await gateway.get("/v1/meta/labels", params={"lang": "fr"})
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in r.json()["errors"]] == ["query.lang"]
