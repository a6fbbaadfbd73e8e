"""A dashboard question, and a tablet's sync, asked again compile no SQL: every statement the gateway
and the services run for it is one SQLAlchemy compiled the first time and found in its cache after. A statement
without a cache key (a VALUES list was one) is compiled on every request: at the province that was
about a tenth of the CPU of the projects service and the gateway per summary (docs/performance.md)."""

from __future__ import annotations

import re
import uuid
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.interfaces import CacheStats

from shared import clock
from tests.fixtures.calls import a_project, posted
from tests.test_reset import write_everywhere


SAVEPOINTS = re.compile(r"(RELEASE |ROLLBACK TO )?SAVEPOINT ")


@contextmanager
def compiled_anew():
    """The statements run meanwhile that SQLAlchemy did not find compiled in its cache."""
    found: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        # Savepoints are never cached (SQLAlchemy makes their few words without a compiler's work).
        if context is not None and getattr(context, "compiled", None) is not None \
                and context.cache_hit is not CacheStats.CACHE_HIT and not SAVEPOINTS.match(statement):
            found.append(f"{context.cache_hit.name}: {' '.join(statement.split())[:200]}")

    event.listen(Engine, "after_cursor_execute", seen)
    try:
        yield found
    finally:
        event.remove(Engine, "after_cursor_execute", seen)


async def compiles_nothing_the_third_time(act) -> None:
    # Each statement compiled once, here. Twice: the first answer keeps the distinct sets it built
    # (shared/distinct_sets), and the answers after it read them, with statements of their own.
    await act()
    await act()
    with compiled_anew() as anew:
        await act()
    assert anew == [], "\n".join(anew)


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

    await compiles_nothing_the_third_time(ask_all)


async def test_a_tablets_push_and_pull_again_compile_nothing(gateway, admin_headers, gateway_tree, db):
    from tests.cases.test_sync import tablet_beneficiary, tablet_case, tablet_service_record
    from tests.gateway.test_sync_flow import station_tablet

    township, tablet, head = await station_tablet(gateway, admin_headers, gateway_tree, db)
    today = clock.today()
    project = await posted(gateway, "/v1/projects", a_project("敬老项目"), head)

    async def morning() -> None:
        """A storm tablet's sync (bench/storm.py): pull, a push across two services, pull."""
        await tablet.pull()
        person = tablet_beneficiary(station_id=township["id"])
        case = tablet_case(person["id"], today)
        activity = {"id": f"a-{uuid.uuid4().hex[:10]}", "project_id": project["id"], "station_id": township["id"],
                    "title": "重阳节敬老活动", "kind": "festival", "held_on": today.isoformat(), "anonymous_count": 0}
        await tablet.push({
            "beneficiaries": {"created": [person]}, "cases": {"created": [case]},
            "service_records": {"created": [tablet_service_record(case["id"], today) for _ in range(3)]},
            "activities": {"created": [activity]},
            "attendances": {"created": [{"id": f"att-{uuid.uuid4().hex[:10]}", "activity_id": activity["id"],
                                         "beneficiary_id": person["id"]}]}})
        await tablet.pull()

    await compiles_nothing_the_third_time(morning)
