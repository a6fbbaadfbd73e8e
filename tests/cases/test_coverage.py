"""Roster coverage in the counting contract (roster.members, roster.visited, roster.overdue), checked
against a ledger of the memberships and visits the test made, at each level of the tree and by month."""

from datetime import date, timedelta

from shared.stats import period_start
from tests.cases.test_rosters import HEADER, upload
from tests.fixtures.counting import internal_stats, rows_of
from tests.fixtures.people import id_number
from tests.volunteers.test_import import as_csv

PEOPLE = {  # name: (ID number, population, village: where registered)
    "甲": (id_number("51010419400101123"), "tekun", "Station 4"),
    "乙": (id_number("51010419450202234"), "elderly_alone", None),
    "丙": (id_number("51010419500303345"), "dibao", None),
    "丁": (id_number("51010419550404456"), "elderly_alone", "Station 4"),
}
RULES = {"tekun": (30, {"home_visit", "phone"}), "elderly_alone": (30, {"home_visit", "phone", "video"}),
         "dibao": (90, {"home_visit", "phone"})}
STATION = {"Station 4": 4, None: 2}


def ledger_figures(members: dict, visits: list, first: date, last: date, key) -> dict:
    """{(metric, key(person)): count} for the span [first, last], as docs/counting.md defines them."""
    out: dict = {}
    for name, (joined, left, population, station) in members.items():
        if joined > last or (left is not None and left <= last):
            continue
        seen = [(on, mode) for who, on, mode in visits if who == name and on <= last]
        every, modes = RULES[population]
        due = max([on for on, mode in seen if mode in modes], default=joined) + timedelta(days=every)
        for metric, hit in (("roster.members", True), ("roster.visited", any(on >= first for on, _ in seen)),
                            ("roster.overdue", due < last)):
            if hit:
                for k in key(population, station):
                    out[(metric, k)] = out.get((metric, k), 0) + 1
    return out


class TestCoverage:
    async def test_members_visited_overdue_against_the_ledger(self, cases_client, service_headers, worker, today,
                                                              tree):
        joined = today - timedelta(days=100)
        roster = [HEADER] + [[n, i, p, v, None, None] for n, (i, p, v) in PEOPLE.items()]
        r = await upload(cases_client, worker, as_csv(roster), listed_on=joined.isoformat())
        assert r.status_code == 201, r.text
        ids = {n: c["beneficiary_id"] for n, c in zip(PEOPLE, r.json()["changes"])}
        members = {n: (joined, None, p, STATION[v]) for n, (_, p, v) in PEOPLE.items()}
        visits = []
        for name, days, mode in (("甲", 80, "home_visit"), ("甲", 10, "video"), ("乙", 45, "phone"),
                                 ("乙", 3, "home_visit"), ("丙", 20, "phone")):
            on = today - timedelta(days=days)
            r = await cases_client.post(f"/v1/beneficiaries/{ids[name]}/visits", headers=worker,
                                        json={"visited_on": on.isoformat(), "mode": mode})
            assert r.status_code == 201, r.text
            visits.append((name, on, mode))
        # 丁 leaves with a newer roster that lists the other three.
        left_on = today - timedelta(days=30)
        r = await upload(cases_client, worker, as_csv(roster[:4]), listed_on=left_on.isoformat())
        assert r.status_code == 201 and r.json()["left"] == 1, r.text
        members["丁"] = (joined, left_on, "elderly_alone", 4)

        metrics = ["roster.members", "roster.visited", "roster.overdue"]
        frm = today - timedelta(days=60)
        # The city, by population: everyone once under _all, and under their roster's population.
        answer = await internal_stats(cases_client, service_headers, today, metrics=metrics, group_by=["population"],
                                      **{"from": frm.isoformat()})
        expected = ledger_figures(members, visits, frm, today, lambda p, s: ["_all", p])
        assert rows_of(answer, "metric", "population") == expected
        assert expected[("roster.members", "_all")] == 3 and expected[("roster.visited", "_all")] == 3
        # By station under the township (2): its own people and the village room's.
        answer = await internal_stats(cases_client, service_headers, today, metrics=metrics, group_by=["station"],
                                      station_path="/1/2/", **{"from": frm.isoformat()})
        assert rows_of(answer, "metric", "station") == ledger_figures(members, visits, frm, today, lambda p, s: [s])
        # By month: each month's members and overdue at its end, visited within it.
        answer = await internal_stats(cases_client, service_headers, today, metrics=metrics, group_by=["month"],
                                      **{"from": (today - timedelta(days=95)).isoformat()})
        expected = {}
        start = period_start(today - timedelta(days=95), "month")
        while start <= today:
            nxt = period_start(start + timedelta(days=32), "month")
            first, last = max(start, today - timedelta(days=95)), min(nxt - timedelta(days=1), today)
            for (metric, _), v in ledger_figures(members, visits, first, last, lambda p, s: [None]).items():
                expected[(metric, start.isoformat())] = v
            start = nxt
        assert rows_of(answer, "metric", "period") == expected
        # Outside the rosters' subtree: nothing.
        answer = await internal_stats(cases_client, service_headers, today, metrics=metrics, station_path="/1/3/")
        assert answer["rows"] == []
