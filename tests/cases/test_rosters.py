"""Civil-affairs rosters: an import for a station's subtree, validated whole (every problem by row and
column, nothing written when one is bad), rows matched to beneficiaries by the ID-number blind index,
the others registered with source "roster", and a newer roster marking people who left."""

from datetime import timedelta

from tests.fixtures.people import id_number
from tests.volunteers.test_import import as_csv, as_xlsx

HEADER = ["姓名", "身份证号", "人群类别", "村(社区)", "住址", "联系电话"]
ELDER = id_number("51010419400101123")
WIDOW = id_number("51010419450202234")
ORPHAN_AUNT = id_number("51010419600303345")
NEWCOMER = id_number("51010419500404456")


async def upload(client, headers, content: bytes, name: str = "名册.csv", **params):
    return await client.post("/v1/rosters/import", headers=headers, params=params,
                             files={"file": (name, content, "application/octet-stream")})


def first_roster() -> list[list]:
    return [HEADER,
            ["张大爷", ELDER, "特困人员", "Station 4", "和平村3组", "13800000001"],
            ["李奶奶", WIDOW, "elderly_alone", None, None, None],
            ["李奶奶", WIDOW, "tekun", None, None, None]]


class TestImport:
    async def test_a_dry_run_shows_what_would_change_and_writes_nothing(self, cases_client, worker, register, db,
                                                                          today):
        known = await register(worker, name="李奶奶", id_number=WIDOW, populations=["elderly"])
        r = await upload(cases_client, worker, as_csv(first_roster()), dry_run="true")
        assert r.status_code == 200, r.text
        report = r.json()
        assert (report["dry_run"], report["rows"], report["valid_rows"], report["errors"]) == (True, 3, 3, [])
        assert (report["registered"], report["added"], report["updated"], report["left"]) == (1, 3, 0, 0)
        assert [(c["row"], c["action"], c["beneficiary_id"]) for c in report["changes"]] == [
            (2, "register", None), (3, "add", known["id"]), (4, "add", known["id"])]
        assert report["populations"] == ["elderly_alone", "tekun"]
        assert await db.fetchval("SELECT count(*) FROM cases.roster_member") == 0
        assert await db.fetchval("SELECT count(*) FROM cases.beneficiary") == 1

    async def test_every_problem_by_row_and_column_and_nothing_written(self, cases_client, worker, sibling, register,
                                                                       db, today):
        await register(sibling, name="外站", id_number=NEWCOMER)
        rows = [HEADER,
                ["张大爷", ELDER, "特困人员", None, None, None],                       # 2: good
                ["错号", ELDER[:17] + ("0" if ELDER[17] != "0" else "1"), "tekun", None, None, None],  # 3: check digit
                ["无类", WIDOW, "外星人", None, None, None],                             # 4: unknown population
                [None, ORPHAN_AUNT, "dibao", None, None, None],                         # 5: no name
                ["张大爷", ELDER, "tekun", None, None, None],                           # 6: same as row 2
                ["外站", NEWCOMER, "dibao", None, None, "12345"],                       # 7: phone; elsewhere
                ["无号", None, "dibao", None, None, None]]                              # 8: no ID number
        for params in ({"dry_run": "true"}, {}):
            r = await upload(cases_client, worker, as_xlsx(rows), "名册.xlsx", **params)
            assert r.status_code == (200 if params else 422), r.text
            errors = r.json()["errors"]
            got = {(e["row"], e["column"]) for e in errors}
            assert got == {(3, "id_number"), (4, "population"), (5, "name"), (6, "id_number"), (7, "phone"),
                           (8, "id_number")}, errors
        assert r.headers["content-type"] == "application/problem+json"
        assert await db.fetchval("SELECT count(*) FROM cases.roster_member") == 0
        assert await db.fetchval("SELECT count(*) FROM cases.roster_import") == 0
        assert await db.fetchval("SELECT count(*) FROM cases.beneficiary") == 1
        # Without the phone problem, the person registered at the sibling station is named nowhere.
        rows[6][5] = None
        r = await upload(cases_client, worker, as_csv([HEADER, rows[6]]), dry_run="true")
        assert r.json()["errors"] == [{"row": 2, "column": "id_number", "code": "registered_elsewhere",
                                       "reason": r.json()["errors"][0]["reason"], "existing_id": None}]

    async def test_bad_file_and_header(self, cases_client, worker, tree):
        r = await upload(cases_client, worker, as_csv([["姓名", "住址"], ["张", "x"]]))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"
        assert "id_number" in r.json()["errors"][0]["message"]
        r = await upload(cases_client, worker, b"PK\x03\x04broken", "x.xlsx")
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "unreadable"
        r = await upload(cases_client, worker, as_csv(first_roster()), station_id=3)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "station_id"


