"""Population codes: seeded by the migration, extended by admins, checked on beneficiaries."""

from tests.fixtures.stations import station_rows


class TestListPopulations:
    async def test_seeded_codes_with_labels(self, cases_client, tree, official):
        r = await cases_client.get("/v1/populations", headers=official)
        assert r.status_code == 200
        items = {p["code"]: p for p in r.json()["items"]}
        assert {"elderly", "child_left_behind", "dibao", "tekun", "disabled_severe", "other"} <= set(items)
        assert items["dibao"]["label_zh"] == "低保对象"
        assert items["elderly_alone"]["label_en"] == "Elders living alone"


class TestAddPopulation:
    async def test_admin_adds_and_it_becomes_usable(self, cases_client, admin_token, worker, register, db):
        r = await cases_client.post("/v1/populations", headers=admin_token,
                                    json={"code": "veteran", "label_zh": "退役军人", "label_en": "Veterans"})
        assert r.status_code == 201 and r.json()["code"] == "veteran"
        await register(worker, populations=["veteran"])
        again = await cases_client.post("/v1/populations", headers=admin_token,
                                        json={"code": "veteran", "label_zh": "x", "label_en": "x"})
        assert again.status_code == 409

    async def test_only_admin(self, cases_client, tree, head, db):
        r = await cases_client.post("/v1/populations", headers=head,
                                    json={"code": "veteran", "label_zh": "退役军人", "label_en": "Veterans"})
        assert r.status_code == 403
        assert await db.fetchval("SELECT count(*) FROM cases.population WHERE code = 'veteran'") == 0

    async def test_only_an_admin_of_the_root_or_a_province(self, cases_client, tree, token_for, service_headers, db):
        """Codes are platform-wide: an administrator bound to one township cannot add them for all."""
        body = {"code": "veteran", "label_zh": "退役军人", "label_en": "Veterans"}
        township_admin = token_for("admin", 2, "/1/2/", user_id="a2")
        r = await cases_client.post("/v1/populations", headers=township_admin, json=body)
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json", r.text
        assert await db.fetchval("SELECT count(*) FROM cases.population WHERE code = 'veteran'") == 0
        # Under a national root, a province's administrator may.
        r = await cases_client.put("/internal/stations", headers=service_headers,
                                   json={"stations": station_rows("/1/11/", kind="province")})
        assert r.status_code == 200, r.text
        r = await cases_client.post("/v1/populations", json=body,
                                    headers=token_for("admin", 11, "/1/11/", user_id="a11"))
        assert r.status_code == 201, r.text

    async def test_bad_code(self, cases_client, tree, admin_token):
        r = await cases_client.post("/v1/populations", headers=admin_token,
                                    json={"code": "Bad Code", "label_zh": "x", "label_en": "x"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "code"
