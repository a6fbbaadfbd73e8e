"""The gateway fixtures and the known dataset of the dashboard tests, for the loader's check."""

from tests.gateway.conftest import admin, gateway, gateway_factory, root, tree  # noqa: F401
from tests.gateway.test_stats import world  # noqa: F401
