"""The station tree: creation, reads within scope, renames, moves of whole subtrees, deletion."""

from __future__ import annotations

PROBLEM = "application/problem+json"


def fields(problem: dict) -> set[str]:
    return {e["field"] for e in problem.get("errors", [])}


class TestCreateStation:
    async def test_admin_creates_a_child(self, gateway, admin_headers, root, db):
        r = await gateway.post("/v1/stations", json={"parent_id": root["id"], "kind": "city", "name": " Chengdu ",
                                                     "code": "510100"}, headers=admin_headers)
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["name"] == "Chengdu" and body["kind"] == "city" and body["code"] == "510100"
        assert body["parent_id"] == root["id"] and body["path"] == f"{root['path']}{body['id']}/"
        assert r.headers["ETag"] == '"1"' and r.headers["Location"] == f"/v1/stations/{body['id']}"
        stored = await db.fetchrow("SELECT * FROM gateway.station WHERE id = $1", body["id"])
        assert stored["path"] == body["path"] and stored["deleted_at"] is None
        root_seq = await db.fetchval("SELECT change_seq FROM gateway.station WHERE id = $1", root["id"])
        assert stored["change_seq"] > root_seq
        again = await gateway.get(f"/v1/stations/{body['id']}", headers=admin_headers)
        assert again.json() == body

    async def test_kind_must_be_below_the_parent(self, gateway, admin_headers, gateway_tree, db):
        before = await db.fetchval("SELECT count(*) FROM gateway.station")
        r = await gateway.post("/v1/stations", json={"parent_id": gateway_tree["mengzhuiwan"]["id"], "kind": "county",
                                                     "name": "Wrong"}, headers=admin_headers)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
        assert fields(r.json()) == {"kind"}
        same = await gateway.post("/v1/stations", json={"parent_id": gateway_tree["chenghua"]["id"], "kind": "county",
                                                        "name": "Peer"}, headers=admin_headers)
        assert same.status_code == 422
        assert await db.fetchval("SELECT count(*) FROM gateway.station") == before

    async def test_tiers_may_be_skipped(self, gateway, admin_headers, root):
        county = await gateway.station(admin_headers, root["id"], "county", "Directly under the province")
        assert county["kind"] == "county"

    async def test_bad_input_names_the_field(self, gateway, admin_headers, root, db):
        cases = [({"parent_id": root["id"], "kind": "hamlet", "name": "X"}, "kind"),
                 ({"parent_id": root["id"], "kind": "city", "name": ""}, "name"),
                 ({"parent_id": root["id"], "kind": "city", "name": "X", "code": "51A"}, "code"),
                 ({"parent_id": root["id"], "kind": "city", "name": "X", "colour": "red"}, "colour"),
                 ({"parent_id": 999999, "kind": "city", "name": "X"}, "parent_id")]
        for body, field in cases:
            r = await gateway.post("/v1/stations", json=body, headers=admin_headers)
            assert r.status_code == 422, (body, r.text)
            assert field in fields(r.json())
        assert await db.fetchval("SELECT count(*) FROM gateway.station") == 1

    async def test_sibling_names_are_unique(self, gateway, admin_headers, gateway_tree):
        r = await gateway.post("/v1/stations", json={"parent_id": gateway_tree["chenghua"]["id"], "kind": "township",
                                                     "name": "Shuangqiao"}, headers=admin_headers)
        assert r.status_code == 409 and fields(r.json()) == {"name"}
        elsewhere = await gateway.station(admin_headers, gateway_tree["root"]["id"], "city", "Shuangqiao")
        assert elsewhere["name"] == "Shuangqiao"

    async def test_station_head_creates_within_its_subtree_only(self, gateway, admin_headers, gateway_tree, db):
        await gateway.user(admin_headers, "head.chenghua", "station_head", gateway_tree["chenghua"]["id"])
        head = await gateway.headers_for("head.chenghua")
        village = await gateway.station(head, gateway_tree["shuangqiao"]["id"], "village", "Qiaodong")
        assert village["path"].startswith(gateway_tree["shuangqiao"]["path"])
        outside = await gateway.post("/v1/stations", json={"parent_id": gateway_tree["mianyang"]["id"],
                                                           "kind": "county",
                                                           "name": "Fucheng"}, headers=head)
        assert outside.status_code == 422 and fields(outside.json()) == {"parent_id"}
        assert await db.fetchval("SELECT count(*) FROM gateway.station WHERE name = 'Fucheng'") == 0

    async def test_workers_cannot_create_stations(self, gateway, admin_headers, gateway_tree):
        await gateway.user(admin_headers, "worker", "social_worker", gateway_tree["chenghua"]["id"])
        worker = await gateway.headers_for("worker")
        r = await gateway.post("/v1/stations", json={"parent_id": gateway_tree["chenghua"]["id"], "kind": "township",
                                                     "name": "New"}, headers=worker)
        assert r.status_code == 403 and r.headers["content-type"] == PROBLEM

    async def test_unauthenticated_is_401(self, gateway, root):
        r = await gateway.post("/v1/stations", json={"parent_id": root["id"], "kind": "city", "name": "X"})
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"


