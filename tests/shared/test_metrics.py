"""/metrics of the shared machinery (Prometheus text format): a request moves its route's counter
and latency histogram, labelled by the route's template; a 4xx or 500 moves the error count;
/metrics does not answer through a proxy or to a public address. Every real process:
tests/gateway/test_observability.py.
"""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.app import build_app
from shared.config import ServiceSettings
from shared.observability import HttpMetrics

Samples = dict[tuple[str, frozenset], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    r = await client.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def value(samples: Samples, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


@pytest.fixture
async def tiny():
    """An app of the shared machinery alone, with routes that fail."""

    @asynccontextmanager
    async def lifespan(app):
        yield

    app = build_app(title="t", service="t", settings=ServiceSettings(), lifespan=lifespan)

    @app.get("/things/{thing_id}")
    async def thing(thing_id: int) -> dict:
        return {"id": thing_id}

    @app.get("/boom")
    async def boom():
        raise RuntimeError("no")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        client.app = app
        yield client


class TestRequestMetrics:
    async def test_a_request_moves_its_routes_counter_and_histogram(self, tiny):
        before = await scrape(tiny)
        for i in (1, 2, 3):
            assert (await tiny.get(f"/things/{i}")).status_code == 200
        after = await scrape(tiny)
        route = {"route": "/things/{thing_id}", "method": "GET"}
        assert moved(before, after, "haolin_http_requests_total", **route, status_class="2xx") == 3
        assert moved(before, after, "haolin_http_request_duration_seconds_count", **route) == 3
        assert moved(before, after, "haolin_http_request_duration_seconds_bucket", **route, le="+Inf") == 3
        assert moved(before, after, "haolin_http_request_duration_seconds_sum", **route) > 0
        assert not any(name == "haolin_http_errors_total" and ("route", "/things/{thing_id}") in labels
                       for name, labels in after)
        # The template, not the path: ids make no series of their own.
        assert all(dict(labels).get("route") not in ("/things/1", "/things/2") for _, labels in after)

    async def test_a_500_and_a_4xx_move_the_error_count(self, tiny):
        before = await scrape(tiny)
        assert (await tiny.get("/boom")).status_code == 500
        assert (await tiny.get("/things/not-a-number")).status_code == 422
        after = await scrape(tiny)
        assert moved(before, after, "haolin_http_errors_total", route="/boom", method="GET", status="500") == 1
        assert moved(before, after, "haolin_http_requests_total", route="/boom", method="GET",
                     status_class="5xx") == 1
        assert moved(before, after, "haolin_http_errors_total", route="/things/{thing_id}", method="GET",
                     status="422") == 1
        assert moved(before, after, "haolin_http_request_duration_seconds_count", route="/boom", method="GET") == 1

    async def test_unmatched_paths_share_one_series(self, tiny):
        before = await scrape(tiny)
        for path in ("/wp-admin/1", "/.env", f"/{uuid.uuid4()}"):
            assert (await tiny.get(path)).status_code == 404
        after = await scrape(tiny)
        assert moved(before, after, "haolin_http_errors_total", route="unmatched", method="GET", status="404") == 3
        # One series for them all, not one per path.
        assert {dict(labels).get("route") for _, labels in after} - {None} == {"/metrics", "unmatched"}

    async def test_not_for_the_public_side(self, tiny):
        r = await tiny.get("/metrics", headers={"X-Forwarded-For": "120.24.10.9"})
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
        public = httpx.ASGITransport(app=tiny.app, client=("120.24.10.9", 40000))
        async with httpx.AsyncClient(transport=public, base_url="http://t") as outsider:
            assert (await outsider.get("/metrics")).status_code == 404
        lan = httpx.ASGITransport(app=tiny.app, client=("192.168.1.20", 40000))
        async with httpx.AsyncClient(transport=lan, base_url="http://t") as scraper:
            assert (await scraper.get("/metrics")).status_code == 200


def test_latency_buckets_are_cumulative_and_statuses_merge_per_route():
    metrics = HttpMetrics()
    for status, seconds in ((200, 0.003), (200, 0.02), (404, 0.005), (500, 20.0), (201, 0.7)):
        metrics.observe("/v1/x/{id}", "POST", status, seconds)
    metrics.observe("/v1/x/{id}", "BREW", 200, 0.001)  # an unknown method joins "other"
    families = {f.name: f for f in metrics.collect()}
    buckets = {s.labels["le"]: s.value for s in families["haolin_http_request_duration_seconds"].samples
               if s.name.endswith("_bucket") and s.labels["method"] == "POST"}
    assert buckets["0.005"] == 2 and buckets["0.025"] == 3 and buckets["1.0"] == 4 and buckets["10.0"] == 4
    assert buckets["+Inf"] == 5
    requests = {(s.labels["method"], s.labels["status_class"]): s.value
                for s in families["haolin_http_requests"].samples if s.name.endswith("_total")}
    assert requests == {("POST", "2xx"): 3, ("POST", "4xx"): 1, ("POST", "5xx"): 1, ("other", "2xx"): 1}
    errors = {s.labels["status"]: s.value for s in families["haolin_http_errors"].samples if s.name.endswith("_total")}
    assert errors == {"404": 1, "500": 1}
