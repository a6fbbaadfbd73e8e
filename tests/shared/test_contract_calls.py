"""What every contract client shares (shared/contracts/calls.py): one service token per round of
calls, and a failed or late call left out (None) rather than raised."""

import asyncio
import logging

import httpx
import pytest
from pydantic import BaseModel

from shared.contracts.calls import or_none, service_headers, services

log = logging.getLogger("test.contracts")


class Tokens:
    def __init__(self) -> None:
        self.signed = 0

    def service_token(self) -> str:
        self.signed += 1
        return f"token-{self.signed}"


class Clients:
    def client(self, name: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"http://{name}")


class TestHeaders:
    def test_the_service_token_as_bearer(self):
        assert service_headers(Tokens()) == {"Authorization": "Bearer token-1"}

    def test_one_token_for_a_round(self):
        tokens = Tokens()
        asked = services(Clients(), tokens, ["cases", "projects", "volunteers"])
        assert tokens.signed == 1
        assert {s.headers()["Authorization"] for s in asked.values()} == {"Bearer token-1"}
        assert asked["cases"].headers({"X-Device-Token": "d"}) == {"Authorization": "Bearer token-1",
                                                                   "X-Device-Token": "d"}


class Answer(BaseModel):
    rows: list[int]


class TestOrNone:
    async def test_an_answer_passes(self):
        async def ok():
            return 42
        assert await or_none(ok(), "cases", "stats", log, 1.0) == 42

    @pytest.mark.parametrize("error", [httpx.ConnectError("refused"), OSError("reset"), ValueError("not json"),
                                       KeyError("rows")])
    async def test_a_failure_is_none(self, error, caplog):
        async def failing():
            raise error
        assert await or_none(failing(), "cases", "stats", log, 1.0) is None
        assert f"stats: cases failed: {type(error).__name__}" in caplog.text

    async def test_an_answer_not_the_contracts_is_none(self):
        async def wrong():
            return Answer.model_validate({"rows": "many"})
        assert await or_none(wrong(), "cases", "stats", log) is None

    async def test_a_late_call_is_none(self):
        async def late():
            await asyncio.sleep(5)
        assert await or_none(late(), "cases", "stats", log, 0.01) is None

    async def test_other_errors_are_not_hidden(self):
        async def bug():
            raise RuntimeError("a bug")
        with pytest.raises(RuntimeError):
            await or_none(bug(), "cases", "stats", log, 1.0)