class TestListStations:
    async def test_lists_the_callers_own_station(self, gateway, admin_headers, gateway_tree):
        await gateway.user(admin_headers, "head.mzw", "station_head", gateway_tree["mengzhuiwan"]["id"])
        head = await gateway.headers_for("head.mzw")
        r = await gateway.get("/v1/stations", headers=head)
        assert r.status_code == 200
        assert [s["id"] for s in r.json()["items"]] == [gateway_tree["mengzhuiwan"]["id"]]
        as_admin = await gateway.get("/v1/stations", headers=admin_headers)
        assert [s["id"] for s in as_admin.json()["items"]] == [gateway_tree["root"]["id"]]


class TestGetStation:
    async def test_any_role_reads_its_scope(self, gateway, admin_headers, gateway_tree):
        await gateway.user(admin_headers, "volunteer1", "volunteer", gateway_tree["mengzhuiwan"]["id"])
        vol = await gateway.headers_for("volunteer1")
        r = await gateway.get(f"/v1/stations/{gateway_tree['heping']['id']}", headers=vol)
        assert r.status_code == 200 and r.json()["name"] == "Heping" and r.headers["ETag"] == '"1"'

    async def test_outside_the_subtree_is_404_like_a_missing_id(self, gateway, admin_headers, gateway_tree):
        await gateway.user(admin_headers, "head.sq", "station_head", gateway_tree["shuangqiao"]["id"])
        head = await gateway.headers_for("head.sq")
        sibling = await gateway.get(f"/v1/stations/{gateway_tree['mengzhuiwan']['id']}", headers=head)
        parent = await gateway.get(f"/v1/stations/{gateway_tree['chenghua']['id']}", headers=head)
        missing = await gateway.get("/v1/stations/999999", headers=head)
        assert sibling.status_code == parent.status_code == missing.status_code == 404
        assert sibling.json()["detail"] == missing.json()["detail"]
        for path in ("children", "subtree"):
            assert (await gateway.get(f"/v1/stations/{gateway_tree['mengzhuiwan']['id']}/{path}",
                                      headers=head)).status_code \
                == 404
        patch = await gateway.patch(f"/v1/stations/{gateway_tree['mengzhuiwan']['id']}", json={"name": "Mine"},
                                    headers={**head, "If-Match": '"1"'})
        assert patch.status_code == 404


class TestUpdateStation:
    async def test_rename_with_if_match(self, gateway, admin_headers, gateway_tree, db):
        sid = gateway_tree["heping"]["id"]
        seq = await db.fetchval("SELECT change_seq FROM gateway.station WHERE id = $1", sid)
        r = await gateway.patch(f"/v1/stations/{sid}", json={"name": "Heping community", "code": "510108001001"},
                                headers={**admin_headers, "If-Match": '"1"'})
        assert r.status_code == 200, r.text
        assert r.json()["name"] == "Heping community" and r.json()["version"] == 2 and r.headers["ETag"] == '"2"'
        stored = await db.fetchrow("SELECT name, code, version, change_seq FROM gateway.station WHERE id = $1", sid)
        assert (stored["name"], stored["code"], stored["version"]) == ("Heping community", "510108001001", 2)
        assert stored["change_seq"] > seq
        seen = await gateway.get(f"/v1/stations/{sid}", headers=admin_headers)
        assert seen.json()["name"] == "Heping community"

    async def test_clearing_the_code(self, gateway, admin_headers, root):
        station = await gateway.station(admin_headers, root["id"], "city", "Deyang", code="510600")
        r = await gateway.patch(f"/v1/stations/{station['id']}", json={"code": None},
                                headers={**admin_headers, "If-Match": '"1"'})
        assert r.status_code == 200 and r.json()["code"] is None and r.json()["name"] == "Deyang"

    async def test_stale_and_missing_if_match(self, gateway, admin_headers, gateway_tree, db):
        sid = gateway_tree["heping"]["id"]
        missing = await gateway.patch(f"/v1/stations/{sid}", json={"name": "A"}, headers=admin_headers)
        assert missing.status_code == 428
        stale = await gateway.patch(f"/v1/stations/{sid}", json={"name": "A"}, headers={**admin_headers,
                                                                                        "If-Match": '"7"'})
        assert stale.status_code == 412 and stale.json()["current_version"] == 1
        assert await db.fetchval("SELECT name FROM gateway.station WHERE id = $1", sid) == "Heping"

    async def test_name_cannot_be_removed(self, gateway, admin_headers, gateway_tree):
        r = await gateway.patch(f"/v1/stations/{gateway_tree['heping']['id']}", json={"name": None},
                                headers={**admin_headers, "If-Match": '"1"'})
        assert r.status_code == 422 and fields(r.json()) == {"name"}

    async def test_workers_cannot_rename(self, gateway, admin_headers, gateway_tree):
        await gateway.user(admin_headers, "worker", "social_worker", gateway_tree["heping"]["id"])
        worker = await gateway.headers_for("worker")
        r = await gateway.patch(f"/v1/stations/{gateway_tree['heping']['id']}", json={"name": "Mine"},
                                headers={**worker, "If-Match": '"1"'})
        assert r.status_code == 403


