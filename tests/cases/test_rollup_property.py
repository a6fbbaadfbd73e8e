"""The rollup by ancestor (shared.rollup's ancestor_stat and ancestor_pending) against a recount from
the records: after any sequence of service records written, moved to another day, deleted, cases
opened, stations moved to another parent and folds of what is pending, every node of the tree
answers what its subtree's live records add up to, as a total over whole months and edge days, day
by day, by month, broken down by child station, and as a stock (cases.open) at each period's end."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.rollup import fold_sql
from shared.stats import period_start
from tests.cases.test_stats import service_record
from tests.fixtures.calls import with_etag
from tests.fixtures.counting import rows_of

# Each example builds its own tree under a fresh root (the database is not emptied between examples).
_roots = itertools.count(50_000, 100)
_change_seq = itertools.count(900_000)
# Child -> parent of every example's tree: root > a, b; a > c, d; b > e (the offsets from the root).
SHAPE = {1: 0, 2: 0, 3: 1, 4: 1, 5: 2}
DAYS = 80  # the records' days: today and the 80 days before, so the range holds whole months and edges

ops = st.lists(st.one_of(
    st.tuples(st.just("record"), st.integers(1, 5), st.integers(0, DAYS), st.integers(1, 4)),
    st.tuples(st.just("redate"), st.integers(0, 50), st.integers(0, DAYS), st.just(0)),
    st.tuples(st.just("delete"), st.integers(0, 50), st.just(0), st.just(0)),
    st.tuples(st.just("case"), st.integers(0, 5), st.integers(0, DAYS), st.just(0)),
    st.tuples(st.just("move"), st.integers(1, 5), st.integers(0, 5), st.just(0)),
    # What is pending folded now (the service's own fold runs every second besides): figures must not
    # depend on where the deltas are.
    st.tuples(st.just("fold"), st.just(0), st.just(0), st.just(0)),
), min_size=1, max_size=12)


def _paths(root: int, parents: dict[int, int]) -> dict[int, str]:
    """Each station's path (station id -> '/root/../id/') from its parent."""
    def path(s: int) -> str:
        return f"/{root}/" if s == root else f"{path(parents[s])}{s}/"
    return {s: path(s) for s in [root, *parents]}


def _in_subtree(s: int, top: int, parents: dict[int, int]) -> bool:
    while True:
        if s == top:
            return True
        if s not in parents:
            return False
        s = parents[s]


