"""The services' rollups rebuilt from their raw records, as the write paths would have left them.

A bulk load (bench/province.py) writes records without going through the services, so their
counters are made afterwards, here, in SQL. Each statement mirrors one counting rule:

- cases (services/cases/service/counting.py): beneficiaries.registered on the registration day;
  cases.new and cases.open from the `open` event, cases.closed and -1 cases.open from a `close`
  out of an open status, cases.reopened and +1 cases.open from a `reopen`, all under the case's
  populations snapshot; person_times.casework and resources.linked_yuan from live service records
  under the record's populations; person_times.visit, one per live visit under its populations;
  supervision.sessions, .hours (each session's to the cent) and .cases_reviewed under ALL only;
  person_day from live service records and visits (the migration's backfill).
- projects (services/projects/service/counting.py): groups and group_sessions under the group's
  target population; anonymous headcounts under ALL; each live named attendee +1 person-time under
  ALL and its populations; activities and their resources under ALL; person_day from live
  attendance of live occasions (the migration's backfill); named_count of each live occasion (a
  deleted one keeps the count it had when deleted).
- volunteers (services/volunteers/service/counting.py): volunteers.registered; volunteer.person_times
  from live records whose status counts, on the day the shift starts; volunteer.hours and served_day
  on the days of the shift, a shift past midnight split as services/volunteers/service/shifts.py
  splits it; certified_hours.

Every row carries ALL (shared.stats.ALL) plus one row per population code, as Rollup.add does.
tests/bench/test_rollups.py checks that rebuilding the rollups of a dataset made through the API
gives back the same rollup rows and the same /v1/stats/summary.
"""

from __future__ import annotations

from migrations.common import fill_person_day_sql
from shared.rollup import rebuild_sql
from shared.stats import ALL

OPEN_STATUSES = ("intake", "assessment", "planning", "intervention", "evaluation")
COUNTED_HOURS = ("recorded", "confirmed", "corrected")
CERTIFIED_HOURS = ("confirmed", "corrected")


def _codes(populations: str) -> str:
    """The population codes a delta goes to: ALL, then each of the record's (Rollup.add)."""
    return f"unnest(array_prepend('{ALL}'::varchar, ({populations})::varchar[]))"


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _daily(schema: str, facts: str) -> str:
    """INSERT the sums of `facts` (station_id, station_path, day, metric, population, value) into daily_stat."""
    return f"""
        INSERT INTO {schema}.daily_stat (station_id, day, metric, population, station_path, value)
        SELECT station_id, day, metric, population, max(station_path), sum(value)
        FROM ({facts}) AS f
        GROUP BY station_id, day, metric, population
        HAVING sum(value) <> 0"""


def _person_day(schema: str, served: str) -> str:
    """The migrations' fill of person_day: one row per (station, day, population, person number)."""
    return fill_person_day_sql(schema, served)


CASES = [
    "DELETE FROM cases.daily_stat",
    "DELETE FROM cases.person_day",
    _daily("cases", f"""
        SELECT station_id, station_path, registered_on AS day, 'beneficiaries.registered' AS metric,
               {_codes('populations')} AS population, 1 AS value
        FROM cases.beneficiary WHERE deleted_at IS NULL
        UNION ALL
        SELECT c.station_id, c.station_path, e.occurred_on, m.metric, {_codes('c.populations')}, m.value
        FROM cases.case_event e JOIN cases."case" c ON c.id = e.case_id
        CROSS JOIN LATERAL (VALUES
            ('cases.new', CASE WHEN e.action = 'open' THEN 1 ELSE 0 END),
            ('cases.open', CASE WHEN e.action IN ('open', 'reopen') THEN 1
                                WHEN e.action = 'close' AND e.from_status IN ({_quoted(OPEN_STATUSES)}) THEN -1
                                ELSE 0 END),
            ('cases.closed', CASE WHEN e.action = 'close' AND e.from_status IN ({_quoted(OPEN_STATUSES)})
                                  THEN 1 ELSE 0 END),
            ('cases.reopened', CASE WHEN e.action = 'reopen' THEN 1 ELSE 0 END)) AS m(metric, value)
        WHERE c.deleted_at IS NULL AND m.value <> 0
        UNION ALL
        SELECT station_id, station_path, served_on, 'person_times.casework', {_codes('populations')}, person_times
        FROM cases.service_record WHERE deleted_at IS NULL
        UNION ALL
        SELECT station_id, station_path, served_on, 'resources.linked_yuan', {_codes('populations')}, resources_yuan
        FROM cases.service_record WHERE deleted_at IS NULL AND resources_yuan IS NOT NULL AND resources_yuan <> 0
        UNION ALL
        SELECT station_id, station_path, visited_on, 'person_times.visit', {_codes('populations')}, 1
        FROM cases.visit WHERE deleted_at IS NULL
        UNION ALL
        SELECT station_id, station_path, held_on, m.metric, '{ALL}', m.value
        FROM cases.supervision_record
        CROSS JOIN LATERAL (VALUES
            ('supervision.sessions', 1::numeric),
            ('supervision.hours', round(duration_minutes::numeric / 60, 2)),
            ('supervision.cases_reviewed', cardinality(case_ids)::numeric)) AS m(metric, value)
        WHERE deleted_at IS NULL AND m.value <> 0"""),
    _person_day("cases", """
        SELECT r.station_id, r.station_path, r.served_on AS day, b.person_no AS person, r.populations
        FROM cases.service_record r JOIN cases.beneficiary b ON b.id = r.beneficiary_id
        WHERE r.deleted_at IS NULL
        UNION ALL
        SELECT v.station_id, v.station_path, v.visited_on, b.person_no, v.populations
        FROM cases.visit v JOIN cases.beneficiary b ON b.id = v.beneficiary_id
        WHERE v.deleted_at IS NULL"""),
]

