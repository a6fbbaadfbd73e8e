"""Baselines computed straight from the raw records, across the three schemas (which only a benchmark
may do: the services never read each other's tables). They answer the same figures as the gateway, so
each run also checks the dashboard against the records it stands for.
"""

from __future__ import annotations

from datetime import date

from shared.stats import ALL

# The tables a station tablet syncs (services/*/sync.py), for sizing scenario 5's station.
SYNCED_TABLES = ("cases.beneficiary", 'cases."case"', "cases.service_record", "cases.referral", 'projects."group"',
                 "projects.group_session", "projects.activity", "projects.attendance", "volunteers.volunteer",
                 "volunteers.service_hours")

_LIVE_ATTENDANCE = """
    SELECT a.beneficiary_id, a.populations, o.held_on, o.kind
    FROM projects.attendance a
    JOIN (SELECT id, NULL AS activity_id, held_on, station_path, 'group' AS kind FROM projects.group_session
          WHERE deleted_at IS NULL
          UNION ALL
          SELECT NULL, id, held_on, station_path, 'community' FROM projects.activity WHERE deleted_at IS NULL) o
      ON o.id = a.session_id OR o.activity_id = a.activity_id
    WHERE a.deleted_at IS NULL AND o.station_path LIKE $1 || '%' AND o.held_on BETWEEN $2 AND $3"""

# Persons served: casework clients and named attendees, each once.
_SERVED = f"""
    SELECT beneficiary_id, populations FROM cases.service_record
    WHERE deleted_at IS NULL AND station_path LIKE $1 || '%' AND served_on BETWEEN $2 AND $3
    UNION ALL
    SELECT beneficiary_id, populations FROM ({_LIVE_ATTENDANCE}) x"""

SUMMARY = {
    "person_times.casework": """SELECT coalesce(sum(person_times), 0) FROM cases.service_record
        WHERE deleted_at IS NULL AND station_path LIKE $1 || '%' AND served_on BETWEEN $2 AND $3""",
    "person_times.group": f"""SELECT (SELECT count(*) FROM ({_LIVE_ATTENDANCE}) x WHERE kind = 'group')
        + (SELECT coalesce(sum(anonymous_count), 0) FROM projects.group_session
           WHERE deleted_at IS NULL AND station_path LIKE $1 || '%' AND held_on BETWEEN $2 AND $3)""",
    "person_times.community": f"""SELECT (SELECT count(*) FROM ({_LIVE_ATTENDANCE}) x WHERE kind = 'community')
        + (SELECT coalesce(sum(anonymous_count), 0) FROM projects.activity
           WHERE deleted_at IS NULL AND station_path LIKE $1 || '%' AND held_on BETWEEN $2 AND $3)""",
    "persons": f"SELECT count(DISTINCT beneficiary_id) FROM ({_SERVED}) s",
    "cases.new": """SELECT count(*) FROM cases.case_event e JOIN cases."case" c ON c.id = e.case_id
        WHERE c.deleted_at IS NULL AND e.action = 'open' AND c.station_path LIKE $1 || '%'
        AND e.occurred_on BETWEEN $2 AND $3""",
    "cases.closed": """SELECT count(*) FROM cases.case_event e JOIN cases."case" c ON c.id = e.case_id
        WHERE c.deleted_at IS NULL AND e.action = 'close' AND e.from_status <> 'follow_up'
        AND c.station_path LIKE $1 || '%' AND e.occurred_on BETWEEN $2 AND $3""",
    "cases.open": """SELECT count(*) FROM cases."case" WHERE deleted_at IS NULL AND station_path LIKE $1 || '%'
        AND opened_on <= $3 AND (closed_on IS NULL OR closed_on > $3) AND $2 <= $3""",
    "beneficiaries.registered": """SELECT count(*) FROM cases.beneficiary WHERE deleted_at IS NULL
        AND station_path LIKE $1 || '%' AND registered_on BETWEEN $2 AND $3""",
    "groups": """SELECT count(*) FROM projects."group" WHERE deleted_at IS NULL AND station_path LIKE $1 || '%'
        AND starts_on BETWEEN $2 AND $3""",
    "group_sessions": """SELECT count(*) FROM projects.group_session WHERE deleted_at IS NULL
        AND station_path LIKE $1 || '%' AND held_on BETWEEN $2 AND $3""",
    "activities": """SELECT count(*) FROM projects.activity WHERE deleted_at IS NULL AND station_path LIKE $1 || '%'
        AND held_on BETWEEN $2 AND $3""",
    "resources.linked_yuan": """SELECT (SELECT coalesce(sum(resources_yuan), 0) FROM cases.service_record
            WHERE deleted_at IS NULL AND station_path LIKE $1 || '%' AND served_on BETWEEN $2 AND $3)
        + (SELECT coalesce(sum(resources_yuan), 0) FROM projects.activity
            WHERE deleted_at IS NULL AND station_path LIKE $1 || '%' AND held_on BETWEEN $2 AND $3)""",
    "volunteers.registered": """SELECT count(*) FROM volunteers.volunteer WHERE deleted_at IS NULL
        AND station_path LIKE $1 || '%' AND registered_on BETWEEN $2 AND $3""",
    "volunteers.active": """SELECT count(DISTINCT volunteer_id) FROM volunteers.service_hours
        WHERE deleted_at IS NULL AND status IN ('recorded', 'confirmed', 'corrected')
        AND station_path LIKE $1 || '%' AND served_on BETWEEN $2 AND $3""",
    # By the day a shift starts: the bench loads no shift past midnight (bench/rollups.py splits those).
    "volunteer.hours": """SELECT coalesce(sum(hours), 0) FROM volunteers.service_hours
        WHERE deleted_at IS NULL AND status IN ('recorded', 'confirmed', 'corrected')
        AND station_path LIKE $1 || '%' AND served_on BETWEEN $2 AND $3""",
    "volunteer.person_times": """SELECT count(*) FROM volunteers.service_hours
        WHERE deleted_at IS NULL AND status IN ('recorded', 'confirmed', 'corrected')
        AND station_path LIKE $1 || '%' AND served_on BETWEEN $2 AND $3""",
}

