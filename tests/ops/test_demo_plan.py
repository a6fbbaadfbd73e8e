"""The demo's plan (ops/cli/demo/plan.py), read as a person reading the dashboard would: people
registered through the year, three county projects at different stages, festivals on their days.
No database: the plan is plain request bodies (tests/ops/test_cli.py::TestDemo loads one)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ops.cli.demo.plan import build

# The festivals' days, from the Chinese calendar (中秋: 15th of the 8th month; 重阳: 9th of the 9th).
MID_AUTUMN = {2025: date(2025, 10, 6), 2026: date(2026, 9, 25)}
DOUBLE_NINTH = {2025: date(2025, 10, 29), 2026: date(2026, 10, 18)}


def _people(plan) -> list[dict]:
    return [b for county in plan.counties for town in county.townships for b in town.beneficiaries]


def _activities(plan) -> list[dict]:
    return [a for county in plan.counties for town in county.townships for a in town.activities]


@pytest.mark.parametrize("today", [date(2026, 12, 4), date(2026, 9, 1)])
class TestDemoPlan:
    def test_people_are_registered_through_the_year_before_they_are_served(self, today):
        plan = build("small", today)
        people = _people(plan)
        days = [date.fromisoformat(b["registered_on"]) for b in people]
        assert all(today - timedelta(days=364) <= d <= today for d in days)
        months = {(d.year, d.month) for d in days}
        assert len(months) >= 8, sorted(months)
        # No month holds more than a quarter of the year's registrations.
        assert max(sum(1 for d in days if (d.year, d.month) == m) for m in months) <= len(days) / 4
        registered = {b["id"]: date.fromisoformat(b["registered_on"]) for b in people}
        for b in people:
            for consent in b["consents"]:
                assert date.fromisoformat(consent["given_on"]) <= today
        for county in plan.counties:
            for town in county.townships:
                for case in town.cases:
                    assert registered[case.body["beneficiary_id"]] <= date.fromisoformat(case.body["opened_on"])
                for group in town.groups:
                    for session in group.sessions:
                        for a in session["attendees"]:
                            assert registered[a["beneficiary_id"]] <= date.fromisoformat(session["held_on"])
                for activity in town.activities:
                    for a in activity["attendees"]:
                        assert registered[a["beneficiary_id"]] <= date.fromisoformat(activity["held_on"])

    def test_the_county_projects_are_at_different_stages(self, today):
        plan = build("small", today)
        assert len(plan.counties) == 3
        completion = []
        for county in plan.counties:
            targets = {t["metric"]: float(t["target"]) for t in county.project["targets"]}
            activities = sum(len(t.activities) for t in county.townships)
            # The progress endpoint counts the people with a case in the project.
            people = len({c.body["beneficiary_id"] for t in county.townships for c in t.cases})
            completion.append((round(activities / targets["activities"], 2),
                               round(people / targets["cases.beneficiaries"], 2)))
        assert len({c[0] for c in completion}) == 3 and len({c[1] for c in completion}) == 3, completion
        # Not the same work everywhere either.
        assert len({sum(len(t.activities) for t in c.townships) for c in plan.counties}) == 3
        # One county near or past its targets, one clearly behind.
        assert max(c[0] for c in completion) >= 0.9 and min(c[0] for c in completion) <= 0.75, completion

    def test_festival_activities_are_held_on_their_festival(self, today):
        plan = build("small", today)
        held = [(a["title"], date.fromisoformat(a["held_on"])) for a in _activities(plan)]
        last = {name: max(d for d in days.values() if d <= today)
                for name, days in (("中秋", MID_AUTUMN), ("重阳", DOUBLE_NINTH))}
        seen = set()
        for title, day in held:
            for name, expected in last.items():
                if name in title:
                    assert day == expected, (title, day, expected)
                    seen.add(name)
            if "暑期" in title:  # the summer holiday: July and August
                assert day.month in (7, 8) and day <= today, (title, day)
        assert seen == {"中秋", "重阳"}
        assert all(day <= today for _, day in held)
