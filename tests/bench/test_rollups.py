"""The benchmark's bulk loader writes records straight into the services' tables and then rebuilds
their rollups in SQL (bench/rollups.py). That is only a fair dataset if the rebuilt rollups are the
ones the services' own write paths keep: here a dataset is made through the gateway's API (with
changes that take counts back: a closed case reopened, a service record deleted, populations
changed, an activity deleted, hours deleted), its rollups and dashboard figures are read, the
rollups are rebuilt from the records, and both must come back the same."""

from __future__ import annotations

from datetime import date, timedelta

from bench import rollups
from shared.rollup import live_sums_sql

ROLLUP_ROWS = {
    "daily_stat": "SELECT station_id, day, metric, population, station_path, value FROM {s}.daily_stat "
                  "WHERE value <> 0 ORDER BY 1, 2, 3, 4",
    "person_day": "SELECT station_id, day, population, person, station_path, refs FROM {s}.person_day "
                  "WHERE refs > 0 ORDER BY 1, 2, 3, 4",
    # Folded or pending, summed: what the figures read.
    "ancestor_stat": "SELECT node_id, grain, metric, period, population, parent_id, value "
                     "FROM ({live}) AS s WHERE value <> 0 ORDER BY 1, 2, 3, 4, 5",
}
OTHER_COUNTERS = [
    "SELECT volunteer_id, day, station_id, station_path, records, member_no FROM volunteers.served_day "
    "ORDER BY 1, 2, 3",
    "SELECT id, certified_hours FROM volunteers.volunteer ORDER BY id",
    "SELECT id, named_count FROM projects.group_session ORDER BY id",
    "SELECT id, named_count FROM projects.activity ORDER BY id",
]


async def counters(db) -> dict:
    found = {}
    for schema in ("cases", "projects", "volunteers"):
        for name, sql in ROLLUP_ROWS.items():
            if schema == "volunteers" and name == "person_day":
                continue
            sql = sql.format(s=schema, live=live_sums_sql(schema))
            found[f"{schema}.{name}"] = [tuple(r) for r in await db.fetch(sql)]
    for sql in OTHER_COUNTERS:
        found[sql] = [tuple(r) for r in await db.fetch(sql)]
    return found


async def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json() if response.content else {}


async def changes_that_take_counts_back(w) -> None:
    gw, ids, meng = w.gw, {k: s["id"] for k, s in w.tree.items()}, w.headers["meng.worker"]
    county = w.headers["county.head"]
    person = await w.beneficiary(meng, ids["mengzhuiwan"], "陈新", ["elderly"])
    case = await w.case(meng, ids["mengzhuiwan"], person, w.a)
    await w.service_record(meng, case, w.b, person_times=3, yuan="20")
    record = await ok(await gw.post(f"/v1/cases/{case['id']}/service-records", headers=meng, json={
        "served_on": w.c.isoformat(), "mode": "phone", "content": "电话回访",
        "service_type": "social_assistance"}), 201)
    r = await gw.get(f"/v1/cases/{case['id']}/service-records/{record['id']}", headers=meng)
    await ok(await gw.delete(f"/v1/cases/{case['id']}/service-records/{record['id']}",
                             headers={**meng, "If-Match": r.headers["etag"]}), 204)
    await w.close(meng, case, w.c)
    await ok(await gw.post(f"/v1/cases/{case['id']}/reopen", headers=meng, json={"on": w.d.isoformat()}))
    r = await gw.get(f"/v1/beneficiaries/{person}", headers=meng)
    await ok(await gw.patch(f"/v1/beneficiaries/{person}", headers={**meng, "If-Match": r.headers["etag"]},
                            json={"populations": ["elderly", "dibao"]}))

    project = await w.project(county, ids["chenghua"], "撤回测试项目")
    activity = await ok(await gw.post("/v1/activities", headers=county, json={
        "project_id": project["id"], "station_id": ids["mengzhuiwan"], "title": "取消的活动",
        "held_on": w.b.isoformat(), "anonymous_count": 4, "resources_yuan": "60",
        "attendees": [{"beneficiary_id": person}]}), 201)
    r = await gw.get(f"/v1/activities/{activity['id']}", headers=county)
    await ok(await gw.delete(f"/v1/activities/{activity['id']}", headers={**county, "If-Match": r.headers["etag"]}),
             204)

    volunteer = await w.volunteer(meng, ids["mengzhuiwan"], "王撤回", "110105198012310030")
    hours = await ok(await gw.post("/v1/volunteer-hours", headers=county, json={
        "volunteer_id": volunteer, "station_id": ids["mengzhuiwan"], "served_on": w.c.isoformat(), "hours": "2.5",
        "content": "陪诊"}), 201)
    r = await gw.get(f"/v1/volunteer-hours/{hours['id']}", headers=county)
    await ok(await gw.delete(f"/v1/volunteer-hours/{hours['id']}", headers={**county, "If-Match": r.headers["etag"]}),
             204)
    await ok(await gw.post("/v1/volunteer-hours", headers=county, json={
        "volunteer_id": volunteer, "station_id": ids["chenghua"], "served_on": w.d.isoformat(), "hours": "1",
        "content": "陪诊"}), 201)  # recorded, not yet confirmed: counted, not certified
    # A night shift: one record over two days, its hours split between them (not in the span's proportion
    # to the cent: rounded as the service rounds).
    await ok(await gw.post("/v1/volunteer-hours", headers=county, json={
        "volunteer_id": volunteer, "station_id": ids["mengzhuiwan"], "served_on": (w.c - timedelta(days=1)).isoformat(),
        "ends_on": w.c.isoformat(), "start_time": "21:30", "end_time": "04:10", "hours": "5.55",
        "content": "夜间陪护"}), 201)


class TestRebuiltRollups:
    async def test_match_what_the_write_paths_kept(self, world, db):
        w = world
        await changes_that_take_counts_back(w)
        admin = await w.gw.admin()
        ids = {k: s["id"] for k, s in w.tree.items()}
        asks = [(ids["root"], w.early, w.today), (ids["chenghua"], w.a, w.c), (ids["mengzhuiwan"], w.b, w.today),
                (ids["mianyang"], date(w.today.year, 1, 1), w.today)]

        async def summaries() -> list[dict]:
            await w.gw.app.state.forget_stats()
            out = []
            for station, frm, to in asks:
                body = await ok(await w.gw.get("/v1/stats/summary", headers=admin, params={
                    "station_id": station, "from": frm.isoformat(), "to": to.isoformat()}))
                assert body["degraded"] == []
                out.append(body["figures"])
            return out

        kept, shown = await counters(db), await summaries()
        assert kept["cases.daily_stat"] and kept["projects.person_day"] and kept["volunteers.daily_stat"]
        assert kept["cases.ancestor_stat"] and kept["volunteers.ancestor_stat"]
        await rollups.rebuild(db)
        rebuilt = await counters(db)
        for name in kept:
            assert rebuilt[name] == kept[name], name
        assert await summaries() == shown