class TestImportAndReimport:
    async def test_register_match_update_and_leave(self, cases_client, worker, head, official, register, db, today):
        known = await register(worker, name="李奶奶", id_number=WIDOW, populations=["elderly"])
        listed = today - timedelta(days=40)
        r = await upload(cases_client, worker, as_csv(first_roster()), listed_on=listed.isoformat())
        assert r.status_code == 201, r.text
        first = r.json()
        assert first["id"] and (first["registered"], first["added"], first["left"]) == (1, 3, 0)
        elder_id = first["changes"][0]["beneficiary_id"]

        # The new person: registered at the village room the roster names, source roster, the ID sealed.
        elder = (await cases_client.get(f"/v1/beneficiaries/{elder_id}", headers=head)).json()
        assert (elder["station_id"], elder["source"], elder["id_number"]) == (4, "roster", ELDER)
        assert elder["birth_on"] == "1940-01-01" and elder["populations"] == ["tekun"]
        listed_mask = (await cases_client.get("/v1/beneficiaries", headers=worker,
                                              params={"id_number": ELDER})).json()["items"]
        assert listed_mask[0]["id_number"] != ELDER and listed_mask[0]["source"] == "roster"
        stored = await db.fetchrow("SELECT id_number_enc, phone_enc, address FROM cases.beneficiary WHERE id = $1",
                                   elder_id)
        assert ELDER not in stored["id_number_enc"] and "13800000001" not in stored["phone_enc"]
        # The person matched: on both rosters, and in both populations now.
        widow = (await cases_client.get(f"/v1/beneficiaries/{known['id']}", headers=worker)).json()
        assert widow["source"] == "direct" and widow["populations"] == ["elderly", "elderly_alone", "tekun"]
        membership = (await cases_client.get(f"/v1/beneficiaries/{known['id']}/rosters", headers=worker)).json()
        assert [(m["population"], m["joined_on"], m["left_on"]) for m in membership["items"]] == [
            ("elderly_alone", listed.isoformat(), None), ("tekun", listed.isoformat(), None)]

        # A newer roster: the elder moved to another village, the widow is no longer on the tekun roster,
        # a newcomer is on it. The elderly_alone roster is not in this file: its members stay.
        newer = today - timedelta(days=5)
        rows = [HEADER, ["张大爷", ELDER, "tekun", "和平村", None, None],
                ["新人", NEWCOMER, "tekun", None, None, None]]
        dry = (await upload(cases_client, worker, as_csv(rows), listed_on=newer.isoformat(), dry_run="true")).json()
        assert (dry["registered"], dry["added"], dry["updated"], dry["left"], dry["leaving"]) == (
            1, 1, 1, 1, [known["id"]])
        r = await upload(cases_client, worker, as_csv(rows), listed_on=newer.isoformat())
        assert r.status_code == 201, r.text
        membership = (await cases_client.get(f"/v1/beneficiaries/{known['id']}/rosters", headers=worker)).json()
        assert [(m["population"], m["left_on"]) for m in membership["items"]] == [
            ("elderly_alone", None), ("tekun", newer.isoformat())]
        elder_rosters = (await cases_client.get(f"/v1/beneficiaries/{elder_id}/rosters", headers=worker)).json()
        assert [(m["village"], m["joined_on"]) for m in elder_rosters["items"]] == [("和平村", listed.isoformat())]
        # Nobody was deleted.
        assert await db.fetchval("SELECT count(*) FROM cases.roster_member WHERE deleted_at IS NOT NULL") == 0
        assert await db.fetchval("SELECT count(*) FROM cases.roster_member") == 4

        # An older roster than the one imported is refused, naming the date.
        r = await upload(cases_client, worker, as_csv(rows), listed_on=listed.isoformat())
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "listed_on"

        imports = (await cases_client.get("/v1/rosters", headers=worker)).json()["items"]
        assert [(i["listed_on"], i["registered"], i["added"], i["updated"], i["left"]) for i in imports] == [
            (newer.isoformat(), 1, 1, 1, 1), (listed.isoformat(), 1, 3, 0, 0)]
        assert (await cases_client.get("/v1/rosters", headers=official)).status_code == 403
        assert (await cases_client.get(f"/v1/beneficiaries/{elder_id}/rosters", headers=official)).status_code == 404
        audited = await db.fetchval("SELECT count(*) FROM cases.audit_log WHERE record_table = 'roster_member' "
                                    "AND action = 'create'")
        assert audited == 4
