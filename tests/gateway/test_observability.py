"""/metrics and JSON access logs of the real processes: the gateway and the three services.

Each process counts requests by route template, times them and counts errors, and shows its
database pools; one request id follows a request from the gateway into the service.
"""

from __future__ import annotations

import io
import json
import logging
import uuid

from shared.observability import JsonFormatter
from tests.shared.test_metrics import moved, scrape, value


class TestEveryProcess:
    async def test_routes_errors_and_pools(self, cases_client, projects_client, volunteers_client, gateway,
                                           token_for):
        worker = token_for("social_worker", 1, "/1/")
        missing = str(uuid.uuid4())
        for client, route in ((cases_client, "/v1/cases/{case_id}"),
                              (projects_client, "/v1/projects/{project_id}"),
                              (volunteers_client, "/v1/volunteers/{volunteer_id}")):
            path = route.split("{")[0] + missing
            before = await scrape(client)
            assert (await client.get(path, headers=worker)).status_code == 404
            after = await scrape(client)
            assert moved(before, after, "haolin_http_requests_total", route=route, method="GET",
                         status_class="4xx") == 1, route
            assert moved(before, after, "haolin_http_errors_total", route=route, method="GET", status="404") == 1
            assert moved(before, after, "haolin_http_request_duration_seconds_count", route=route, method="GET") == 1
            # The engine's pool and the raw read pool: its size and use.
            state = client._transport.app.state
            assert value(after, "haolin_db_pool_max", pool="engine") == state.settings.db_pool_size + \
                state.settings.db_max_overflow
            if state.db.read_pool is not None:  # the services whose by-id reads skip SQLAlchemy
                assert value(after, "haolin_db_pool_max", pool="read") == state.settings.db_pool_size
                assert value(after, "haolin_db_pool_open", pool="read") >= 1
            assert value(after, "haolin_db_pool_open", pool="engine") >= 1
            assert 0 <= value(after, "haolin_db_pool_checked_out", pool="engine") <= \
                value(after, "haolin_db_pool_open", pool="engine")
            assert missing not in str(after)

        # The gateway: its own routes by template; a proxied path under its prefix's route.
        admin = await gateway.admin()
        before = await scrape(gateway)
        assert (await gateway.get("/v1/stations/999999", headers=admin)).status_code == 404
        assert (await gateway.get(f"/v1/cases/{missing}", headers=admin)).status_code == 404
        assert (await gateway.get("/v1/stations", headers=admin)).status_code == 200
        assert (await gateway.get("/v1/cases", headers=admin)).status_code == 200
        after = await scrape(gateway)
        assert moved(before, after, "haolin_http_errors_total", route="/v1/stations/{station_id}", method="GET",
                     status="404") == 1
        assert moved(before, after, "haolin_http_errors_total", route="/v1/cases/{rest:path}", method="GET",
                     status="404") == 1
        assert moved(before, after, "haolin_http_requests_total", route="/v1/stations", method="GET",
                     status_class="2xx") == 1
        assert moved(before, after, "haolin_http_requests_total", route="/v1/cases", method="GET",
                     status_class="2xx") == 1
        assert value(after, "haolin_db_pool_open", pool="engine") >= 1
        assert missing not in str(after)


class TestJsonLogs:
    async def test_one_request_id_through_the_gateway_and_the_service(self, gateway):
        """Each process logs one JSON line per request with the caller's request id; no query string."""
        admin = await gateway.admin()
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter())
        access = logging.getLogger("haolin.access")
        access.addHandler(handler)
        level = access.level
        access.setLevel(logging.INFO)
        try:
            r = await gateway.get("/v1/beneficiaries", params={"q": "张三丰"},
                                  headers={**admin, "X-Request-ID": "trace-me-42"})
        finally:
            access.removeHandler(handler)
            access.setLevel(level)
        assert r.status_code == 200 and r.headers["x-request-id"] == "trace-me-42"
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
        mine = [entry for entry in lines if entry["request_id"] == "trace-me-42"]
        assert {e["service"] for e in mine} == {"gateway", "cases"}
        assert all(e["path"] == "/v1/beneficiaries" and e["status"] == 200 and e["level"] == "INFO"
                   and e["ts"].endswith("Z") for e in mine)
        assert "张三丰" not in stream.getvalue() and "q=" not in stream.getvalue()
