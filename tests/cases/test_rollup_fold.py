"""Writers append the rollup's deltas to ancestor_pending and a background step folds them into
ancestor_stat (shared.rollup): a figure is the same whether its rows are pending, folded or half
and half, the service's own loop empties the pending table, and folds running at once neither lose
nor double a delta."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import date, timedelta
from decimal import Decimal

import asyncpg

from shared.rollup import FOLD_BATCH, fold, fold_sql, keep_folding, live_sums_sql
from tests.conftest import _plain


async def _figure(cases_client, service_headers, path: str, today, group_by: list[str] | None = None) -> list:
    r = await cases_client.post("/internal/stats", headers=service_headers, json={
        "station_path": path, "from": (today - timedelta(days=40)).isoformat(), "to": today.isoformat(),
        "metrics": ["beneficiaries.registered"], "group_by": group_by or []})
    assert r.status_code == 200, r.text
    return sorted(r.json()["rows"], key=lambda row: (row["station"] or 0, row["period"] or ""))


async def _register(cases_client, token_for, stations: tuple[int, ...]) -> None:
    worker = token_for("social_worker", 1, "/1/", user_id="w1")
    for station in stations:
        r = await cases_client.post("/v1/beneficiaries", headers=worker, json={"name": "张三丰", "station_id": station})
        assert r.status_code == 201, r.text


class TestFold:
    async def test_a_figure_is_the_same_pending_and_folded(self, cases_client, push_tree, token_for, service_headers,
                                                           db, today):
        await push_tree(cases_client)
        # The service's own fold is held back meanwhile: it cannot write ancestor_stat while another
        # transaction holds it in SHARE mode (the writers and the readers can go on).
        questions = [("/1/", None), ("/1/", ["station"]), ("/1/2/", ["day"]), ("/1/2/4/", ["month"])]
        async with db.transaction():
            await db.execute("LOCK TABLE cases.ancestor_stat IN SHARE MODE")
            await _register(cases_client, token_for, (2, 4, 4, 3))
            pending = await db.fetchval("SELECT count(*) FROM cases.ancestor_pending")
            changes = await db.fetchval(
                "SELECT sum(changes) FROM cases.ancestor_pending WHERE node_id = 1 AND grain = 'd' "
                "AND metric = 'beneficiaries.registered' AND population = '_all' AND period = $1", today)
            before = [await _figure(cases_client, service_headers, path, today, by) for path, by in questions]
        await db.execute(fold_sql("cases", batch=False))
        after = [await _figure(cases_client, service_headers, path, today, by) for path, by in questions]
        assert pending > 0
        assert before == after
        assert [r["value"] for r in before[0]] == [4]
        assert [(r["station"], r["value"]) for r in before[1]] == [(2, 3), (3, 1)]
        assert await db.fetchval("SELECT count(*) FROM cases.ancestor_pending") == 0
        # Folded: the province's row of the day holds the four, in one row, its change count what the
        # writes had left pending (an upsert of a station's row is two changes: its old and new amounts).
        row = await db.fetchrow("SELECT value, changes FROM cases.ancestor_stat WHERE node_id = 1 AND grain = 'd' "
                                "AND metric = 'beneficiaries.registered' AND population = '_all' AND period = $1",
                                today)
        assert (row["value"], row["changes"]) == (Decimal("4.00"), changes)

    async def test_the_service_folds_what_is_pending_by_itself(self, cases_client, push_tree, token_for,
                                                               service_headers, db, today):
        await push_tree(cases_client)
        await _register(cases_client, token_for, (2, 3))
        # FOLD_EVERY_S is a second: give it ten.
        for _ in range(100):
            if not await db.fetchval("SELECT count(*) FROM cases.ancestor_pending"):
                break
            await asyncio.sleep(0.1)
        assert await db.fetchval("SELECT count(*) FROM cases.ancestor_pending") == 0
        assert [r["value"] for r in await _figure(cases_client, service_headers, "/1/", today)] == [2]


class TestFoldsAtOnce:
    async def test_four_folds_at_once_move_every_delta_once(self, cases_app, database_url, db):
        # A backlog of pending deltas over a few keys (more than a batch), folded by four connections at
        # once: each takes rows the others have not, and the sums come out whole.
        keys = [(node, date(2026, 11, day)) for node in (1, 2, 3) for day in (1, 2)]
        rows = FOLD_BATCH + 5_000
        await db.execute(
            "INSERT INTO cases.ancestor_pending (node_id, grain, metric, period, population, parent_id, value, changes) "
            "SELECT k.node, 'd', 'person_times.casework', k.day, '_all', 0, 0.25, 1 "
            "FROM unnest($1::bigint[], $2::date[]) AS k(node, day), generate_series(1, $3) AS g",
            [k[0] for k in keys], [k[1] for k in keys], rows // len(keys))
        per_key = rows // len(keys)
        conns = [await asyncpg.connect(_plain(database_url)) for _ in range(4)]
        try:
            await asyncio.gather(*(fold(c, "cases") for c in conns))
        finally:
            for c in conns:
                await c.close()
        assert await db.fetchval("SELECT count(*) FROM cases.ancestor_pending") == 0
        found = {(r["node_id"], r["period"]): (r["value"], r["changes"]) for r in await db.fetch(
            f"SELECT * FROM ({live_sums_sql('cases')}) AS s WHERE metric = 'person_times.casework'")}
        assert found == {k: (Decimal(per_key) / 4, per_key) for k in keys}


class TestFoldFailures:
    async def test_a_fold_that_cannot_reach_the_database_is_logged_and_tried_again(self, caplog):
        # Nothing listens on port 1: every connection is refused.
        folding = asyncio.create_task(keep_folding("postgresql://nobody:secret@127.0.0.1:1/none", "cases",
                                                   "haolin-test", every_s=0.05))
        await asyncio.sleep(0.6)
        assert not folding.done()  # still trying, not crashed
        folding.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await folding
        failed = [r.getMessage() for r in caplog.records if "fold failed" in r.getMessage()]
        assert len(failed) >= 2, caplog.records
        # Logged by the error's type: nothing of the connection string.
        assert all("secret" not in m and "nobody" not in m and "cases" in m for m in failed), failed
