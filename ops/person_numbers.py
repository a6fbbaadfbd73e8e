"""Attendance numbered with its attendee's person number, for rows recorded before attendance carried it.

The numbers are the cases service's (beneficiary.person_no); attendance is the projects service's.
Neither service reads the other's tables, a lineage's migration cannot reach another lineage's
database (each may have its own URL), and a service may ask another only as a user through the
gateway; so this step runs where every lineage's URL is known: at the end of ops/migrate.py's
upgrade_all, after every lineage is at head. It is safe to repeat: it numbers only the rows still
without one (none after the first run), and adds their persons to projects' person_day in the same
transaction. It is meant to run before the services start, as `make run` and `haolin migrate` do.
"""

from __future__ import annotations

import asyncpg

from migrations.common import fill_person_day_sql
from shared.db import asyncpg_dsn
from shared.stats import ALL, Metric

# Live attendance with its occasion's station and day (an attendee counts on the day held, at its station).
ATTENDANCE_SOURCE = """
    SELECT o.station_id, o.station_path, o.held_on AS day, a.person_no AS person, a.populations
    FROM projects.attendance a
    JOIN (SELECT id, NULL AS activity_id, station_id, station_path, held_on, deleted_at FROM projects.group_session
          UNION ALL
          SELECT NULL, id, station_id, station_path, held_on, deleted_at FROM projects.activity) o
      ON o.id = a.session_id OR o.activity_id = a.activity_id
    WHERE a.deleted_at IS NULL AND o.deleted_at IS NULL AND a.id = ANY($1::varchar[])"""


async def number_attendance(cases_url: str, projects_url: str) -> int:
    """Number the attendance rows still without a person number; how many were numbered."""
    projects = await asyncpg.connect(asyncpg_dsn(projects_url))
    try:
        ids = [r[0] for r in await projects.fetch(
            "SELECT DISTINCT beneficiary_id FROM projects.attendance WHERE person_no IS NULL")]
        if not ids:
            return 0
        cases = await asyncpg.connect(asyncpg_dsn(cases_url))
        try:
            numbers = await cases.fetch("SELECT id, person_no FROM cases.beneficiary WHERE id = ANY($1::varchar[])",
                                        ids)
        finally:
            await cases.close()
        async with projects.transaction():
            numbered = [r[0] for r in await projects.fetch("""
                UPDATE projects.attendance a SET person_no = n.person_no
                FROM unnest($1::varchar[], $2::integer[]) AS n(id, person_no)
                WHERE a.beneficiary_id = n.id AND a.person_no IS NULL
                RETURNING a.id""", [r["id"] for r in numbers], [r["person_no"] for r in numbers])]
            await projects.execute(fill_person_day_sql("projects", ATTENDANCE_SOURCE), numbered)
            # The persons kept by ancestor and month (shared.distinct_sets) of those days are stale now:
            # a write of nothing to the days' rollup moves the change count they are checked by.
            await projects.execute(f"""
                INSERT INTO projects.daily_stat AS d (station_id, day, metric, population, station_path, value)
                SELECT DISTINCT r.station_id, r.day, '{Metric.person_times_group.value}', '{ALL}', r.station_path, 0
                FROM ({ATTENDANCE_SOURCE}) AS r
                ON CONFLICT (station_id, day, metric, population) DO UPDATE SET value = d.value""", numbered)
        return len(numbered)
    finally:
        await projects.close()
