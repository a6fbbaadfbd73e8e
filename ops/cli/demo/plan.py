"""What the demo writes, as plain request bodies: made from a fixed seed and today's date, so a
second run asks for the same records under the same client-made ids (the API answers those
with the record it has instead of a duplicate)."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from lunar_python import Lunar

from ops.cli.demo import names
from shared.idnumber import check_digit

NAMESPACE = uuid.UUID("6f1d3c1e-5b1a-4f0e-9a57-68616f6c696e")


def demo_id(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, ":".join(str(p) for p in parts)))


@dataclass(frozen=True)
class Size:
    # (county code, townships taken, villages taken per township)
    counties: tuple[tuple[str, int, int], ...]
    people_per_village: int
    cases_per_township: int
    groups_per_township: int
    sessions_per_group: int
    activities_per_village: int
    volunteers_per_township: int
    shifts_per_volunteer: int


SIZES = {
    # For the test suite: every method and case state, in seconds.
    "tiny": Size((("510108", 1, 1),), 9, 9, 1, 2, 1, 2, 2),
    "small": Size((("510108", 2, 2), ("510107", 2, 2), ("510703", 2, 2)), 12, 10, 2, 6, 3, 5, 8),
    "medium": Size(tuple((c[1], 3, 3) for city in names.TREE for c in city[2]), 17, 14, 3, 8, 5, 8, 12),
}

# The state each case is left in, cycled: every step of MZ/T 094-2017 appears.
CASE_STATES = ["intervention", "closed", "intake", "assessment", "planning", "evaluation", "follow_up",
               "reopened", "referred", "intervention", "closed", "planning", "intervention", "follow_up"]
STEPS = {
    "intake": [], "assessment": ["assess"], "planning": ["assess", "plan"],
    "intervention": ["assess", "plan", "intervene"], "evaluation": ["assess", "plan", "intervene", "evaluate"],
    "closed": ["assess", "plan", "intervene", "evaluate", "close"],
    "follow_up": ["assess", "plan", "intervene", "evaluate", "close", "follow-up"],
    "referred": ["assess", "plan", "intervene", "close"],
    "reopened": ["assess", "close", "reopen"],
}
CLOSE_REASON = {"closed": "completed", "follow_up": "completed", "referred": "referred", "reopened": "unreachable"}
# (lunar month, day) of the festivals the demo's activities celebrate.
LUNAR_FESTIVALS = {"mid_autumn": (8, 15), "double_ninth": (9, 9)}
# How far along each county's project is against its contract targets, cycled over the counties:
# a year in, one is past its targets, one nearly there, one well behind.
COMPLETION = (1.04, 0.83, 0.62, 0.94, 0.71, 1.12)
# How busy each county's stations are (cases and activities against the size's numbers), cycled:
# counties of one province do not all do the same amount of work.
PACE = (1.0, 0.8, 1.25, 0.9, 1.15)
# Where each case's step leaves it, to resume a walk a previous run left half done.
AFTER = {"assess": "assessment", "plan": "planning", "intervene": "intervention", "evaluate": "evaluation",
         "close": "closed", "follow-up": "follow_up", "reopen": "assessment"}


@dataclass
class Place:
    name: str
    code: str
    kind: str
    parent_code: str | None
    pinyin: str = ""
    id: int | None = None  # filled in once the station exists


@dataclass
class DemoUser:
    username: str
    display_name: str
    role: str
    station_code: str


@dataclass
class CasePlan:
    body: dict
    steps: list[tuple[str, dict]]  # (action, body) in order
    records: list[tuple[str, dict]]  # (path under the case, body): assessments, plans, service records...


@dataclass
class GroupPlan:
    body: dict
    sessions: list[dict]


@dataclass
class TownshipPlan:
    township: Place
    villages: list[Place]
    worker: str
    beneficiaries: list[dict] = field(default_factory=list)
    cases: list[CasePlan] = field(default_factory=list)
    groups: list[GroupPlan] = field(default_factory=list)
    activities: list[dict] = field(default_factory=list)
    team: dict | None = None
    volunteers: list[dict] = field(default_factory=list)
    hours: list[tuple[dict, bool]] = field(default_factory=list)  # (body, confirm)
    # The civil-affairs roster of the township (CSV text and its date) and visits of its people.
    roster: tuple[str, date] | None = None
    visits: list[tuple[str, dict]] = field(default_factory=list)  # (beneficiary id, body)

    def operations(self) -> int:
        return (len(self.beneficiaries) + sum(1 + len(c.steps) + len(c.records) for c in self.cases)
                + sum(1 + len(g.sessions) for g in self.groups) + len(self.activities) + 1
                + 2 * len(self.volunteers) + sum(2 if confirm else 1 for _, confirm in self.hours)
                + (1 if self.roster else 0) + len(self.visits))


@dataclass
class CountyPlan:
    county: Place
    head: str
    project: dict
    townships: list[TownshipPlan]


@dataclass
class Plan:
    places: list[Place]  # parents first
    users: list[DemoUser]
    counties: list[CountyPlan]
    official: str
    volunteer_login: str
    today: date

    def operations(self) -> int:
        return sum(2 + sum(t.operations() for t in c.townships) for c in self.counties)


class _People:
    """Invented people with checksum-valid ID numbers (GB 11643) of their county."""

    def __init__(self, rng: random.Random, today: date) -> None:
        self.rng, self.today, self.serial = rng, today, 0

    def person(self, county_code: str, ages: tuple[int, int], gender: str | None = None) -> dict:
        rng = self.rng
        gender = gender or rng.choice(("female", "male"))
        age = rng.randint(*ages)
        born = self.today - timedelta(days=age * 365 + rng.randint(30, 330))
        era = "old" if age >= 55 else "young" if age < 20 else "mid"
        name = rng.choice(names.SURNAMES) + rng.choice(names.GIVEN[(gender, era)])
        self.serial += 1
        # Odd 17th digit for men, even for women, as on a real card.
        order = (self.serial * 2 + (1 if gender == "male" else 0)) % 1000
        first17 = f"{county_code}{born:%Y%m%d}{order:03d}"
        phone = f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}"
        return {"name": name, "gender": gender, "birth_on": born.isoformat(),
                "id_number": first17 + check_digit(first17), "phone": phone}


def _recent(rng: random.Random, today: date, within: int, at_least: int = 0) -> date:
    """A past day, more often recent: a dashboard opened today shows this year's work."""
    span = max(within - at_least, 0)
    return today - timedelta(days=at_least + int(span * rng.random() ** 1.7))


