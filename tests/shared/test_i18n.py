"""Accept-Language negotiation and the Chinese of problem details (shared.i18n, shared.errors)."""

from __future__ import annotations


import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field

from shared.errors import Conflict
from shared.i18n import MESSAGES, PATTERNS, TITLES, negotiate, preferred_languages, translate
from tests.fixtures.calls import bare_app


class TestNegotiate:
    @pytest.mark.parametrize("header, expected", [
        (None, "en"),
        ("", "en"),
        ("zh-CN", "zh-CN"),
        ("zh", "zh-CN"),
        ("ZH-cn", "zh-CN"),
        ("zh-Hans-CN", "zh-CN"),
        ("zh-TW", "zh-CN"),  # the only Chinese there is
        ("en-US,en;q=0.9", "en"),
        ("en;q=0.5, zh-CN;q=0.8", "zh-CN"),
        ("zh-CN;q=0.8, en;q=0.9", "en"),
        ("fr-FR, zh;q=0.7, en;q=0.3", "zh-CN"),
        ("fr, de", "en"),
        ("*", "en"),
        ("zh;q=0, *", "en"),
        ("en;q=0, *", "zh-CN"),
        ("zh-CN;q=0", "en"),
        ("zh-CN;q=abc, en;q=0.1", "en"),  # a malformed q is no acceptance
        ("zh-CN;q=2", "en"),  # out of range likewise
        ("zh-CN ; q = 0.9 , en ; q=0.8", "zh-CN"),
        ("en, zh", "en"),  # equal q: the order given
        (",,;q=1,zh", "zh-CN"),
    ])
    def test_header(self, header, expected):
        assert negotiate(header) == expected

    def test_default_when_nothing_matches(self):
        assert negotiate(None, "zh-CN") == "zh-CN"
        assert negotiate("fr", "zh-CN") == "zh-CN"
        assert negotiate("zh;q=0, *", "zh-CN") == "en"

    def test_ranked(self):
        assert preferred_languages("da, en-gb;q=0.8, en;q=0.7") == [("da", 1.0), ("en-gb", 0.8), ("en", 0.7)]

    @given(st.lists(st.tuples(st.sampled_from(["zh-CN", "zh", "zh-TW", "en", "en-GB", "fr", "de", "*", "ja"]),
                              st.integers(0, 1000)), max_size=6),
           st.sampled_from(["en", "zh-CN"]))
    def test_the_best_rated_language_wins(self, choices, default):
        """Against a plain reading of RFC 9110: each language rated by its tags or else by `*`."""
        header = ", ".join(f"{tag};q={q / 1000:.3f}" for tag, q in choices)
        got = negotiate(header, default)
        named = {"zh": "zh-CN", "en": "en"}
        explicit: dict[str, float] = {}
        for tag, q in choices:
            lang = named.get(tag.split("-")[0].lower())
            if lang:
                explicit[lang] = max(explicit.get(lang, 0.0), q / 1000)
        stars = [q / 1000 for tag, q in choices if tag == "*"]
        rating = {lang: explicit.get(lang, max(stars) if stars else 0.0) for lang in ("en", "zh-CN")}
        if max(rating.values()) > 0:
            assert rating[got] == max(rating.values())
        else:
            assert got == default

    @given(st.text(max_size=60))
    def test_never_fails_on_any_header(self, header):
        assert negotiate(header) in ("en", "zh-CN")


class TestCatalogue:
    def test_every_entry_is_chinese(self):
        for text in [*MESSAGES.values(), *TITLES.values()]:
            assert any("\u4e00" <= ch <= "\u9fff" for ch in text), text

    def test_patterns_keep_the_values(self):
        assert translate("No such beneficiary in your scope.", "zh-CN") == "您的范围内没有该服务对象。"
        assert translate("Check these fields: born_on, name", "zh-CN") == "请检查这些字段：born_on, name"
        assert translate("The cases service did not answer in time.", "zh-CN") == "个案服务未及时响应。"
        assert translate("Your role (volunteer) cannot change stations.", "zh-CN") == \
            "您的角色（志愿者）无权执行此操作。"
        assert len(PATTERNS) > 5

    def test_english_and_unknown_text_stay(self):
        assert translate("No such case.", "en") == "No such case."
        assert translate("Something nobody translated.", "zh-CN") == "Something nobody translated."


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=5)
    count: int = Field(ge=1)


@pytest.fixture
async def tiny():
    app = bare_app(max_body_bytes=300)

    @app.post("/things")
    async def create(thing: Thing) -> Thing:
        raise Conflict("This population code exists already.",
                       errors=[{"field": "name", "message": "exists already", "code": "duplicate"}])

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client


ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}


class TestProblemsInChinese:
    async def test_validation_keeps_field_names_and_codes(self, tiny):
        body = {"name": "toolong", "count": 0, "extra": 1}
        en = (await tiny.post("/things", json=body)).json()
        r = await tiny.post("/things", json=body, headers=ZH)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
        assert r.headers["content-language"] == "zh-CN"
        zh = r.json()
        assert zh["title"] == "输入有误" and zh["detail"] == "请检查这些字段：count, extra, name"
        assert zh["type"] == en["type"]
        assert [(e["field"], e["code"]) for e in zh["errors"]] == [(e["field"], e["code"]) for e in en["errors"]]
        messages = {e["field"]: e["message"] for e in zh["errors"]}
        assert messages == {"name": "最多 5 个字符", "count": "应不小于 1", "extra": "不接受此字段"}
        assert en["title"] == "Invalid input" and "content-language" not in (await tiny.post("/things", json=body)
                                                                             ).headers

    async def test_malformed_json_is_said_so_at_line_and_column(self, tiny):
        body = b'{\n  "name": "a",\n  "count": \n}'
        headers = {"content-type": "application/json"}
        en = await tiny.post("/things", content=body, headers=headers)
        assert en.status_code == 400 and en.headers["content-type"] == "application/problem+json"
        assert en.json()["detail"] == "The request body is not valid JSON: line 4, column 1 (Expecting value)."
        assert en.json()["errors"] == [{"field": "body", "message": en.json()["detail"], "code": "json_invalid"}]
        zh = (await tiny.post("/things", content=body, headers={**headers, **ZH})).json()
        assert zh["title"] == "请求体格式错误"
        assert zh["detail"] == zh["errors"][0]["message"] == "请求体不是有效的 JSON：第 4 行第 1 列，此处应为一个值。"

    async def test_domain_error_and_its_field_messages(self, tiny):
        r = await tiny.post("/things", json={"name": "a", "count": 1}, headers=ZH)
        assert r.status_code == 409
        assert r.json()["title"] == "操作冲突" and r.json()["detail"] == "此人群代码已存在。"
        assert r.json()["errors"] == [{"field": "name", "message": "已存在", "code": "duplicate"}]

    async def test_413_unknown_route_and_405(self, tiny):
        r = await tiny.post("/things", content=b"x" * 400, headers={**ZH, "content-type": "application/json"})
        assert r.status_code == 413 and r.json()["title"] == "请求内容过大"
        assert r.json()["detail"] == "请求体超过 300 字节。" and r.json()["errors"][0]["field"] == "body"
        r = await tiny.get("/nowhere", headers=ZH)
        assert r.status_code == 404 and r.json()["title"] == "未找到" and r.json()["detail"] == "未找到。"
        r = await tiny.get("/things", headers=ZH)
        assert r.status_code == 405 and r.json()["title"] == "不支持该请求方法"
        r = await tiny.get("/things", headers={"Accept-Language": "en"})
        assert r.json()["title"] == "Method not allowed"
