"""A realistic province, bulk-loaded into the services' own tables.

The station tree (province > cities > counties > townships > villages) goes into the gateway's
`station` table and, with the same change numbers, into every service's replica, so the gateway's
station pusher finds nothing to send. People (beneficiaries, volunteers) are made in Python,
because their ID numbers are sealed with the services' own keys and contexts, and COPYed in.
The high-volume records (cases and their events, service records, projects, groups, sessions,
activities, attendance, volunteer hours) are generated inside PostgreSQL (INSERT ... SELECT over
generate_series): shipping ten million rows through Python would take longer than the rest of
the benchmark on two cores. Secondary indexes and the sync-marker triggers are dropped during
the load and rebuilt after (change_xid still gets its column default). Last, the rollups are
rebuilt from the records exactly as the write paths keep them (bench/rollups.py).

Skew: people live in villages drawn with density ~ 1/sqrt(rank) (the top 1% of villages hold
about 10% of the people); service records pile on some cases (a few clients get most visits);
activity grows over the two years (density rising linearly to today). Populations are drawn
from weighted profiles (elderly and its sub-groups most, then dibao, disability, children).
Random choices are seeded: the same scale gives the same dataset.
"""

from __future__ import annotations

import bisect
import itertools
import random
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone

from shared.crypto import BlindIndex, FieldCipher
from shared.idnumber import check_digit

DAYS = 730  # two years of records, ending today


@dataclass(frozen=True)
class Scale:
    name: str
    cities: int
    counties_per_city: int
    townships_per_county: int
    villages_per_township: int
    beneficiaries: int
    cases: int
    service_records: int
    groups: int  # 8 weekly sessions each, about 8 of 10 members at each
    activities: int  # about 15 named attendees each, plus a headcount
    volunteers: int
    hours: int

    @property
    def stations(self) -> int:
        c = self.cities
        k = c * self.counties_per_city
        t = k * self.townships_per_county
        return 1 + c + k + t + t * self.villages_per_township


SCALES = {
    # Sichuan reported 4,451 nodes; 21 cities here, about 5,000 nodes.
    "province": Scale("province", 21, 9, 5, 4, 1_000_000, 200_000, 4_000_000, 47_000, 200_000, 100_000, 1_000_000),
    "small": Scale("small", 4, 4, 5, 4, 50_000, 10_000, 200_000, 2_350, 10_000, 5_000, 50_000),
    "tiny": Scale("tiny", 2, 2, 2, 2, 1_000, 200, 2_000, 24, 100, 100, 1_000),
}