def build(size_name: str, today: date, root_code: str | None = None) -> Plan:
    size = SIZES[size_name]
    rng = random.Random(f"haolin-demo-{size_name}")
    people = _People(rng, today)
    wanted = {code: (t, v) for code, t, v in size.counties}
    places: list[Place] = []
    users: list[DemoUser] = [DemoUser("demo.official", "省民政厅 " + _name(rng), "official", root_code or "root")]
    counties: list[CountyPlan] = []
    volunteer_login = None
    volunteer_given = False
    for city_name, city_code, county_list in names.TREE:
        chosen = [c for c in county_list if c[1] in wanted]
        if not chosen:
            continue
        city = Place(city_name, city_code, "city", None)
        places.append(city)
        city_py = {"510100": "chengdu", "510700": "mianyang", "511100": "leshan"}[city_code]
        users.append(DemoUser(f"demo.{city_py}.official", f"{city_name}民政局 {_name(rng)}", "official", city_code))
        for county_name, county_code, county_py, townships in chosen:
            n_towns, n_villages = wanted[county_code]
            county = Place(county_name + "社工总站", county_code, "county", city_code, county_py)
            places.append(county)
            head = f"demo.{county_py}.head"
            users.append(DemoUser(head, _name(rng), "station_head", county_code))
            users.append(DemoUser(f"demo.{county_py}.supervisor", _name(rng), "supervisor", county_code))
            plans = []
            for t_index, (town_name, town_py, villages) in enumerate(townships[:n_towns], start=1):
                town_code = f"{county_code}{t_index:03d}"
                town = Place(town_name + "社工服务站", town_code, "township", county_code, town_py)
                places.append(town)
                worker = f"demo.{town_py}.sw1"
                users += [DemoUser(f"demo.{town_py}.head", _name(rng), "station_head", town_code),
                          DemoUser(worker, _name(rng), "social_worker", town_code),
                          DemoUser(f"demo.{town_py}.sw2", _name(rng), "social_worker", town_code)]
                vplaces = []
                for v_index, village in enumerate(villages[:n_villages], start=1):
                    vplace = Place(village + "社工服务室", f"{town_code}{v_index:03d}", "village", town_code)
                    places.append(vplace)
                    vplaces.append(vplace)
                plans.append(TownshipPlan(town, vplaces, worker))
                if volunteer_login is None:
                    volunteer_login = f"demo.{town_py}.volunteer"
                    users.append(DemoUser(volunteer_login, _name(rng), "volunteer", town_code))
            project_id = demo_id("project", county_code)
            pace = PACE[len(counties) % len(PACE)]
            county_size = replace(size, cases_per_township=round(size.cases_per_township * pace),
                                  activities_per_village=max(1, round(size.activities_per_village * pace)))
            for plan in plans:
                login = volunteer_login if not volunteer_given else None
                volunteer_given = True
                _township(rng, people, county_size, plan, county_code, project_id, today, login)
            completion = COMPLETION[len(counties) % len(COMPLETION)]
            project = _project(rng, project_id, county, city_name, plans, today, completion)
            counties.append(CountyPlan(county, head, project, plans))
    return Plan(places, users, counties, "demo.official", volunteer_login or "", today)


