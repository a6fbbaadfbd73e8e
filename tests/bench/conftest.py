"""The known dataset of the dashboard tests, for the loader's check (the gateway's fixtures are the
suites' shared ones, tests/fixtures/gateway.py)."""

from tests.gateway.test_stats import world  # noqa: F401