class TestMoveStation:
    async def test_moves_the_whole_subtree(self, gateway, admin_headers, gateway_tree, db, cases_client):
        chenghua, mianyang = gateway_tree["chenghua"], gateway_tree["mianyang"]
        before = dict(await db.fetch("SELECT id, change_seq FROM gateway.station"))
        r = await gateway.post(f"/v1/stations/{chenghua['id']}/move", json={"parent_id": mianyang["id"]},
                               headers=admin_headers)
        assert r.status_code == 200, r.text
        new_root = f"{mianyang['path']}{chenghua['id']}/"
        assert r.json()["path"] == new_root and r.json()["parent_id"] == mianyang["id"]
        rows = {row["id"]: row for row in await db.fetch("SELECT * FROM gateway.station")}
        moved = [gateway_tree[k]["id"] for k in ("chenghua", "mengzhuiwan", "shuangqiao", "heping")]
        assert rows[gateway_tree["heping"]["id"]]["path"] == \
            f"{new_root}{gateway_tree['mengzhuiwan']['id']}/{gateway_tree['heping']['id']}/"
        for sid in moved:
            assert rows[sid]["path"].startswith(new_root)
            assert rows[sid]["change_seq"] > before[sid]
        for key in ("root", "chengdu", "mianyang"):
            assert rows[gateway_tree[key]["id"]]["change_seq"] == before[gateway_tree[key]["id"]]

        await gateway.app.state.pusher.sync_now()
        replica = dict(await db.fetch("SELECT id, path FROM cases.station"))
        assert replica == {sid: row["path"] for sid, row in rows.items()}
        projects = dict(await db.fetch("SELECT id, path FROM projects.station"))
        assert projects == replica

    async def test_a_head_below_sees_the_new_path(self, gateway, admin_headers, gateway_tree):
        await gateway.user(admin_headers, "head.mzw", "station_head", gateway_tree["mengzhuiwan"]["id"])
        login = (await gateway.login("head.mzw")).json()
        head = {"Authorization": f"Bearer {login['access_token']}"}
        await gateway.post(f"/v1/stations/{gateway_tree['chenghua']['id']}/move",
                           json={"parent_id": gateway_tree["mianyang"]["id"]},
                           headers=admin_headers)
        # The token carried the old path: it ends with the move; a refreshed one has the new place.
        assert (await gateway.get(f"/v1/stations/{gateway_tree['heping']['id']}", headers=head)).status_code == 401
        r = await gateway.post("/v1/auth/refresh", json={"refresh_token": login["refresh_token"]})
        head = {"Authorization": f"Bearer {r.json()['access_token']}"}
        r = await gateway.get(f"/v1/stations/{gateway_tree['heping']['id']}", headers=head)
        assert r.status_code == 200 and r.json()["path"].startswith(gateway_tree["mianyang"]["path"])

    async def test_not_under_itself_or_a_descendant(self, gateway, admin_headers, gateway_tree, db):
        before = dict(await db.fetch("SELECT id, path FROM gateway.station"))
        for target in ("chenghua", "heping"):
            r = await gateway.post(f"/v1/stations/{gateway_tree['chenghua']['id']}/move",
                                   json={"parent_id": gateway_tree[target]["id"]}, headers=admin_headers)
            assert r.status_code == 409 and r.headers["content-type"] == PROBLEM
            assert r.json()["type"].endswith("station-cycle") and fields(r.json()) == {"parent_id"}
        assert dict(await db.fetch("SELECT id, path FROM gateway.station")) == before

    async def test_kind_order_holds_under_the_new_parent(self, gateway, admin_headers, gateway_tree):
        r = await gateway.post(f"/v1/stations/{gateway_tree['chenghua']['id']}/move",
                               json={"parent_id": gateway_tree["shuangqiao"]["id"]}, headers=admin_headers)
        assert r.status_code == 409  # a descendant: the cycle is the first problem
        r = await gateway.post(f"/v1/stations/{gateway_tree['mianyang']['id']}/move",
                               json={"parent_id": gateway_tree["chenghua"]["id"]}, headers=admin_headers)
        assert r.status_code == 422 and fields(r.json()) == {"parent_id"}

    async def test_admin_only(self, gateway, admin_headers, gateway_tree):
        await gateway.user(admin_headers, "head.city", "station_head", gateway_tree["chengdu"]["id"])
        head = await gateway.headers_for("head.city")
        r = await gateway.post(f"/v1/stations/{gateway_tree['heping']['id']}/move",
                               json={"parent_id": gateway_tree["shuangqiao"]["id"]}, headers=head)
        assert r.status_code == 403