def _name(rng: random.Random) -> str:
    return rng.choice(names.SURNAMES) + rng.choice(names.GIVEN[(rng.choice(("female", "male")), "mid")])


def _project(rng: random.Random, project_id: str, county: Place, city_name: str, towns: list[TownshipPlan],
             today: date, completion: float) -> dict:
    """The county's contract, its targets set so that the planned work reaches about `completion`
    of each (a little more on some, less on others, as in a real project)."""
    starts = today - timedelta(days=364)
    n = len(towns)
    cases = [c for t in towns for c in t.cases]
    done = {
        "groups": sum(1 for t in towns for g in t.groups if len(g.sessions) >= 4 and len(g.body["members"]) >= 5),
        "activities": sum(len(t.activities) for t in towns),
        # As the progress endpoint counts it for a project: the people with a case in it.
        "cases.beneficiaries": len({c.body["beneficiary_id"] for c in cases}),
        "person_times.casework": sum(body.get("person_times", 0) for c in cases for kind, body in c.records
                                     if kind == "service-records"),
        "cases.full": sum(1 for c in cases if sum(kind == "service-records" for kind, _ in c.records) >= 5),
    }
    conditions = {"groups": {"min_sessions": 4, "min_members": 5}, "activities": {"min_participants": 8},
                  "cases.full": {"min_sessions": 5}}

    def target(metric: str) -> str:
        return str(max(1, round(done[metric] / (completion * rng.uniform(0.9, 1.1)))))

    return {
        "id": project_id, "_station": county.code,
        "name": f"{county.name.removesuffix('社工总站')}{starts.year}-{starts.year + 1}年度社工站建设项目",
        "purchaser": f"{county.name.removesuffix('社工总站')}民政局", "operator": names.OPERATORS[city_name],
        "_covered": [t.township.code for t in towns],
        "starts_on": starts.isoformat(), "ends_on": (starts + timedelta(days=365)).isoformat(),
        "budget": [{"source": "civil_affairs", "amount_yuan": str(500_000 * n)},
                   {"source": "womens_federation", "amount_yuan": "30000"},
                   {"source": "charity", "amount_yuan": "20000"}],
        "targets": [{"metric": metric, "target": target(metric), **({"conditions": conditions[metric]}
                                                                    if metric in conditions else {})}
                    for metric in done],
        "notes": "演示数据 (haolin demo)",
    }


def _festival(which: str, today: date) -> date:
    """The festival's last day on or before today (its day of the Chinese calendar this year or last)."""
    month, day = LUNAR_FESTIVALS[which]
    for year in (today.year, today.year - 1):
        solar = Lunar.fromYmd(year, month, day).getSolar()
        held = date(solar.getYear(), solar.getMonth(), solar.getDay())
        if held <= today:
            return held
    raise AssertionError("a lunar festival falls once in every solar year")


def _held_on(rng: random.Random, today: date, when: str | None) -> date:
    if when in LUNAR_FESTIVALS:
        return _festival(when, today)
    if when == "summer":
        year = today.year if today >= date(today.year, 7, 1) else today.year - 1
        first, last = date(year, 7, 1), min(date(year, 8, 31), today)
        return first + timedelta(days=rng.randint(0, (last - first).days))
    return _recent(rng, today, 360)