# The splits by population the summary also shows, for the two figures that cost the most.
BY_POPULATION = {
    "person_times.casework": """SELECT p, sum(person_times) FROM cases.service_record,
        unnest(populations) AS p WHERE deleted_at IS NULL AND station_path LIKE $1 || '%'
        AND served_on BETWEEN $2 AND $3 GROUP BY p""",
    "persons": f"""SELECT p, count(DISTINCT beneficiary_id) FROM ({_SERVED}) s, unnest(s.populations) AS p
        GROUP BY p""",
}


async def summary(dsn: str, path: str, frm: date, to: date) -> dict:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET max_parallel_workers_per_gather = 0")  # like the services' queries: one core
        out = {name: float(await conn.fetchval(sql, path, frm, to)) for name, sql in SUMMARY.items()}
        out["by_population"] = {name: {r[0]: float(r[1]) for r in await conn.fetch(sql, path, frm, to)}
                                for name, sql in BY_POPULATION.items()}
    finally:
        await conn.close()
    return out


async def persons(dsn: str, path: str, frm: date, to: date) -> int:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET max_parallel_workers_per_gather = 0")
        return int(await conn.fetchval(SUMMARY["persons"], path, frm, to))
    finally:
        await conn.close()


def compare(figures: dict, computed: dict) -> dict:
    """Which of the gateway's figures differ from the raw SQL's; persons within the estimate's bounds."""
    differ = {}
    for name in SUMMARY:
        shown = figures[name]
        if name == "persons" and not shown.get("exact", True):
            if not shown["lower"] <= computed[name] <= shown["upper"]:
                differ[name] = (shown["value"], computed[name])
        elif shown["value"] is None or abs(float(shown["value"]) - computed[name]) > 0.005:
            differ[name] = (shown["value"], computed[name])
    pops = figures["person_times.casework"]["by_population"]
    if {k: float(v) for k, v in pops.items()} != {k: v for k, v in computed["by_population"]["person_times.casework"]
                                                  .items() if k != ALL}:
        differ["person_times.casework.by_population"] = "differs"
    return {"agree": not differ, "differ": differ}