# An occasion (group session or activity) with what its counts need: its day, station, the
# populations its own counts go under, and whether it is live.
_OCCASIONS = """
    SELECT s.id AS session_id, NULL::varchar AS activity_id, s.station_id, s.station_path, s.held_on,
           s.anonymous_count, NULL::numeric AS resources_yuan, 'person_times.group' AS metric,
           CASE WHEN g.target_population IS NULL THEN '{}'::varchar[] ELSE ARRAY[g.target_population] END AS own_pops
    FROM projects.group_session s JOIN projects."group" g ON g.id = s.group_id
    WHERE s.deleted_at IS NULL
    UNION ALL
    SELECT NULL, a.id, a.station_id, a.station_path, a.held_on, a.anonymous_count, a.resources_yuan,
           'person_times.community', '{}'::varchar[]
    FROM projects.activity a WHERE a.deleted_at IS NULL"""


def _attendees(join: str) -> str:
    return f"""
    SELECT o.station_id, o.station_path, o.held_on AS day, o.metric, a.person_no AS person, a.populations
    FROM projects.attendance a JOIN ({_OCCASIONS}) o ON {join}
    WHERE a.deleted_at IS NULL"""


# Named attendees of live occasions; two equi-joins rather than one join on "session or activity",
# so that PostgreSQL can hash-join millions of rows.
_ATTENDEES = (_attendees("o.session_id = a.session_id") + " UNION ALL "
              + _attendees("o.activity_id = a.activity_id"))

PROJECTS = [
    # A bulk load writes attendance without the attendee's person number, which the lookup gives the
    # service: taken from cases here, as ops/person_numbers.py does for rows older than the numbers.
    """UPDATE projects.attendance a SET person_no = b.person_no FROM cases.beneficiary b
       WHERE b.id = a.beneficiary_id AND a.person_no IS DISTINCT FROM b.person_no""",
    "DELETE FROM projects.daily_stat",
    "DELETE FROM projects.person_day",
    "CREATE TEMP TABLE bench_attendee ON COMMIT DROP AS " + _ATTENDEES,
    _daily("projects", f"""
        SELECT station_id, station_path, starts_on AS day, 'groups' AS metric,
               unnest(CASE WHEN target_population IS NULL THEN ARRAY['{ALL}']::varchar[]
                           ELSE ARRAY['{ALL}', target_population]::varchar[] END) AS population, 1 AS value
        FROM projects."group" WHERE deleted_at IS NULL
        UNION ALL
        SELECT o.station_id, o.station_path, o.held_on, m.metric, {_codes('m.pops')}, m.value
        FROM ({_OCCASIONS}) o
        CROSS JOIN LATERAL (VALUES
            (CASE WHEN o.session_id IS NOT NULL THEN 'group_sessions' ELSE 'activities' END, 1::numeric, o.own_pops),
            (o.metric, o.anonymous_count::numeric, '{{}}'::varchar[]),
            ('resources.linked_yuan', coalesce(o.resources_yuan, 0), '{{}}'::varchar[])) AS m(metric, value, pops)
        WHERE m.value <> 0
        UNION ALL
        SELECT station_id, station_path, day, metric, {_codes('populations')}, 1 FROM bench_attendee"""),
    _person_day("projects", """SELECT station_id, station_path, day, person, populations FROM bench_attendee
                                WHERE person IS NOT NULL"""),
    """UPDATE projects.group_session s SET named_count = coalesce(n.count, 0)
       FROM projects.group_session s2 LEFT JOIN (
           SELECT session_id, count(*) FROM projects.attendance
           WHERE deleted_at IS NULL AND session_id IS NOT NULL GROUP BY session_id) n ON n.session_id = s2.id
       WHERE s.id = s2.id AND s.deleted_at IS NULL AND s.named_count IS DISTINCT FROM coalesce(n.count, 0)""",
    """UPDATE projects.activity s SET named_count = coalesce(n.count, 0)
       FROM projects.activity s2 LEFT JOIN (
           SELECT activity_id, count(*) FROM projects.attendance
           WHERE deleted_at IS NULL AND activity_id IS NOT NULL GROUP BY activity_id) n ON n.activity_id = s2.id
       WHERE s.id = s2.id AND s.deleted_at IS NULL AND s.named_count IS DISTINCT FROM coalesce(n.count, 0)""",
]

