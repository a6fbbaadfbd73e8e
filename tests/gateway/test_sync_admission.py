"""The gateway serves a bounded number of tablet syncs at once (gateway/sync/admission.py): a pull or
push that finds every slot taken is told to come back (503, Retry-After) with nothing done for it,
and the same sync sent again once a slot is free goes through and converges."""

from __future__ import annotations

import asyncio

from tests.cases.test_sync import tablet_beneficiary
from tests.gateway.test_sync_flow import station_tablet

PROBLEM = "application/problem+json"


def busy(r) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["type"].endswith("sync-busy")
    assert 5 <= int(r.headers["retry-after"]) <= 30


class TestSyncAdmission:
    async def test_a_sync_finding_every_slot_taken_comes_back_later_and_converges(
            self, gateway_factory, admin_headers, gateway_tree, db):
        gateway = await gateway_factory(sync_concurrency=1, sync_admission_wait_s=0.2)
        township, tablet, _ = await station_tablet(gateway, admin_headers, gateway_tree, db)
        await tablet.pull()
        person = tablet_beneficiary(station_id=township["id"])
        changes = {"beneficiaries": {"created": [person]}}
        cursors = "SELECT count(*) FROM gateway.sync_cursor"
        kept = await db.fetchval(cursors)

        admission = gateway.app.state.sync_admission
        await admission.acquire()  # another tablet's sync holds the one slot
        try:
            busy(await gateway.get("/v1/sync", headers=tablet.headers,
                                   params={"last_pulled_at": str(tablet.last_pulled_at)}))
            busy(await gateway.post("/v1/sync", headers=tablet.headers, json=changes,
                                    params={"last_pulled_at": str(tablet.last_pulled_at)}))
            # Turned away before anything was done: no timestamp handed out, no record written.
            assert await db.fetchval(cursors) == kept
            assert await db.fetchval("SELECT count(*) FROM cases.beneficiary WHERE id = $1", person["id"]) == 0
            # The schema is not a sync: it is served whatever the load.
            assert (await gateway.get("/v1/sync/schema", headers=tablet.headers)).status_code == 200
        finally:
            admission.release()

        await tablet.push(changes)
        await tablet.push(changes)  # the tablet's retry of a push whose answer it lost: converges
        assert await db.fetchval("SELECT count(*) FROM cases.beneficiary WHERE id = $1", person["id"]) == 1
        pulled = await tablet.pull()
        assert person["id"] in [r["id"] for r in pulled["changes"]["beneficiaries"]["updated"]]

    async def test_a_streamed_pull_gives_its_slot_back_when_its_answer_is_sent(
            self, gateway_factory, admin_headers, gateway_tree, db):
        gateway = await gateway_factory(sync_concurrency=1, sync_admission_wait_s=0.2)
        _, tablet, _ = await station_tablet(gateway, admin_headers, gateway_tree, db)
        # One slot: each of these would be turned away if a pull before it still held it.
        for _ in range(3):
            await tablet.pull()
        # Syncs at once beyond the limit wait for a slot while one comes free within the wait.
        waiting = await gateway_factory(sync_concurrency=2, sync_admission_wait_s=30)
        answers = await asyncio.gather(*(waiting.get("/v1/sync", headers=tablet.headers,
                                                     params={"last_pulled_at": "null"}) for _ in range(6)))
        assert [r.status_code for r in answers] == [200] * 6