async def coded_siblings(gateway, admin_headers, gateway_tree) -> None:
    """Under Chenghua (beside Mengzhuiwan and Shuangqiao, which have no division code), three
    coded townships made so that their order by id, by name and by code all differ."""
    for name, code in (("Zeta", "510108002"), ("Alpha", None), ("Beta", "510108003"), ("Gamma", "510108001")):
        await gateway.station(admin_headers, gateway_tree["chenghua"]["id"], "township", name,
                              **({"code": code} if code else {}))


# Siblings by division code, then by name; stations without a code after the coded ones.
SIBLING_ORDER = ["Gamma", "Zeta", "Beta", "Alpha", "Mengzhuiwan", "Shuangqiao"]


class TestChildren:
    async def test_siblings_by_code_then_name_across_pages(self, gateway, admin_headers, gateway_tree):
        await coded_siblings(gateway, admin_headers, gateway_tree)
        seen, cursor = [], None
        while True:
            r = await gateway.get(f"/v1/stations/{gateway_tree['chenghua']['id']}/children",
                                  params={"limit": 2, **({"cursor": cursor} if cursor else {})}, headers=admin_headers)
            assert r.status_code == 200, r.text
            seen += [s["name"] for s in r.json()["items"]]
            cursor = r.json()["next_cursor"]
            if not cursor:
                break
        assert seen == SIBLING_ORDER

    async def test_the_drill_down_lists_child_stations_in_the_same_order(self, gateway, admin_headers, gateway_tree):
        await coded_siblings(gateway, admin_headers, gateway_tree)
        await gateway.app.state.pusher.sync_now()
        r = await gateway.get("/v1/stats/breakdown", params={"metric": "person_times",
                                                              "station_id": gateway_tree["chenghua"]["id"]}, headers=admin_headers)
        assert r.status_code == 200, r.text
        assert [row["station"]["name"] for row in r.json()["rows"]] == SIBLING_ORDER

    async def test_pages_through_children_by_name(self, gateway, admin_headers, gateway_tree):
        sid = gateway_tree["chenghua"]["id"]
        first = await gateway.get(f"/v1/stations/{sid}/children", params={"limit": 1}, headers=admin_headers)
        assert first.status_code == 200
        assert [s["name"] for s in first.json()["items"]] == ["Mengzhuiwan"] and first.json()["next_cursor"]
        second = await gateway.get(f"/v1/stations/{sid}/children",
                                   params={"limit": 1, "cursor": first.json()["next_cursor"]}, headers=admin_headers)
        assert [s["name"] for s in second.json()["items"]] == ["Shuangqiao"]
        assert second.json()["next_cursor"] is None

    async def test_bad_cursor_is_422(self, gateway, admin_headers, gateway_tree):
        r = await gateway.get(f"/v1/stations/{gateway_tree['chenghua']['id']}/children", params={"cursor": "nonsense"},
                              headers=admin_headers)
        assert r.status_code == 422 and fields(r.json()) == {"cursor"}


