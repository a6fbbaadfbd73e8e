"""POST /v1/beneficiaries/lookup: which ids the caller can see, with their populations and person numbers."""


class TestLookupBeneficiaries:
    async def test_scoped_and_silent_about_the_rest(self, cases_client, register, worker, sibling, city_head, db):
        mine = await register(worker, populations=["elderly", "disabled"])
        theirs = await register(sibling, name="李四")
        body = {"ids": [mine["id"], theirs["id"], "no-such-id", mine["id"]]}
        r = await cases_client.post("/v1/beneficiaries/lookup", json=body, headers=worker)
        assert r.status_code == 200, r.text
        number = await db.fetchval("SELECT person_no FROM cases.beneficiary WHERE id = $1", mine["id"])
        assert r.json() == {"items": [{"id": mine["id"], "station_id": 2, "populations": ["elderly", "disabled"],
                                       "person_no": number}]}
        r = await cases_client.post("/v1/beneficiaries/lookup", json=body, headers=city_head)
        assert {i["id"] for i in r.json()["items"]} == {mine["id"], theirs["id"]}

    async def test_officials_and_limits(self, cases_client, tree, official, worker):
        assert (await cases_client.post("/v1/beneficiaries/lookup", json={"ids": ["x"]},
                                        headers=official)).status_code == 403
        r = await cases_client.post("/v1/beneficiaries/lookup", json={"ids": [f"id{i}" for i in range(501)]},
                                    headers=worker)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "ids"
        assert (await cases_client.post("/v1/beneficiaries/lookup", json={"ids": []},
                                        headers=worker)).json() == {"items": []}