def _present(rng: random.Random, local: list[tuple[dict, list[str]]], day: date, k: int) -> list[dict]:
    """Up to k named attendees of an activity: people of the village registered by then (the rest
    of the crowd is the anonymous headcount)."""
    known = [b for b, _ in local if b["registered_on"] <= day.isoformat()]
    return rng.sample(known, k=min(k, len(known)))


def _register_before_served(plan: TownshipPlan) -> None:
    """A person served before the day drawn for their registration was registered that first day
    (a case opened for someone new, a walk-in at a group): a file is never younger than its work."""
    first: dict[str, str] = {}

    def served(person_id: str, on: str) -> None:
        first[person_id] = min(on, first.get(person_id, on))

    for case in plan.cases:
        served(case.body["beneficiary_id"], case.body["opened_on"])
    for group in plan.groups:
        for session in group.sessions:
            for a in session["attendees"]:
                served(a["beneficiary_id"], session["held_on"])
    for activity in plan.activities:
        for a in activity["attendees"]:
            served(a["beneficiary_id"], activity["held_on"])
    for body in plan.beneficiaries:
        if body["id"] in first and first[body["id"]] < body["registered_on"]:
            body["registered_on"] = first[body["id"]]
            for consent in body["consents"]:
                consent["given_on"] = body["registered_on"]


