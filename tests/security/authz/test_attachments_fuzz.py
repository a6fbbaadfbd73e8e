"""Schemathesis on the attachment routes with real records in their paths: the generated cases of
tests/security/authz/test_schemathesis.py mostly meet unknown ids (404); here every path names one
of B's records that carries files (and its file), so generated bodies, purposes, names and ids reach
the upload pipeline and the download itself, called by B's social worker and head."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.security.authz.conftest import World
from tests.security.authz.routes import documented_routes
from tests.security.authz.test_schemathesis import CHECKS, EXAMPLES, SCHEMAS, _httpx_kwargs, _send

ROUTES, _ = documented_routes()
# Not DELETE: a generated If-Match may hit, and B's files must stay for the module's other tests
# (its own test: tests/cases/test_attachments.py).
# The tablets' routes (/v1/sync/attachments) take a device credential: test_schemathesis.py sends one.
ATTACHMENT_ROUTES = [r for r in ROUTES if r.operation is not None and "/attachments" in r.path
                     and r.method != "DELETE" and not r.path.startswith("/v1/sync/")]


@pytest.mark.parametrize("route", ATTACHMENT_ROUTES, ids=lambda r: r.label)
async def test_attachment_operation_keeps_to_its_document_on_real_records(world: World, route):
    operation = SCHEMAS[route.process].find_operation_by_label(f"{route.method} {route.path}")
    client: httpx.AsyncClient = world.clients[route.process]
    loop = asyncio.get_running_loop()
    path = {param: str(world.ids["b"][route.kind_of(param)]) for param in route.params}
    tokens = {"social worker": world.callers["social_worker@B"].headers,
              "head": world.callers["station_head@B"].headers}

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, print_blob=False,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(case=operation.as_strategy(), who=st.sampled_from(sorted(tokens)))
    def run(case, who: str) -> None:
        case.path_parameters = path
        kwargs = _httpx_kwargs(case.as_transport_kwargs(base_url=str(client.base_url), headers=tokens[who]))
        response = asyncio.run_coroutine_threadsafe(_send(client, kwargs), loop).result(timeout=60)
        case.validate_response(response, checks=CHECKS)

    assert len(ATTACHMENT_ROUTES) == 30
    await asyncio.to_thread(run)
