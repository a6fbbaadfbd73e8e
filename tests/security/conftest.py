"""Fixtures of the privacy tests: the station tree on every service. The callers by role and the
gateway's fixtures are the suites' shared ones (tests/fixtures/)."""

import pytest


@pytest.fixture
async def stations(cases_client, projects_client, volunteers_client, push_tree):
    await push_tree(cases_client, projects_client, volunteers_client)