_COUNTED = f"deleted_at IS NULL AND status IN ({_quoted(COUNTED_HOURS)})"
_MINUTES = "(extract(epoch FROM {0})::int / 60)"
# Each counted record's hours on each day of its shift (shifts.hours_by_day): past midnight, the first
# day's part in proportion to the minutes before midnight, rounded half up to the cent; the rest after.
_SHIFT_DAYS = f"""
    WITH shift AS (
        SELECT volunteer_id, station_id, station_path, served_on, ends_on, hours,
               CASE WHEN ends_on > served_on
                    THEN round(hours * (1440 - {_MINUTES.format("start_time")})
                               / ((ends_on - served_on) * 1440 + {_MINUTES.format("end_time")}
                                  - {_MINUTES.format("start_time")}), 2)
                    ELSE hours END AS first
        FROM volunteers.service_hours WHERE {_COUNTED})
    SELECT volunteer_id, station_id, station_path, served_on AS day, first AS hours FROM shift WHERE first > 0
    UNION ALL
    SELECT volunteer_id, station_id, station_path, ends_on, hours - first FROM shift
    WHERE ends_on > served_on AND hours - first > 0"""

VOLUNTEERS = [
    "DELETE FROM volunteers.daily_stat",
    "DELETE FROM volunteers.served_day",
    _daily("volunteers", f"""
        SELECT station_id, station_path, registered_on AS day, 'volunteers.registered' AS metric,
               '{ALL}' AS population, 1::numeric AS value
        FROM volunteers.volunteer WHERE deleted_at IS NULL
        UNION ALL
        SELECT station_id, station_path, day, 'volunteer.hours', '{ALL}', hours
        FROM ({_SHIFT_DAYS}) AS d
        UNION ALL
        SELECT station_id, station_path, served_on, 'volunteer.person_times', '{ALL}', 1
        FROM volunteers.service_hours WHERE {_COUNTED}"""),
    f"""INSERT INTO volunteers.served_day (volunteer_id, day, station_id, station_path, records, member_no)
        SELECT d.volunteer_id, d.day, d.station_id, max(d.station_path), count(*), min(v.member_no)
        FROM ({_SHIFT_DAYS}) AS d JOIN volunteers.volunteer v ON v.id = d.volunteer_id
        GROUP BY d.volunteer_id, d.day, d.station_id""",
    f"""UPDATE volunteers.volunteer v SET certified_hours = coalesce(h.total, 0)
        FROM volunteers.volunteer v2 LEFT JOIN (
            SELECT volunteer_id, sum(hours) AS total FROM volunteers.service_hours
            WHERE deleted_at IS NULL AND status IN ({_quoted(CERTIFIED_HOURS)}) GROUP BY volunteer_id) h
          ON h.volunteer_id = v2.id
        WHERE v.id = v2.id AND v.certified_hours IS DISTINCT FROM coalesce(h.total, 0)""",
]

ROLLUPS = {"cases": CASES, "projects": PROJECTS, "volunteers": VOLUNTEERS}


async def rebuild(conn, schemas: tuple[str, ...] = ("cases", "projects", "volunteers")) -> None:
    """Rebuild the rollups of `schemas` on an asyncpg connection (the schema owner's), one transaction
    per schema. The rollup by ancestor is recounted from daily_stat in one pass at the end, as
    `haolin rollups rebuild` does (shared.rollup.rebuild_sql), rather than row by row by its trigger."""
    for schema in schemas:
        async with conn.transaction():
            await conn.execute(f"ALTER TABLE {schema}.daily_stat DISABLE TRIGGER USER")
            for statement in ROLLUPS[schema]:
                await conn.execute(statement)
            await conn.execute(f"ALTER TABLE {schema}.daily_stat ENABLE TRIGGER USER")
            for statement in rebuild_sql(schema):
                await conn.execute(statement)