def _township(rng: random.Random, people: _People, size: Size, plan: TownshipPlan, county_code: str,
              project_id: str, today: date, volunteer_login: str | None) -> None:
    code = plan.township.code
    # Beneficiaries: every village cycles through the population profiles from its own offset.
    by_village: dict[str, list[tuple[dict, list[str]]]] = {}
    for v_index, village in enumerate(plan.villages):
        for i in range(size.people_per_village):
            pops, ages, gender, extra = names.PROFILES[(v_index * 5 + i) % len(names.PROFILES)]
            person = people.person(county_code, ages, gender)
            place = village.name.removesuffix("社工服务室")
            body = {"id": demo_id("beneficiary", village.code, i), **person, "populations": pops, **extra,
                    "address": f"{place}{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元", "_station": village.code}
            if "children" in pops or "youth" in pops:
                guardian = rng.choice(names.SURNAMES) + rng.choice(names.GIVEN[("female", "mid")])
                body["consents"] = [{"kind": "guardian", "by": f"监护人 {guardian}"}]
                body["emergency_contact"] = {"name": guardian, "relation": "母亲" if rng.random() < .6 else "祖母"}
            else:
                body["consents"] = [{"kind": "service", "by": "本人"}]
            # Files are opened through the year; consent is signed when the file is opened.
            body["registered_on"] = (today - timedelta(days=rng.randint(0, 364))).isoformat()
            for consent in body["consents"]:
                consent["given_on"] = body["registered_on"]
            plan.beneficiaries.append(body)
            by_village.setdefault(village.code, []).append((body, pops))
    everyone = [(b, b["populations"]) for b in plan.beneficiaries]

    for i in range(size.cases_per_township):
        state = CASE_STATES[i % len(CASE_STATES)]
        person, pops = everyone[(i * 7) % len(everyone)]
        plan.cases.append(_case(rng, plan, person, pops, state, i, project_id, today))

    for g in range(size.groups_per_township):
        population, title, kind = names.GROUPS[(g + int(code) % 3) % len(names.GROUPS)]
        starts = _recent(rng, today, 330, at_least=7 * size.sessions_per_group // 2)
        # Members of the group's population first, among them those registered by its start.
        ranked = sorted(everyone, key=lambda bp: (not (population in bp[1] or (population == "elderly"
                                                                                 and "tekun" in bp[1])),
                                                  bp[0]["registered_on"] > starts.isoformat()))
        members = [b["id"] for b, _ in ranked][:rng.randint(6, 10)]
        held = [starts + timedelta(days=7 * k) for k in range(size.sessions_per_group)]
        held = [d for d in held if d <= today]
        done = len(held) == size.sessions_per_group
        gid = demo_id("group", code, g)
        plan.groups.append(GroupPlan(
            {"id": gid, "project_id": project_id, "_station": code, "title": title, "kind": kind,
             "target_population": population, "planned_sessions": size.sessions_per_group,
             "stage": "ending" if done else "maturity" if len(held) > 2 else "forming",
             "starts_on": starts.isoformat(), "members": members},
            [{"id": demo_id("session", gid, k), "held_on": d.isoformat(),
              "topic": names.SESSION_TOPICS[k % len(names.SESSION_TOPICS)],
              "anonymous_count": rng.choice((0, 0, 1, 2)),
              "attendees": [{"id": demo_id("attendance", gid, k, m), "beneficiary_id": m}
                            for m in members if rng.random() < 0.85]}
             for k, d in enumerate(held)]))

    volunteer_ids = [demo_id("volunteer", code, i) for i in range(size.volunteers_per_township)]
    for v_index, village in enumerate(plan.villages):
        local = by_village[village.code]
        for a in range(size.activities_per_village):
            title, kind, when = names.ACTIVITIES[(v_index * 3 + a) % len(names.ACTIVITIES)]
            aid = demo_id("activity", village.code, a)
            held_on = _held_on(rng, today, when)
            plan.activities.append({
                "id": aid, "project_id": project_id, "_station": village.code,
                "title": title, "kind": kind, "place": village.name.removesuffix("社工服务室") + "党群服务中心",
                "held_on": held_on.isoformat(), "anonymous_count": rng.randint(12, 70),
                "volunteer_ids": rng.sample(volunteer_ids, k=min(2, len(volunteer_ids))),
                "resources_yuan": str(rng.choice((0, 0, 300, 800, 1500))) if a % 2 else None,
                "attendees": [{"id": demo_id("attendance", aid, b["id"]), "beneficiary_id": b["id"]}
                              for b in _present(rng, local, held_on, rng.randint(3, 6))],
            })

    _register_before_served(plan)
    _roster(plan, today)

    team_id = demo_id("team", code)
    plan.team = {"id": team_id, "name": plan.township.name.removesuffix("社工服务站") + "志愿服务队",
                 "description": "助老、助残、关爱儿童", "_station": code}
    for i, vid in enumerate(volunteer_ids):
        person = people.person(county_code, (19, 66))
        body = {"id": vid, **person, "skills": rng.sample(names.VOLUNTEER_SKILLS, k=2),
                "available_times": [rng.choice(("weekend", "weekday_evening", "weekday"))],
                "disclosure_consent": rng.random() < 0.7, "_station": code}
        if i == 0 and volunteer_login:
            body["_login"] = volunteer_login
        plan.volunteers.append(body)
        for s in range(size.shifts_per_volunteer):
            activity = plan.activities[(i + s) % len(plan.activities)] if plan.activities else None
            linked = activity is not None and s % 3 == 0
            served = date.fromisoformat(activity["held_on"]) if linked else _recent(rng, today, 360)
            plan.hours.append(({
                "id": demo_id("hours", vid, s), "volunteer_id": vid, "team_id": team_id,
                "_station": code, "served_on": served.isoformat(),
                "hours": rng.choice(("1.5", "2", "2.5", "3", "4")),
                "content": names.HOURS_CONTENT[(i + s) % len(names.HOURS_CONTENT)],
                **({"activity_kind": "community_activity", "activity_ref": activity["id"],
                    "activity_title": activity["title"]} if linked else {}),
            }, s % 7 != 6))  # a few stay unconfirmed, as in a real register


# Populations a civil-affairs roster lists (docs/rosters.md).
ROSTER_POPULATIONS = ("tekun", "dibao", "dibian", "elderly_alone", "elderly_empty_nest", "elderly_disabled",
                      "child_left_behind", "child_in_difficulty", "child_unsupported", "orphan", "disabled_severe")
VISIT_MODES = ("home_visit", "phone", "home_visit", "video")


def _roster(plan: TownshipPlan, today: date) -> None:
    """The township's roster, dated 150 days ago, of its people registered by then; and their visits:
    about monthly for most, none lately for some, never for a few, so that coverage and the overdue
    count show something real."""
    listed_on = today - timedelta(days=150)
    villages = {v.code: v.name for v in plan.villages}
    rows, listed = ["姓名,身份证号,人群类别,村(社区)"], []
    for body in plan.beneficiaries:
        pops = [p for p in body["populations"] if p in ROSTER_POPULATIONS]
        if not pops or body["registered_on"] > listed_on.isoformat():
            continue
        listed.append(body)
        rows += [f"{body['name']},{body['id_number']},{p},{villages.get(body['_station'], '')}" for p in pops]
    if not listed:
        return
    plan.roster = ("\n".join(rows) + "\n", listed_on)
    for j, body in enumerate(listed):
        if j % 5 == 4:
            continue  # never visited
        last = today - timedelta(days=45 if j % 5 == 3 else j % 20)  # j % 5 == 3: none lately
        day = listed_on + timedelta(days=5 + j % 9)
        k = 0
        while day <= last:
            plan.visits.append((body["id"], {"id": demo_id("visit", body["id"], k), "visited_on": day.isoformat(),
                                             "mode": VISIT_MODES[(j + k) % len(VISIT_MODES)],
                                             "health": ("good", "fair", "poor")[(j + k) % 3]}))
            day += timedelta(days=28 + (j + k) % 5)
            k += 1


def _case(rng: random.Random, plan: TownshipPlan, person: dict, pops: list[str], state: str, i: int,
          project_id: str, today: date) -> CasePlan:
    steps = STEPS[state]
    serving = "intervene" in steps
    n_records = (5 + i % 2) if state in ("closed", "follow_up") else (2 + i % 3) if serving else 1
    gaps = [rng.randint(3, 12) for _ in steps]
    span = sum(gaps) + (7 * n_records if serving else 0) + 2
    if state == "intake":
        opened = today - timedelta(days=rng.randint(0, 12))
    else:
        opened = _recent(rng, today, 360, at_least=span)
    case_id = demo_id("case", plan.township.code, i)
    family = next((k for k in names.CASE_TITLES if k in pops), "other")
    if family == "other" and any(p.startswith("elderly") or p == "tekun" for p in pops):
        family = "elderly"
    if family == "other" and any(p.startswith("child") or p == "orphan" for p in pops):
        family = "children"
    if family == "other" and any(p in ("dibian", "hardship_spending") for p in pops):
        family = "dibao"
    title = names.CASE_TITLES[family][i % len(names.CASE_TITLES[family])]
    body = {"id": case_id, "beneficiary_id": person["id"], "title": title,
            "_station": person["_station"], "risk_level": rng.choice(("low", "low", "medium", "high")),
            "presenting_problem": f"{title}：经社区网格员转介，需社工介入", "project_id": project_id,
            "opened_on": opened.isoformat()}
    records: list[tuple[str, dict]] = []
    out_steps: list[tuple[str, dict]] = []
    day = opened
    service_type = {"elderly": "elder_child_care", "children": "elder_child_care", "dibao": "social_assistance",
                    "disabled": "resource_linking"}.get(family, "needs_assessment")
    if not serving:
        records.append(("service-records", {
            "id": demo_id("record", case_id, 0), "served_on": opened.isoformat(), "mode": "office",
            "duration_minutes": 40, "content": "接案面谈，了解求助需求", "service_type": "needs_assessment",
            "person_times": 1}))
    for action, gap in zip(steps, gaps, strict=True):
        day = min(day + timedelta(days=gap), today)
        step = {"on": day.isoformat()}
        if action == "assess":
            records.append(("assessments", {"id": demo_id("assessment", case_id), "assessed_on": day.isoformat(),
                                            "areas": ["生活照料", "社会支持", "心理情绪"][: 1 + i % 3],
                                            "needs": "需要定期探访与资源链接", "risk_level": body["risk_level"]}))
        elif action == "plan":
            records.append(("plans", {"id": demo_id("plan", case_id), "planned_on": day.isoformat(), "goals": [
                {"goal": "改善居家安全", "measure": "每月探访不少于2次"},
                {"goal": "链接社区支持资源", "measure": "至少链接1项服务"}]}))
        elif action == "close":
            step["reason"] = CLOSE_REASON[state]
            if state == "referred":
                records.append(("referrals", {"id": demo_id("referral", case_id), "agency": rng.choice(names.AGENCIES),
                                              "reason": "需专业机构跟进", "referred_on": day.isoformat()}))
        out_steps.append((action, step))
        if action == "intervene":
            for r in range(n_records):
                day = min(day + timedelta(days=rng.randint(4, 9)), today)
                record = {"id": demo_id("record", case_id, r + 1), "served_on": day.isoformat(),
                          "mode": rng.choice(("home_visit", "home_visit", "phone", "office")),
                          "duration_minutes": rng.choice((30, 45, 60, 90)),
                          "content": names.SERVICE_CONTENT[(i + r) % len(names.SERVICE_CONTENT)],
                          "service_type": service_type, "person_times": 1}
                if r == 1 and family == "dibao":
                    record["resources_yuan"] = str(rng.choice((200, 500, 1000)))
                records.append(("service-records", record))
    return CasePlan(body, out_steps, records)
