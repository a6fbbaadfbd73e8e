"""shared/: encryption with key rotation, blind indexes, masking, cursors, problem+json."""

from datetime import date

import httpx
from cryptography.exceptions import InvalidTag
import pytest
from pydantic import BaseModel, ConfigDict

from shared.crypto import BlindIndex, FieldCipher, generate_key, mask
from shared.errors import Conflict, InvalidInput
from shared.pagination import decode_cursor, encode_cursor
from tests.fixtures.calls import bare_app


class TestFieldCipher:
    def test_round_trip_and_nondeterministic(self):
        cipher = FieldCipher(f"k1:{generate_key()}")
        a, b = cipher.encrypt("510104199001011234"), cipher.encrypt("510104199001011234")
        assert a != b and "510104" not in a
        assert cipher.decrypt(a) == cipher.decrypt(b) == "510104199001011234"

    def test_rotation_keeps_old_rows_readable(self):
        old_key, new_key = generate_key(), generate_key()
        stored = FieldCipher(f"k1:{old_key}").encrypt("13800138000")
        rotated = FieldCipher(f"k2:{new_key},k1:{old_key}")
        assert rotated.decrypt(stored) == "13800138000"
        assert rotated.encrypt("x").startswith("k2:")

    def test_context_binds_ciphertext_to_its_field(self):
        cipher = FieldCipher(f"k1:{generate_key()}")
        token = cipher.encrypt("secret", context="id_number")
        with pytest.raises(InvalidTag):
            cipher.decrypt(token, context="phone")

    def test_bad_key_spec_is_refused(self):
        with pytest.raises(ValueError):
            FieldCipher("k1:dG9vc2hvcnQ=")


class TestBlindIndex:
    def test_normalises_case_and_spaces(self):
        index = BlindIndex("k")
        assert index("51010419900101123x", "id") == index(" 51010419900101123X ", "id")
        assert index("5101", "id") != index("5101", "phone")
        assert BlindIndex("other")("5101", "id") != index("5101", "id")


def test_mask():
    assert mask("510104199001011234", keep_start=4) == "5101**********1234"
    assert mask("123") == "***"
    assert mask(None) is None


class TestCursor:
    def test_round_trip(self):
        cursor = encode_cursor([date(2026, 1, 2), "abc", 3])
        assert decode_cursor(cursor, 3) == ["2026-01-02", "abc", 3]

    @pytest.mark.parametrize("bad", ["not-base64!", encode_cursor([1])])
    def test_foreign_cursor_is_422_naming_cursor(self, bad):
        with pytest.raises(InvalidInput) as exc:
            decode_cursor(bad, 2)
        assert exc.value.errors[0]["field"] == "cursor"


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    born_on: date


@pytest.fixture
async def tiny_client():
    app = bare_app(max_body_bytes=200)

    @app.post("/things")
    async def create(thing: Thing) -> Thing:
        if thing.name == "dup":
            raise Conflict("exists", existing_id="abc")
        return thing

    @app.get("/boom")
    async def boom():
        raise RuntimeError("510104199001011234 leaked?")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


class TestProblems:
    async def test_validation_names_the_field(self, tiny_client):
        r = await tiny_client.post("/things", json={"name": "a", "born_on": "yesterday", "extra": 1})
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        fields = {e["field"] for e in r.json()["errors"]}
        assert fields == {"born_on", "extra"}

    async def test_malformed_json_is_400(self, tiny_client):
        r = await tiny_client.post("/things", content=b'{"name": ', headers={"content-type": "application/json"})
        assert r.status_code == 400
        assert r.json()["title"] == "Malformed request body"

    async def test_oversized_body_is_413(self, tiny_client):
        r = await tiny_client.post("/things", json={"name": "x" * 500, "born_on": "2020-01-01"})
        assert r.status_code == 413
        assert r.json()["errors"][0]["field"] == "body"

    async def test_domain_error_carries_extra_members(self, tiny_client):
        r = await tiny_client.post("/things", json={"name": "dup", "born_on": "2020-01-01"})
        assert r.status_code == 409 and r.json()["existing_id"] == "abc"

    async def test_unexpected_error_hides_details(self, tiny_client):
        r = await tiny_client.get("/boom")
        assert r.status_code == 500
        assert "510104" not in r.text and r.json()["title"] == "Internal error"

    async def test_unknown_route_is_problem(self, tiny_client):
        r = await tiny_client.get("/nope")
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"

    async def test_request_id_is_echoed(self, tiny_client):
        r = await tiny_client.get("/healthz", headers={"X-Request-ID": "abc123"})
        assert r.headers["x-request-id"] == "abc123"


def test_json_log_of_an_error_has_no_message_text():
    import logging
    import sys

    from shared.observability import JsonFormatter

    try:
        raise ValueError("510104199001011234")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    line = JsonFormatter().format(record)
    assert "510104" not in line and '"error": "ValueError"' in line and "test_machinery.py" in line
