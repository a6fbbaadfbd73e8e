"""Roster import from .xlsx or CSV: a dry run reports every bad row; a real run writes all good rows or none."""

import csv
import io

from openpyxl import Workbook

from tests.fixtures.people import ID_BORN_1970, ID_BORN_1985, ID_BORN_1990, minor_id

HEADER = ["姓名", "证件类型", "证件号码", "手机", "性别", "技能", "监护人", "监护人关系", "监护人同意日期"]


def roster_rows(today) -> list[list]:
    return [
        ["王一", "身份证", ID_BORN_1985, "13800000001", "男", "医疗、心理", None, None, None],          # row 2: good
        ["李二", "身份证", ID_BORN_1985[:17] + ("0" if ID_BORN_1985[17] != "0" else "1"), None, None, None, None, None,
         None],  # 3: check digit
        ["赵三", "身份证", ID_BORN_1970, "12345", "女", None, None, None, None],                        # 4: phone
        ["钱四", "身份证", minor_id(), None, None, None, None, None, None],                      # 5: minor, no consent
        ["孙五", "身份证", ID_BORN_1970, None, None, None, None, None,
         None],                            # 6: duplicate of row 4's number
        ["周六", "身份证", ID_BORN_1990, None, None, None, None, None,
         None],                            # 7: already registered
        [None, "护照", "E7654321", None, None, None, None, None, None],                        # 8: no name, no birth date
        ["吴七", "身份证", minor_id(), None, "女", None, "吴妈", "mother", today.isoformat()],  # 9: same as row 5
    ]


def as_csv(rows, encoding="utf-8-sig") -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode(encoding)


def as_xlsx(rows) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


async def upload(client, headers, content: bytes, name: str, **params):
    return await client.post("/v1/volunteers/import", headers=headers, params=params,
                             files={"file": (name, content, "application/octet-stream")})


class TestImportRoster:
    async def test_dry_run_reports_every_bad_row_and_writes_nothing(self, volunteers_client, worker, register, db,
                                                                    today):
        existing = await register(worker, id_number=ID_BORN_1990)
        r = await upload(volunteers_client, worker, as_xlsx([HEADER, *roster_rows(today)]), "roster.xlsx",
                         dry_run="true")
        assert r.status_code == 200, r.text
        report = r.json()
        problems = {(e["row"], e["column"], e["code"]) for e in report["errors"]}
        assert {(3, "id_number"), (4, "phone"), (5, "guardian_name"), (6, "id_number"), (7, "id_number"),
                (8, "name"), (9, "id_number")} <= {(row, col) for row, col, _ in problems}, report
        assert {row for row, _, _ in problems} == {3, 4, 5, 6, 7, 8, 9}
        assert (6, "id_number", "duplicate_in_file") in problems and (7, "id_number", "duplicate") in problems
        assert (9, "id_number", "duplicate_in_file") in problems  # the same minor as row 5
        assert next(e for e in report["errors"] if e["row"] == 7)["existing_id"] == existing["id"]
        assert report["rows"] == 8 and report["valid_rows"] == 1 and report["created"] == 0
        assert all(ID_BORN_1985 not in e["reason"] for e in report["errors"])
        assert await db.fetchval("SELECT count(*) FROM volunteers.volunteer") == 1

    async def test_real_run_with_a_bad_row_writes_none(self, volunteers_client, worker, tree, db, today):
        r = await upload(volunteers_client, worker, as_csv([HEADER, *roster_rows(today)]), "roster.csv")
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["valid_rows"] == 2 and {e["row"] for e in body["errors"]} == {3, 4, 5, 6, 8, 9}
        assert all({"row", "column", "field", "message"} <= set(e) for e in body["errors"])
        assert await db.fetchval("SELECT count(*) FROM volunteers.volunteer") == 0
        assert await db.fetchval("SELECT count(*) FROM volunteers.daily_stat") == 0

    async def test_real_run_of_good_rows_writes_all(self, volunteers_client, worker, db, tree, today):
        rows = [HEADER, ["王一", "身份证", ID_BORN_1985, "13800000001", "男", "医疗、心理", None, None, None],
                ["", "", "", "", "", "", "", "", ""],
                ["吴七", "身份证", minor_id(), None, "女", None, "吴妈", "mother", today.isoformat()]]
        header = ["name", "id_type", "id_number"]
        r = await upload(volunteers_client, worker, as_csv(rows, "gb18030"), "名单.csv", station_id=4)
        assert r.status_code == 201, r.text
        assert r.json()["created"] == 2 and len(r.json()["ids"]) == 2
        stored = await db.fetch("SELECT name, skills, station_id, guardian_name FROM volunteers.volunteer ORDER BY name")
        assert [(s["name"], s["station_id"]) for s in stored] == [("吴七", 4), ("王一", 4)]
        assert stored[1]["skills"] == ["医疗", "心理"] and stored[0]["guardian_name"] == "吴妈"
        r = await upload(volunteers_client, worker, as_csv([header, ["Anna", "passport", "E7654321"]]), "en.csv")
        assert r.status_code == 422 and r.json()["errors"][0]["column"] == "birth_on"
        assert await db.fetchval("SELECT sum(value) FROM volunteers.daily_stat") == 2

    async def test_limits_and_unreadable_files(self, volunteers_client, worker, supervisor, tree, db):
        rows = [HEADER] + [[f"人{i}", "身份证", ID_BORN_1970] for i in range(2001)]
        r = await upload(volunteers_client, worker, as_csv(rows), "big.csv", dry_run="true")
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "too_many_rows"
        r = await upload(volunteers_client, worker, b"x" * 1_100_000, "huge.csv")
        assert r.status_code == 413
        r = await upload(volunteers_client, worker, b"PK\x03\x04 not a workbook", "bad.xlsx")
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"
        r = await upload(volunteers_client, worker, as_csv([["姓名", "电话"], ["王一", "1"]]), "x.csv")
        assert r.status_code == 422 and "id_number" in r.json()["detail"]
        r = await upload(volunteers_client, supervisor, as_csv([HEADER]), "x.csv")
        assert r.status_code == 403
        assert await db.fetchval("SELECT count(*) FROM volunteers.volunteer") == 0


class TestPeopleRegisteredElsewhere:
    async def test_a_dry_run_names_nothing_of_them_and_counts_each_as_an_attempt(self, volunteers_client, worker,
                                                                                 sibling, register, monkeypatch,
                                                                                 volunteers_app, db, today):
        theirs = await register(sibling, id_number=ID_BORN_1990)
        roster = as_csv([["姓名", "证件号码"], ["张三", ID_BORN_1990], ["李四", ID_BORN_1985]])
        r = await upload(volunteers_client, worker, roster, "roster.csv", dry_run="true")
        assert r.status_code == 200, r.text
        assert r.json()["errors"] == [{"row": 2, "column": "id_number", "code": "registered_elsewhere",
                                       "reason": "This person is registered at another station: ask for a transfer.",
                                       "existing_id": None}]
        assert theirs["id"] not in r.text and "/1/3/" not in r.text
        assert await db.fetchval("SELECT count(*) FROM volunteers.audit_log WHERE action = 'id_number_elsewhere' "
                                 "AND actor_id = 'w2' AND record_id = $1", theirs["id"]) == 1
        # A file cannot probe more people than a user may one by one.
        monkeypatch.setattr(volunteers_app.state.settings, "duplicate_id_attempts_per_hour", 1)
        r = await upload(volunteers_client, worker, roster, "roster.csv", dry_run="true")
        assert r.status_code == 429, r.text
