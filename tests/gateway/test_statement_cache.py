"""A dashboard question asked again compiles no SQL: every statement the gateway and the services run
for it is one SQLAlchemy compiled the first time and found in its cache the second. A statement
without a cache key (a VALUES list was one) is compiled on every request: at the province that was
about a tenth of the CPU of the projects service and the gateway per summary (docs/performance.md)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.interfaces import CacheStats

from shared import clock
from tests.test_reset import write_everywhere


@contextmanager
def compiled_anew():
    """The statements run meanwhile that SQLAlchemy did not find compiled in its cache."""
    found: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        if context is not None and getattr(context, "compiled", None) is not None \
                and context.cache_hit is not CacheStats.CACHE_HIT:
            found.append(f"{context.cache_hit.name}: {' '.join(statement.split())[:200]}")

    event.listen(Engine, "after_cursor_execute", seen)
    try:
        yield found
    finally:
        event.remove(Engine, "after_cursor_execute", seen)


async def test_a_dashboard_asked_again_compiles_nothing(gateway, admin_headers):
    await write_everywhere(gateway, admin_headers)
    today = clock.today()
    frm = (today - timedelta(days=70)).isoformat()
    asks = [("/v1/stats/summary", {"station_id": 1, "from": frm, "to": today.isoformat()}),
            ("/v1/stats/timeseries", {"metric": "projects.active", "interval": "month", "from": frm}),
            ("/v1/stats/timeseries", {"metric": "person_times.casework", "interval": "day", "by": "population"}),
            ("/v1/stats/breakdown", {"station_id": 1, "metric": "persons", "from": frm}),
            ("/v1/stats/breakdown", {"station_id": 1, "metric": "projects.budget_yuan", "from": frm})]

    async def ask_all() -> None:
        for path, params in asks:
            r = await gateway.get(path, headers=admin_headers, params=params)
            assert r.status_code == 200, r.text
            assert r.json().get("degraded", []) == [], r.text
        await gateway.forget_stats()

    # Each statement compiled once, here. Twice: the first answer keeps the distinct sets it built
    # (shared/distinct_sets), and the answers after it read them, with statements of their own.
    await ask_all()
    await ask_all()
    with compiled_anew() as anew:
        await ask_all()
    assert anew == []
