"""Fixtures of the privacy tests: a station tree on every service and callers by role."""

import pytest

from services.cases.identity import check_digit
# The gateway wired to the in-process services, its admin and station tree, as the gateway tests have them.
from tests.gateway.conftest import admin, gateway, gateway_factory, root, tree  # noqa: F401

TREE = ("/1/", "/1/2/", "/1/3/")


def id_number(first17: str) -> str:
    return first17 + check_digit(first17)


@pytest.fixture
async def stations(cases_client, projects_client, volunteers_client, push_stations):
    for client in (cases_client, projects_client, volunteers_client):
        await push_stations(client, *TREE)


@pytest.fixture
def worker(token_for):
    return token_for("social_worker", 2, "/1/2/", user_id="w2")


@pytest.fixture
def supervisor(token_for):
    return token_for("supervisor", 2, "/1/2/", user_id="s2")


@pytest.fixture
def admin_token(token_for):
    return token_for("admin", 1, "/1/", user_id="a1")


@pytest.fixture
def official(token_for):
    return token_for("official", 1, "/1/", user_id="o1")
