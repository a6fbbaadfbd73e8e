"""Teams (志愿服务队): a leader and members under a station; a volunteer may be in several teams."""

from tests.fixtures.calls import fields_of, with_etag
from tests.fixtures.people import ID_BORN_1970, ID_BORN_1985


class TestCreateTeam:
    async def test_leader_becomes_member_and_scope(self, volunteers_client, worker, sibling, official, me, register):
        leader = await register(worker)
        r = await volunteers_client.post("/v1/teams", headers=worker, json={
            "name": "猛追湾助老服务队", "leader_id": leader["id"], "station_id": 4})
        assert r.status_code == 201, r.text
        team = r.json()
        assert team["station_id"] == 4 and team["leader_id"] == leader["id"] and r.headers["etag"] == '"1"'
        members = (await volunteers_client.get(f"/v1/teams/{team['id']}/members", headers=worker)).json()["items"]
        assert [(m["volunteer_id"], m["leader"]) for m in members] == [(leader["id"], True)]
        for headers, expect in ((sibling, 404), (official, 403), (me, 403)):
            assert (await volunteers_client.get(f"/v1/teams/{team['id']}", headers=headers)).status_code == expect
        r = await volunteers_client.post("/v1/teams", headers=sibling, json={"name": "x", "leader_id": leader["id"]})
        assert r.status_code == 422 and fields_of(r) == {"leader_id"}


class TestTeamMembers:
    async def test_several_teams_add_remove(self, volunteers_client, worker, register):
        a = await register(worker)
        b = await register(worker, name="李", id_number=ID_BORN_1985)
        c = await register(worker, name="赵", id_number=ID_BORN_1970)
        t1 = (await volunteers_client.post("/v1/teams", headers=worker, json={"name": "一队", "leader_id": a["id"]})).json()
        t2 = (await volunteers_client.post("/v1/teams", headers=worker, json={"name": "二队"})).json()
        for team in (t1, t2):
            r = await volunteers_client.put(f"/v1/teams/{team['id']}/members/{b['id']}", headers=worker)
            assert r.status_code == 200 and r.json()["leader"] is False
        again = await volunteers_client.put(f"/v1/teams/{t1['id']}/members/{b['id']}", headers=worker)
        assert again.status_code == 200
        teams_of_b = (await volunteers_client.get("/v1/teams", params={"volunteer_id": b["id"]}, headers=worker)).json()
        assert {t["id"] for t in teams_of_b["items"]} == {t1["id"], t2["id"]}
        in_t1 = (await volunteers_client.get("/v1/volunteers", params={"team_id": t1["id"]}, headers=worker)).json()
        assert {v["id"] for v in in_t1["items"]} == {a["id"], b["id"]}
        assert (await volunteers_client.delete(f"/v1/teams/{t1['id']}/members/{a['id']}",
                                               headers=worker)).status_code == 409  # the leader
        assert (await volunteers_client.delete(f"/v1/teams/{t1['id']}/members/{b['id']}",
                                               headers=worker)).status_code == 204
        assert (await volunteers_client.delete(f"/v1/teams/{t1['id']}/members/{c['id']}",
                                               headers=worker)).status_code == 404
        assert (await volunteers_client.put(f"/v1/teams/{t1['id']}/members/nobody", headers=worker)).status_code == 404


class TestUpdateTeam:
    async def test_new_leader_and_delete(self, volunteers_client, worker, register, record, db):
        a = await register(worker)
        b = await register(worker, name="李", id_number=ID_BORN_1985)
        team = (await volunteers_client.post("/v1/teams", headers=worker, json={"name": "一队", "leader_id": a["id"]})).json()
        url = f"/v1/teams/{team['id']}"
        assert (await volunteers_client.patch(url, json={"leader_id": b["id"]}, headers=worker)).status_code == 428
        r = await volunteers_client.patch(url, json={"leader_id": b["id"]}, headers=with_etag(worker, '"1"'))
        assert r.status_code == 200 and r.json()["leader_id"] == b["id"] and r.headers["etag"] == '"2"'
        members = (await volunteers_client.get(f"{url}/members", headers=worker)).json()["items"]
        assert {m["volunteer_id"]: m["leader"] for m in members} == {a["id"]: False, b["id"]: True}
        h = await record(worker, a["id"], team_id=team["id"])
        assert h["team_id"] == team["id"] and h["station_id"] == 2
        assert (await volunteers_client.delete(url, headers=with_etag(worker, '"2"'))).status_code == 204
        assert (await volunteers_client.get(url, headers=worker)).status_code == 404
        assert (await volunteers_client.get("/v1/teams", headers=worker)).json()["items"] == []