# Population profiles of a person, with weights (per 100).
PROFILES = [
    (22, ["elderly"]), (8, ["elderly", "elderly_alone"]), (8, ["elderly", "elderly_empty_nest"]),
    (4, ["elderly", "elderly_disabled", "disabled"]), (4, ["elderly", "dibao"]), (6, ["children", "child_left_behind"]),
    (3, ["children", "child_in_difficulty"]), (1, ["children", "orphan"]), (5, ["youth"]), (6, ["disabled"]),
    (2, ["disabled", "disabled_severe", "dibao"]), (6, ["dibao"]), (2, ["dibian"]), (1, ["tekun"]),
    (2, ["hardship_spending"]), (4, ["women_family"]), (1, ["women_family", "women_left_behind"]), (15, []),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何罗高林"
GIVEN = "秀英桂芳建国志强丽华明玉兰淑珍德胜春梅海燕文杰小红永福金花子涵宇轩雨欣浩然思远"
SERVICE_TYPES = ["needs_assessment", "resource_linking", "social_assistance", "elder_child_care",
                 "community_governance", "livelihood_development"]
MODES = ["home_visit", "phone", "office", "online", "outreach"]
HOURS_STATUSES = ["confirmed"] * 70 + ["recorded"] * 25 + ["disputed"] * 4 + ["corrected"] * 1


@dataclass
class StationRow:
    id: int
    parent_id: int | None
    path: str
    kind: str
    name: str
    change_seq: int


def station_tree(scale: Scale) -> list[StationRow]:
    """Breadth first, so parents come before children and ids grow by tier."""
    rows = [StationRow(1, None, "/1/", "province", "四川省社工服务平台", 1)]
    tiers = [("city", scale.cities, "市社工支持中心"), ("county", scale.counties_per_city, "县社工总站"),
             ("township", scale.townships_per_county, "镇街社工服务站"),
             ("village", scale.villages_per_township, "村社区社工服务室")]
    parents = rows[:]
    next_id = 2
    for kind, per_parent, label in tiers:
        children = []
        for parent in parents:
            for i in range(per_parent):
                row = StationRow(next_id, parent.id, f"{parent.path}{next_id}/", kind, f"第{i + 1}{label}-{next_id}",
                                 next_id)
                children.append(row)
                next_id += 1
        rows += children
        parents = children
    return rows


def _growth_day(rng: random.Random, start: date) -> date:
    # Density rising linearly over the window: more records lately, as platforms grow.
    return start + timedelta(days=int(DAYS * rng.random() ** 0.5))


def _id_number(i: int, born: date, area: int) -> str:
    # Unique by (area, sequence): sequence numbers are i's high digits, areas its low ones.
    body = f"{area:06d}{born:%Y%m%d}{(i // 10_000) % 1000:03d}"
    return body + check_digit(body)


class Keys:
    """The services' sealing, from the keys the processes will run with."""

    def __init__(self, field_keys: str, blind_key: str) -> None:
        self.cipher = FieldCipher(field_keys)
        self.blind = BlindIndex(blind_key)


async def _copy(conn, schema: str, table: str, columns: list[str], records) -> int:
    batch, total = [], 0
    for record in records:
        batch.append(record)
        if len(batch) >= 20_000:
            await conn.copy_records_to_table(table, schema_name=schema, columns=columns, records=batch)
            total += len(batch)
            batch = []
    if batch:
        await conn.copy_records_to_table(table, schema_name=schema, columns=columns, records=batch)
        total += len(batch)
    return total


async def load_stations(conn, rows: list[StationRow]) -> None:
    await conn.copy_records_to_table(
        "station", schema_name="gateway", columns=["id", "parent_id", "path", "kind", "name", "change_seq"],
        records=[(r.id, r.parent_id, r.path, r.kind, r.name, r.change_seq) for r in rows])
    await conn.execute("SELECT setval(pg_get_serial_sequence('gateway.station', 'id'), "
                       "(SELECT max(id) FROM gateway.station))")
    await conn.execute("SELECT setval('gateway.station_change_seq', (SELECT max(change_seq) FROM gateway.station))")
    for schema in ("cases", "projects", "volunteers"):
        await conn.copy_records_to_table(
            "station", schema_name=schema, columns=["id", "parent_id", "path", "kind", "name", "change_seq"],
            records=[(r.id, r.parent_id, r.path, r.kind, r.name, r.change_seq) for r in rows])


def _skewed_picker(rng: random.Random, items: list):
    """Draw items with density ~ 1/sqrt(rank), ranks shuffled over the tree."""
    order = items[:]
    rng.shuffle(order)
    n = len(order)
    return lambda: order[min(n - 1, int(n * rng.random() ** 2))]


async def load_beneficiaries(conn, scale: Scale, villages: list[StationRow], keys: Keys, start: date,
                             rng: random.Random) -> None:
    from services.cases.identity import pinyin_keys
    from services.cases.service.beneficiaries import _context

    pick = _skewed_picker(rng, villages)
    weights = list(itertools.accumulate(w for w, _ in PROFILES))
    pinyin = {}

    def rows():
        for i in range(scale.beneficiaries):
            station = pick()
            pid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            pops = PROFILES[bisect.bisect_right(weights, rng.random() * weights[-1])][1]
            elderly = "elderly" in pops
            children = "children" in pops
            age = rng.randint(60, 95) if elderly else rng.randint(3, 15) if children else rng.randint(18, 59)
            born = date(date.today().year - age, rng.randint(1, 12), rng.randint(1, 28))
            name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
            if name not in pinyin:
                pinyin[name] = pinyin_keys(name)
            initials, full = pinyin[name]
            number = _id_number(i, born, 510000 + i % 10_000)
            registered = _growth_day(rng, start)
            yield (pid, station.id, station.path, name, initials, full, ("female", "male")[i % 2], born,
                   keys.cipher.encrypt(number, _context(pid, "id_number")), keys.blind(number, "id_number"),
                   keys.cipher.encrypt(f"{station.name}{rng.randint(1, 30)}组{rng.randint(1, 200)}号",
                                       "cases.beneficiary.address"), pops, registered,
                   f"w-{station.id}-{i % 3}", datetime.combine(registered, datetime.min.time(), timezone.utc))

    columns = ["id", "station_id", "station_path", "name", "name_initials", "name_pinyin", "gender", "birth_on",
               "id_number_enc", "id_number_bidx", "address", "populations", "registered_on", "worker_id",
               "created_at"]
    await _copy(conn, "cases", "beneficiary", columns, rows())


async def load_volunteers(conn, scale: Scale, stations: list[StationRow], keys: Keys, start: date,
                          rng: random.Random) -> None:
    from services.volunteers.service.volunteers import context

    pick = _skewed_picker(rng, stations)
    numbers: dict[tuple[int, int], int] = {}

    def rows():
        for i in range(scale.volunteers):
            station = pick()
            vid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            born = date(date.today().year - rng.randint(18, 70), rng.randint(1, 12), rng.randint(1, 28))
            number = _id_number(i, born, 520000 + i % 10_000)
            registered = _growth_day(rng, start)
            seq = numbers[(station.id, registered.year)] = numbers.get((station.id, registered.year), 0) + 1
            name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
            yield (vid, station.id, station.path, name, "mainland_id",
                   keys.cipher.encrypt(number, context(vid, "id_number")),
                   keys.blind(number, "volunteer.mainland_id"), ("female", "male")[i % 2], born,
                   f"V{station.id}-{registered.year}-{seq:05d}", "active", True, registered)

    columns = ["id", "station_id", "station_path", "name", "id_type", "id_number_enc", "id_number_bidx", "gender",
               "birth_on", "volunteer_number", "status", "disclosure_consent", "registered_on"]
    await _copy(conn, "volunteers", "volunteer", columns, rows())
    # The next volunteer registered through the API draws the number after these.
    await conn.executemany(
        "INSERT INTO volunteers.number_sequence (station_id, kind, year, last) VALUES ($1, 'volunteer', $2, $3)",
        [(s, y, n) for (s, y), n in numbers.items()])


def _sql_records(scale: Scale, start: date, end: date, keys: Keys) -> list[str]:
    """The high-volume records, generated by PostgreSQL from the people already loaded. Free text
    is sealed at rest as the services seal it (one ciphertext per text: the context is the column)."""
    problem = keys.cipher.encrypt("独居，子女在外地；行动不便，需要定期探访和居家安全评估。", "cases.case.presenting_problem")
    visit = keys.cipher.encrypt("入户探访，了解近况，评估居家安全", "cases.service_record.content")
    s, e = f"DATE '{start}'", f"DATE '{end}'"
    growth = f"({s} + floor({DAYS} * sqrt(random()))::int)"  # same shape as _growth_day
    pops_sql = "ARRAY[" + ", ".join(
        "ARRAY[" + ",".join(f"'{p}'" for p in (pops + [""] * (3 - len(pops)))) + "]"
        for w, pops in PROFILES for _ in range(w)) + "]"
    return [
        "CREATE SCHEMA bench",
        # Beneficiaries numbered overall and per station, to draw them by number. (Each random draw below
        # names the row it is drawn for, e.g. `+ 0 * k`: PostgreSQL would otherwise draw once and reuse it.)
        """CREATE TABLE bench.person AS
           SELECT id, station_id, station_path, populations, row_number() OVER (ORDER BY id) AS n,
                  row_number() OVER (PARTITION BY station_id ORDER BY id) AS rn
           FROM cases.beneficiary""",
        "CREATE INDEX ON bench.person (n)",
        "CREATE INDEX ON bench.person (station_id, rn)",
        """CREATE TABLE bench.village AS
           SELECT station_id, max(station_path) AS station_path, count(*) AS people,
                  row_number() OVER (ORDER BY md5(station_id::text)) AS n
           FROM bench.person GROUP BY station_id""",
        # Cases: a beneficiary drawn at random, opened on a growth day; 40% closed later.
        f"""CREATE TABLE bench.case_plan AS
            SELECT o.i, md5('case' || o.i)::uuid::text AS id, p.id AS beneficiary_id, p.station_id, p.station_path,
                   p.populations, o.opened_on,
                   CASE WHEN random() < 0.4 THEN o.opened_on + floor(random() * ({e} - o.opened_on + 1))::int
                   END AS closed_on
            FROM (SELECT i, {growth} AS opened_on, 1 + floor(random() * {scale.beneficiaries})::bigint AS n
                  FROM generate_series(1, {scale.cases}) AS i OFFSET 0) o
            JOIN bench.person p ON p.n = o.n""",
        "CREATE INDEX ON bench.case_plan (i)",
        f"""INSERT INTO cases."case" (id, station_id, station_path, beneficiary_id, title, presenting_problem, status,
                                    risk_level, worker_id, opened_on, closed_on, close_reason, populations,
                                    created_by, updated_by, version)
           SELECT id, station_id, station_path, beneficiary_id, '居家照护个案 ' || i,
                  '{problem}',
                  CASE WHEN closed_on IS NULL THEN 'intervention' ELSE 'closed' END,
                  (ARRAY['low','medium','high','critical'])[1 + i % 4], 'w-' || station_id || '-' || i % 3,
                  opened_on, closed_on, CASE WHEN closed_on IS NOT NULL THEN 'completed' END, populations,
                  'bench', 'bench', CASE WHEN closed_on IS NULL THEN 4 ELSE 6 END
           FROM bench.case_plan""",
        """INSERT INTO cases.case_event (id, station_id, station_path, case_id, action, from_status, to_status,
                                         occurred_on, reason, created_by, updated_by)
           SELECT md5('open' || i)::uuid::text, station_id, station_path, id, 'open', NULL, 'intake', opened_on,
                  NULL, 'bench', 'bench' FROM bench.case_plan
           UNION ALL
           SELECT md5('close' || i)::uuid::text, station_id, station_path, id, 'close', 'evaluation', 'closed',
                  closed_on, 'completed', 'bench', 'bench' FROM bench.case_plan WHERE closed_on IS NOT NULL""",
        # Service records: most visits go to a few cases (the case drawn with density ~ rank^-1/3).
        f"""INSERT INTO cases.service_record (id, station_id, station_path, case_id, beneficiary_id, served_on, mode,
                                             duration_minutes, content, service_type, resources_yuan, person_times,
                                             worker_id, populations, created_by, updated_by)
            SELECT md5('sr' || j)::uuid::text, c.station_id, c.station_path, c.id, c.beneficiary_id,
                   c.opened_on + floor(r.x * (coalesce(c.closed_on, {e}) - c.opened_on + 1))::int,
                   (ARRAY{MODES})[1 + j % 5], 30 + 15 * (j % 6), '{visit}',
                   (ARRAY{SERVICE_TYPES})[1 + j % 6],
                   CASE WHEN j % 20 = 0 THEN 50 * (1 + j % 40) END, 1 + (j % 10 = 0)::int,
                   'w-' || c.station_id || '-' || j % 3, c.populations, 'bench', 'bench'
            FROM (SELECT j, random() AS x, 1 + floor({scale.cases} * power(random(), 1.5))::bigint AS i
                  FROM generate_series(1, {scale.service_records}) AS j OFFSET 0) r
            JOIN bench.case_plan c ON c.i = r.i""",
        # One project per county for the whole window.
        f"""INSERT INTO projects.project (id, station_id, station_path, name, purchaser, operator, starts_on, ends_on,
                                         status, budget_total_yuan, created_by, updated_by)
            SELECT md5('project' || id)::uuid::text, id, path, name || '政府购买社会工作服务项目', '县民政局',
                   '好邻社会工作服务中心', {s}, {e} + 365, 'running', 500000, 'bench', 'bench'
            FROM projects.station WHERE kind = 'county'""",
        # Groups at villages with people, drawn skewed; ten members from the village.
        f"""CREATE TABLE bench.group_plan AS
            SELECT g, md5('group' || g)::uuid::text AS id, v.station_id, v.station_path, v.people,
                   {s} + floor(random() * ({DAYS} - 56))::int AS starts_on,
                   CASE WHEN random() < 0.5 THEN ({pops_sql})[1 + floor(random() * 100)::int][1] END AS target
            FROM (SELECT g, 1 + floor((SELECT count(*) FROM bench.village) * power(random(), 2))::bigint AS n
                  FROM generate_series(1, {scale.groups}) AS g OFFSET 0) r
            JOIN bench.village v ON v.n = r.n""",
        """CREATE TABLE bench.member AS
           SELECT DISTINCT g.id AS group_id, p.id AS beneficiary_id, p.populations
           FROM bench.group_plan g CROSS JOIN generate_series(1, 10) AS k
           CROSS JOIN LATERAL (SELECT 1 + floor(random() * g.people)::bigint + 0 * k AS rn OFFSET 0) r
           JOIN bench.person p ON p.station_id = g.station_id AND p.rn = r.rn""",
        """INSERT INTO projects."group" (id, station_id, station_path, project_id, title, kind, target_population,
                                        planned_sessions, stage, starts_on, members, created_by, updated_by)
           SELECT g.id, g.station_id, g.station_path, md5('project' || split_part(g.station_path, '/', 4))::uuid::text,
                  '长者防诈骗小组 ' || g.g, 'support', nullif(g.target, ''), 8, 'maturity', g.starts_on,
                  coalesce(m.members, '{}'), 'bench', 'bench'
           FROM bench.group_plan g
           -- Aggregated once and joined: a subquery per group scanned all members for each (quadratic:
           -- hours at the province scale).
           LEFT JOIN (SELECT group_id, array_agg(beneficiary_id) AS members FROM bench.member GROUP BY group_id) m
             ON m.group_id = g.id""",
        f"""INSERT INTO projects.group_session (id, station_id, station_path, group_id, project_id, held_on, topic,
                                               anonymous_count, created_by, updated_by)
            SELECT md5('session' || g.id || k)::uuid::text, g.station_id, g.station_path, g.id,
                   md5('project' || split_part(g.station_path, '/', 4))::uuid::text, g.starts_on + 7 * (k - 1),
                   '第' || k || '节', (k % 3 = 0)::int * 2, 'bench', 'bench'
            FROM bench.group_plan g CROSS JOIN generate_series(1, 8) AS k
            WHERE g.starts_on + 7 * (k - 1) <= {e}""",
        """INSERT INTO projects.attendance (id, station_id, station_path, session_id, beneficiary_id, populations,
                                           created_by, updated_by)
           SELECT md5('att' || s.id || m.beneficiary_id)::uuid::text, s.station_id, s.station_path, s.id,
                  m.beneficiary_id, m.populations, 'bench', 'bench'
           FROM projects.group_session s JOIN bench.member m ON m.group_id = s.group_id
           WHERE random() < 0.8""",
        # Activities at villages with people; 5 to 24 named attendees from the village and a headcount.
        f"""CREATE TABLE bench.activity_plan AS
            SELECT a, md5('activity' || a)::uuid::text AS id, v.station_id, v.station_path, v.people,
                   {growth} AS held_on, 5 + floor(random() * 20)::int AS named,
                   floor(random() * 30)::int AS anonymous
            FROM (SELECT a, 1 + floor((SELECT count(*) FROM bench.village) * power(random(), 2))::bigint AS n
                  FROM generate_series(1, {scale.activities}) AS a OFFSET 0) r
            JOIN bench.village v ON v.n = r.n""",
        """INSERT INTO projects.activity (id, station_id, station_path, project_id, title, kind, place, held_on,
                                         anonymous_count, resources_yuan, created_by, updated_by)
           SELECT id, station_id, station_path, md5('project' || split_part(station_path, '/', 4))::uuid::text,
                  '重阳节敬老活动 ' || a, 'festival', '社区活动室', held_on, anonymous,
                  CASE WHEN a % 10 = 0 THEN 100 * (1 + a % 50) END, 'bench', 'bench'
           FROM bench.activity_plan""",
        """INSERT INTO projects.attendance (id, station_id, station_path, activity_id, beneficiary_id, populations,
                                           created_by, updated_by)
           SELECT md5('att' || x.activity_id || x.beneficiary_id)::uuid::text, x.station_id, x.station_path,
                  x.activity_id, x.beneficiary_id, x.populations, 'bench', 'bench'
           FROM (SELECT DISTINCT a.id AS activity_id, a.station_id, a.station_path, p.id AS beneficiary_id,
                                 p.populations
                 FROM bench.activity_plan a CROSS JOIN LATERAL generate_series(1, a.named) AS k
                 CROSS JOIN LATERAL (SELECT 1 + floor(random() * a.people)::bigint + 0 * k AS rn OFFSET 0) r
                 JOIN bench.person p ON p.station_id = a.station_id AND p.rn = r.rn) x""",
        # Volunteer hours at the volunteer's station, a few volunteers doing most shifts.
        """CREATE TABLE bench.volunteer AS
           SELECT id, station_id, station_path, row_number() OVER (ORDER BY id) AS n FROM volunteers.volunteer""",
        "CREATE INDEX ON bench.volunteer (n)",
        f"""INSERT INTO volunteers.service_hours (id, station_id, station_path, volunteer_id, activity_kind,
                                                 served_on, ends_on, hours, content, status, created_by, updated_by)
            SELECT md5('hours' || j)::uuid::text, v.station_id, v.station_path, v.id, 'free_text',
                   greatest(r.day, v2.registered_on), greatest(r.day, v2.registered_on), 0.5 * (1 + j % 8), '助老送餐',
                   (ARRAY{HOURS_STATUSES})[1 + floor(random() * 100)::int], 'bench', 'bench'
            FROM (SELECT j, {growth} AS day, 1 + floor({scale.volunteers} * power(random(), 1.5))::bigint AS n
                  FROM generate_series(1, {scale.hours}) AS j OFFSET 0) r
            JOIN bench.volunteer v ON v.n = r.n
            JOIN volunteers.volunteer v2 ON v2.id = v.id""",
        "DROP SCHEMA bench CASCADE",
    ]


# Tables the load fills: their secondary indexes and sync triggers are set aside meanwhile.
LOADED = [("cases", "beneficiary"), ("cases", "case"), ("cases", "case_event"), ("cases", "service_record"),
          ("projects", "project"), ("projects", "group"), ("projects", "group_session"), ("projects", "activity"),
          ("projects", "attendance"), ("volunteers", "volunteer"), ("volunteers", "service_hours")]


async def _set_aside_indexes(conn) -> list[str]:
    rows = await conn.fetch(
        """SELECT i.schemaname, i.indexname, i.indexdef FROM pg_indexes i
           LEFT JOIN pg_constraint c ON c.conname = i.indexname
             AND c.connamespace = (SELECT oid FROM pg_namespace WHERE nspname = i.schemaname)
           WHERE (i.schemaname, i.tablename) IN (SELECT * FROM unnest($1::text[], $2::text[])) AND c.oid IS NULL""",
        [s for s, _ in LOADED], [t for _, t in LOADED])
    for r in rows:
        await conn.execute(f'DROP INDEX "{r["schemaname"]}"."{r["indexname"]}"')
    for schema, table in LOADED:
        await conn.execute(f'ALTER TABLE {schema}."{table}" DISABLE TRIGGER USER')
    return [r["indexdef"] for r in rows]


async def _restore_indexes(conn, definitions: list[str]) -> None:
    await conn.execute("SET maintenance_work_mem = '256MB'")
    for definition in definitions:
        await conn.execute(definition)
    for schema, table in LOADED:
        await conn.execute(f'ALTER TABLE {schema}."{table}" ENABLE TRIGGER USER')


async def load(dsn: str, scale: Scale, keys: Keys, today: date, seed: int = 7, log=print) -> dict:
    """Fill an empty, migrated database with a province of `scale`; returns what was made."""
    import asyncpg

    from bench import rollups

    start = today - timedelta(days=DAYS - 1)
    rng = random.Random(seed)
    conn = await asyncpg.connect(dsn, command_timeout=None)
    timings = {}
    try:
        await conn.execute(f"SET max_parallel_workers_per_gather = 0; SET work_mem = '64MB'; "
                           f"SELECT setseed({seed / 100})")
        t = time.monotonic()
        tree = station_tree(scale)
        await load_stations(conn, tree)
        villages = [r for r in tree if r.kind == "village"]
        indexes = await _set_aside_indexes(conn)
        await load_beneficiaries(conn, scale, villages, keys, start, rng)
        await load_volunteers(conn, scale, [r for r in tree if r.kind in ("township", "village")], keys, start, rng)
        timings["people_s"] = time.monotonic() - t
        log(f"load: stations and people in {timings['people_s']:.0f} s")
        t = time.monotonic()
        for statement in _sql_records(scale, start, today, keys):
            await conn.execute(statement)
        timings["records_s"] = time.monotonic() - t
        log(f"load: records in {timings['records_s']:.0f} s")
        t = time.monotonic()
        await _restore_indexes(conn, indexes)
        timings["indexes_s"] = time.monotonic() - t
        log(f"load: indexes in {timings['indexes_s']:.0f} s")
        t = time.monotonic()
        await rollups.rebuild(conn)
        timings["rollups_s"] = time.monotonic() - t
        log(f"load: rollups in {timings['rollups_s']:.0f} s")
        t = time.monotonic()
        await conn.execute("VACUUM ANALYZE")
        timings["analyze_s"] = time.monotonic() - t
        counts = {}
        for schema, table in [*LOADED, ("cases", "daily_stat"), ("cases", "person_day"), ("projects", "daily_stat"),
                              ("projects", "person_day"), ("volunteers", "daily_stat"), ("volunteers", "served_day")]:
            counts[f"{schema}.{table}"] = await conn.fetchval(f'SELECT count(*) FROM {schema}."{table}"')
        counts["gateway.station"] = len(tree)
    finally:
        await conn.close()
    return {"scale": asdict(scale), "from": start.isoformat(), "to": today.isoformat(), "counts": counts,
            "timings_s": {k: round(v, 1) for k, v in timings.items()}, "seed": seed}