class TestSubtree:
    async def test_flat_list_in_tree_order_with_depth(self, gateway, admin_headers, gateway_tree):
        r = await gateway.get(f"/v1/stations/{gateway_tree['chengdu']['id']}/subtree", headers=admin_headers)
        assert r.status_code == 200
        items = r.json()["items"]
        assert [(s["name"], s["depth"]) for s in items] == [
            ("Chengdu", 0), ("Chenghua", 1), ("Mengzhuiwan", 2), ("Heping", 3), ("Shuangqiao", 2)]

    async def test_each_parent_before_its_children_sorted_by_code_then_name(self, gateway, admin_headers, gateway_tree):
        await coded_siblings(gateway, admin_headers, gateway_tree)
        url = f"/v1/stations/{gateway_tree['chenghua']['id']}/subtree"
        seen, cursor = [], None
        while True:
            r = await gateway.get(url, params={"limit": 3, **({"cursor": cursor} if cursor else {})},
                                  headers=admin_headers)
            assert r.status_code == 200, r.text
            seen += [(s["name"], s["depth"]) for s in r.json()["items"]]
            cursor = r.json()["next_cursor"]
            if not cursor:
                break
        below = [(name, 1) for name in SIBLING_ORDER]
        below.insert(SIBLING_ORDER.index("Mengzhuiwan") + 1, ("Heping", 2))
        assert seen == [("Chenghua", 0), *below]

    async def test_max_depth_and_cursor(self, gateway, admin_headers, gateway_tree):
        url = f"/v1/stations/{gateway_tree['root']['id']}/subtree"
        shallow = await gateway.get(url, params={"max_depth": 1}, headers=admin_headers)
        assert {s["name"] for s in shallow.json()["items"]} == {"省级社工服务平台", "Chengdu", "Mianyang"}
        seen, cursor = [], None
        while True:
            page = await gateway.get(url, params={"limit": 2, **({"cursor": cursor} if cursor else {})},
                                     headers=admin_headers)
            seen += [s["id"] for s in page.json()["items"]]
            cursor = page.json()["next_cursor"]
            if not cursor:
                break
        assert sorted(seen) == sorted(s["id"] for s in gateway_tree.values()) and len(seen) == len(set(seen))


class TestDeleteStation:
    async def test_deletes_a_leaf_softly(self, gateway, admin_headers, gateway_tree, db):
        sid = gateway_tree["heping"]["id"]
        r = await gateway.delete(f"/v1/stations/{sid}", headers=admin_headers)
        assert r.status_code == 204
        assert await db.fetchval("SELECT deleted_at FROM gateway.station WHERE id = $1", sid) is not None
        assert (await gateway.get(f"/v1/stations/{sid}", headers=admin_headers)).status_code == 404
        children = await gateway.get(f"/v1/stations/{gateway_tree['mengzhuiwan']['id']}/children",
                                     headers=admin_headers)
        assert children.json()["items"] == []
        await gateway.app.state.pusher.sync_now()
        assert await db.fetchval("SELECT deleted_at FROM volunteers.station WHERE id = $1", sid) is not None

    async def test_refused_with_children_or_users(self, gateway, admin_headers, gateway_tree, db):
        with_child = await gateway.delete(f"/v1/stations/{gateway_tree['mengzhuiwan']['id']}", headers=admin_headers)
        assert with_child.status_code == 409 and "under it" in with_child.json()["detail"]
        await gateway.user(admin_headers, "worker", "social_worker", gateway_tree["shuangqiao"]["id"])
        with_user = await gateway.delete(f"/v1/stations/{gateway_tree['shuangqiao']['id']}", headers=admin_headers)
        assert with_user.status_code == 409 and "Users" in with_user.json()["detail"]
        assert await db.fetchval("SELECT count(*) FROM gateway.station WHERE deleted_at IS NOT NULL") == 0

    async def test_a_head_cannot_delete_its_own_station(self, gateway, admin_headers, gateway_tree):
        await gateway.user(admin_headers, "head.mzw", "station_head", gateway_tree["mengzhuiwan"]["id"])
        head = await gateway.headers_for("head.mzw")
        assert (await gateway.delete(f"/v1/stations/{gateway_tree['mengzhuiwan']['id']}",
                                     headers=head)).status_code == 403
        assert (await gateway.delete(f"/v1/stations/{gateway_tree['heping']['id']}", headers=head)).status_code == 204
