"""The platform as real processes, for faults that only real processes have: a service
killed (SIGKILL) or frozen (SIGSTOP) while the gateway waits on it, a database that goes
away under the processes' connection pools.

Each process is `python -m shared.server <module>:main` on a free port, as `make run` starts it,
against the test database (tests/fixtures/platform.py). Timeouts are shortened so a fault shows
within seconds.
"""

from __future__ import annotations

import httpx
import pytest

# The machinery, imported by the reliability tests from here.
from tests.fixtures.platform import (  # noqa: F401
    MODULES,
    SERVICES,
    STATS_TIMEOUT_S,
    UPSTREAM_TIMEOUT_S,
    Platform,
    Process,
    platform_env,
    quiet,
    seed_root,
    start_platform,
)


@pytest.fixture(scope="module")
async def platform(database_url, tmp_path_factory):
    platform = await start_platform(database_url, tmp_path_factory.mktemp("platform"))
    try:
        yield platform
    finally:
        platform.stop()


@pytest.fixture
async def live(platform: Platform):
    """The platform up, with the root station (id 1, '/1/') in the gateway and in every
    service's replica: every test starts from truncated tables."""
    await platform.ensure_up()
    await seed_root(platform)
    yield platform
    await quiet(platform.env["DATABASE_URL"])


def problem(r: httpx.Response, status: int | tuple[int, ...]) -> dict:
    """The body of a problem+json answer with that status (or one of those)."""
    statuses = (status,) if isinstance(status, int) else status
    assert r.status_code in statuses, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == r.status_code and body["title"] and body["type"], body
    assert "Traceback" not in r.text
    return body