class TestAncestorRollupProperty:
    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(steps=ops)
    async def test_every_node_answers_its_records(self, cases_client, service_headers, token_for, db, today, steps):
        root = next(_roots)
        parents = {root + k: root + v for k, v in SHAPE.items()}
        await self._push(cases_client, service_headers, root, parents, list(parents))
        await self._push(cases_client, service_headers, root, parents, [root])
        worker = token_for("social_worker", root, f"/{root}/", user_id=f"w{root}")
        cases: dict[int, dict] = {}
        records: list[dict] = []

        async def case_at(station: int, opened_on: date | None = None) -> dict:
            r = await cases_client.post("/v1/beneficiaries", headers=worker,
                                        json={"name": "张三丰", "station_id": station, "populations": ["elderly"]})
            assert r.status_code == 201, r.text
            body = {"beneficiary_id": r.json()["id"], "title": "探访", "station_id": station}
            if opened_on:
                body["opened_on"] = opened_on.isoformat()
            r = await cases_client.post("/v1/cases", headers=worker, json=body)
            assert r.status_code == 201, r.text
            return r.json()

        for op, a, b, n in steps:
            if op == "record":
                station = root + a
                if station not in cases:
                    cases[station] = await case_at(station, today - timedelta(days=DAYS))
                records.append(await service_record(cases_client, worker, cases[station]["id"],
                                                    today - timedelta(days=b), n))
            elif op in ("redate", "delete") and records:
                target = records[a % len(records)]
                url = f"/v1/cases/{target['case_id']}/service-records/{target['id']}"
                headers = with_etag(worker, f'"{target["version"]}"')
                if op == "redate":
                    r = await cases_client.patch(url, headers=headers,
                                                 json={"served_on": (today - timedelta(days=b)).isoformat()})
                    assert r.status_code == 200, r.text
                    records[records.index(target)] = r.json()
                else:
                    assert (await cases_client.delete(url, headers=headers)).status_code == 204
                    records.remove(target)
            elif op == "case":
                await case_at(root + a, today - timedelta(days=b))
            elif op == "fold":
                await db.execute(fold_sql("cases", batch=False))
            elif op == "move":
                station, parent = root + a, root + b
                if _in_subtree(parent, station, parents) or parents[station] == parent:
                    continue
                parents[station] = parent
                moved = [s for s in parents if _in_subtree(s, station, parents)]
                await self._push(cases_client, service_headers, root, parents, moved)

        paths = _paths(root, parents)
        first = today - timedelta(days=DAYS)
        served = await db.fetch(
            "SELECT station_path, served_on, sum(person_times) AS n FROM cases.service_record "
            "WHERE deleted_at IS NULL AND station_path LIKE $1 GROUP BY 1, 2", f"/{root}/%")
        opened = await db.fetch(
            "SELECT c.station_path, e.occurred_on AS day, count(*) AS n FROM cases.case AS c "
            "JOIN cases.case_event AS e ON e.case_id = c.id AND e.action = 'open' "
            "WHERE c.deleted_at IS NULL AND c.station_path LIKE $1 GROUP BY 1, 2", f"/{root}/%")
        for node, path in paths.items():
            def mine(rows, where=lambda p: True):
                out = defaultdict(int)
                for r in rows:
                    if r["station_path"].startswith(path) and where(r["station_path"]):
                        out[r["served_on"] if "served_on" in r else r["day"]] += int(r["n"])
                return out

            days = mine(served)
            ask = {"station_path": path, "from": first.isoformat(), "to": today.isoformat()}
            total = await self._stats(cases_client, service_headers, **ask, metrics=["person_times.casework"])
            assert rows_of(total, "metric") == ({("person_times.casework",): sum(days.values())}
                                                 if sum(days.values()) else {}), (node, steps)
            by_day = await self._stats(cases_client, service_headers, **ask, metrics=["person_times.casework"],
                                       group_by=["day"])
            assert rows_of(by_day, "period") == {(d.isoformat(),): v for d, v in days.items() if v}, (node, steps)
            by_month = await self._stats(cases_client, service_headers, **ask, metrics=["person_times.casework"],
                                         group_by=["month"])
            months = defaultdict(int)
            for d, v in days.items():
                months[period_start(d, "month").isoformat()] += v
            assert rows_of(by_month, "period") == {(m,): v for m, v in months.items() if v}, (node, steps)
            # By child: each child its subtree, the node itself the records filed at the node.
            children = {s for s, p in parents.items() if p == node}
            expected = defaultdict(int)
            for r in served:
                if not r["station_path"].startswith(path):
                    continue
                below = r["station_path"][len(path):].split("/")[0]
                expected[int(below) if below else node] += int(r["n"])
            assert set(expected) <= children | {node}
            by_station = await self._stats(cases_client, service_headers, **ask,
                                           metrics=["person_times.casework"], group_by=["station"])
            assert rows_of(by_station, "station") == {(s,): v for s, v in expected.items() if v}, (node, steps)
            # The stock: cases open at each week's end, everything opened before the range included.
            opens = mine(opened)
            stock = await self._stats(cases_client, service_headers, **ask, metrics=["cases.open"], group_by=["week"])
            week, levels = period_start(first, "week"), {}
            while week <= today:
                end = min(week + timedelta(days=6), today)
                level = sum(v for d, v in opens.items() if d <= end)
                if level:
                    levels[(week.isoformat(),)] = level
                week += timedelta(days=7)
            assert rows_of(stock, "period") == levels, (node, steps)

    @staticmethod
    async def _push(client, headers, root: int, parents: dict[int, int], stations: list[int]) -> None:
        paths = _paths(root, parents)
        rows = [{"id": s, "parent_id": parents.get(s), "path": paths[s], "kind": "township", "name": f"S{s}",
                 "change_seq": next(_change_seq)} for s in sorted(stations, key=lambda s: len(paths[s]))]
        r = await client.put("/internal/stations", json={"stations": rows}, headers=headers)
        assert r.status_code == 200, r.text

    @staticmethod
    async def _stats(client, headers, **body) -> dict:
        r = await client.post("/internal/stats", json=body, headers=headers)
        assert r.status_code == 200, r.text
        return r.json()
