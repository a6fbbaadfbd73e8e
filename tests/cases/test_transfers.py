"""Transfers of a person to another station: what moves, what stays, and the figures before and after,
checked against a ledger the test keeps of where each record was on each day.

Tree (tests/fixtures/stations.py): 1 (city) > 2 (township) > 4 (village room); 1 > 3 (sibling township);
9 > 10 (another province)."""

from datetime import date, timedelta

import pytest

from tests.cases.test_rosters import HEADER, upload
from tests.cases.test_sync import pull, push, tablet_service_record
from tests.fixtures.counting import internal_stats, rows_of
from tests.fixtures.people import id_number
from tests.volunteers.test_import import as_csv

pytestmark = pytest.mark.usefixtures("tree")

PERSON_ID = id_number("51010419400101123")
COUNTED = ("person_times.casework", "person_times.visit", "cases.open", "cases.new",
           "beneficiaries.registered", "roster.members", "roster.visited", "roster.overdue")


def under(path: str, scope: str) -> bool:
    return path.startswith(scope)


class Ledger:
    """Where the test put each thing on which day, and what each figure must therefore be."""

    def __init__(self, today: date) -> None:
        self.today = today
        self.cases: dict[str, dict] = {}  # id -> {opened, closed, moves: [(day, path)]}
        self.people: dict[str, list] = {}  # id -> [(day, path)]: where the person (and their roster rows) is
        self.served: list[tuple[str, str, date]] = []  # (metric, path, day): stay where given

    def open_case(self, case_id: str, path: str, on: date) -> None:
        self.cases[case_id] = {"opened": on, "closed": None, "moves": [(on, path)]}

    def move(self, person: str, path: str, case_ids: list[str]) -> None:
        self.people[person].append((self.today, path))
        for cid in case_ids:
            self.cases[cid]["moves"].append((self.today, path))

    @staticmethod
    def _at(moves: list, day: date) -> str:
        return [p for d, p in moves if d <= day][-1]

    def open_on(self, scope: str, day: date) -> int:
        return sum(1 for c in self.cases.values()
                   if c["opened"] <= day and (c["closed"] is None or c["closed"] > day)
                   and under(self._at(c["moves"], day), scope))

    def new(self, scope: str) -> int:
        return sum(1 for c in self.cases.values() if under(c["moves"][0][1], scope))

    def members(self, scope: str, day: date | None = None) -> int:
        """On a roster in `scope` at the end of `day` (today): where the person was that day."""
        return sum(1 for moves in self.people.values() if under(self._at(moves, day or self.today), scope))

    def registered(self, scope: str) -> int:
        # A registration moves with the person (docs/counting.md).
        return sum(1 for moves in self.people.values() if under(moves[-1][1], scope))

    def given(self, metric: str, scope: str) -> int:
        return sum(1 for m, p, _ in self.served if m == metric and under(p, scope))


async def figures(cases_client, service_headers, today, scope: str, **query) -> dict:
    answer = await internal_stats(cases_client, service_headers, today, station_path=scope,
                                  metrics=list(COUNTED), **{"from": (today - timedelta(days=20)).isoformat(), **query})
    got = dict.fromkeys(COUNTED, 0)
    got.update({m: v for (m,), v in rows_of(answer, "metric").items()})
    return got


async def open_daily(cases_client, service_headers, today, scope: str) -> dict[date, int]:
    answer = await internal_stats(cases_client, service_headers, today, station_path=scope, metrics=["cases.open"],
                                  group_by=["day"], **{"from": (today - timedelta(days=12)).isoformat()})
    return {date.fromisoformat(p): v for (p,), v in rows_of(answer, "period").items()}


@pytest.fixture
async def story(cases_client, worker, today):
    """A person on station 2's tekun roster, with an open case (a referral and a service record on it),
    a closed case, and a visit: the ledger of it all."""
    ledger = Ledger(today)
    roster = as_csv([HEADER, ["张大爷", PERSON_ID, "tekun", None, None, None]])
    r = await upload(cases_client, worker, roster, listed_on=(today - timedelta(days=15)).isoformat())
    assert r.status_code == 201, r.text
    person = r.json()["changes"][0]["beneficiary_id"]
    ledger.people[person] = [(today - timedelta(days=15), "/1/2/")]
    opened = today - timedelta(days=10)
    ids = {"person": person}
    for name in ("open", "closed"):
        r = await cases_client.post("/v1/cases", headers=worker, json={
            "beneficiary_id": person, "title": "独居老人照护", "opened_on": opened.isoformat()})
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]
        ledger.open_case(ids[name], "/1/2/", opened)
    closed_on = today - timedelta(days=8)
    r = await cases_client.post(f"/v1/cases/{ids['closed']}/close", headers=worker,
                                json={"on": closed_on.isoformat(), "reason": "client_withdrew"})
    assert r.status_code == 200, r.text
    ledger.cases[ids["closed"]]["closed"] = closed_on
    served_on = today - timedelta(days=5)
    r = await cases_client.post(f"/v1/cases/{ids['open']}/service-records", headers=worker, json={
        "served_on": served_on.isoformat(), "mode": "home_visit", "content": "送餐", "service_type": "resource_linking"})
    assert r.status_code == 201, r.text
    ids["record"] = r.json()["id"]
    r = await cases_client.post(f"/v1/cases/{ids['open']}/referrals", headers=worker, json={
        "agency": "区残联", "referred_on": served_on.isoformat()})
    assert r.status_code == 201, r.text
    ids["referral"] = r.json()["id"]
    r = await cases_client.post(f"/v1/beneficiaries/{person}/visits", headers=worker,
                                json={"visited_on": served_on.isoformat(), "mode": "home_visit"})
    assert r.status_code == 201, r.text
    ids["visit"] = r.json()["id"]
    ledger.served += [("person_times.casework", "/1/2/", served_on), ("person_times.visit", "/1/2/", served_on)]
    return ids, ledger


async def check_figures(cases_client, service_headers, today, ledger: Ledger) -> None:
    """Every figure at the old station (2), the new one (3 or the room 4), and their ancestors."""
    for scope in ("/1/", "/1/2/", "/1/2/4/", "/1/3/"):
        got = await figures(cases_client, service_headers, today, scope)
        assert got["cases.open"] == ledger.open_on(scope, today), scope
        assert got["roster.members"] == ledger.members(scope), scope
        # Visited in the period: the visit counts for the person wherever they are on the roster now.
        assert got["roster.visited"] == ledger.members(scope), scope
        assert got["roster.overdue"] == 0, scope
        assert got["person_times.casework"] == ledger.given("person_times.casework", scope), scope
        assert got["person_times.visit"] == ledger.given("person_times.visit", scope), scope
        # Cases opened at 2 stay opened there: cases.new is history.
        assert got["cases.new"] == ledger.new(scope), scope
        assert got["beneficiaries.registered"] == ledger.registered(scope), scope
        # Coverage of a period that ended before the move: the person counts where they were then.
        yesterday = today - timedelta(days=1)
        before = await figures(cases_client, service_headers, yesterday, scope)
        assert (before["roster.members"], before["roster.visited"]) == (ledger.members(scope, yesterday),) * 2, scope
        daily = await open_daily(cases_client, service_headers, today, scope)
        for day in (today - timedelta(days=d) for d in range(12)):
            assert daily.get(day, 0) == ledger.open_on(scope, day), (scope, day)


async def transfer(cases_client, headers, person: str, to: int, expect: int, **body) -> dict:
    r = await cases_client.post(f"/v1/beneficiaries/{person}/transfer", headers=headers,
                                json={"to_station_id": to, "reason": "搬家到双桥街道", **body})
    assert r.status_code == expect, r.text
    return r.json()


async def stored(db, ids: dict) -> dict:
    """What a second reader finds of the story's records: each one's station."""
    out = {}
    for table, key in (("beneficiary", "person"), ("case", "open"), ("case", "closed"), ("service_record", "record"),
                       ("referral", "referral"), ("visit", "visit")):
        out[key] = await db.fetchval(f'SELECT station_id FROM cases."{table}" WHERE id = $1', ids[key])
    out["roster"] = await db.fetchval("SELECT station_id FROM cases.roster_member WHERE beneficiary_id = $1",
                                      ids["person"])
    out["transfers"] = await db.fetchval("SELECT count(*) FROM cases.transfer")
    out["daily_stat"] = await db.fetchval("SELECT coalesce(sum(value), 0) FROM cases.daily_stat")
    return out


class TestDirectTransfer:
    async def test_within_the_callers_subtree_moves_at_once(self, cases_client, service_headers, city_head,
                                                             sibling, worker, story, today, db):
        ids, ledger = story
        await check_figures(cases_client, service_headers, today, ledger)
        # The city's head moves the person from township 2 to township 3: both in her subtree.
        body = await transfer(cases_client, city_head, ids["person"], 3, 201)
        assert body["status"] == "accepted" and body["direct"] is True
        assert body["from_station_id"] == 2 and body["to_station_id"] == 3
        assert body["case_ids"] == [ids["open"]] and body["transferred_on"] == today.isoformat()
        ledger.move(ids["person"], "/1/3/", [ids["open"]])
        await check_figures(cases_client, service_headers, today, ledger)
        # What moved and what stayed where it was given.
        where = await stored(db, ids)
        del where["daily_stat"]
        assert where == {"person": 3, "open": 3, "closed": 2, "record": 2, "referral": 3, "visit": 2, "roster": 3,
                         "transfers": 1}
        # Audited: the transfer, the person, the case and each record moved with them, by the city's head.
        logged = {(r["record_table"], r["record_id"]) for r in await db.fetch(
            "SELECT record_table, record_id FROM cases.audit_log WHERE actor_id = 'h1' AND action = 'update'")}
        roster_row = await db.fetchval("SELECT id FROM cases.roster_member WHERE beneficiary_id = $1", ids["person"])
        assert {("beneficiary", ids["person"]), ("case", ids["open"]), ("referral", ids["referral"]),
                ("roster_member", roster_row)} <= logged
        assert await db.fetchval("SELECT count(*) FROM cases.audit_log WHERE actor_id = 'h1' AND action = 'create' "
                                 "AND record_table = 'transfer'") == 1
        # The person counts among the persons served at 2, where they were served, and nowhere else.
        assert {r[0] for r in await db.fetch("SELECT DISTINCT station_id FROM cases.person_day")} == {2}
        # The new station works with the person and the case; the old one no longer sees them.
        assert (await cases_client.get(f"/v1/beneficiaries/{ids['person']}", headers=sibling)).status_code == 200
        assert (await cases_client.get(f"/v1/cases/{ids['open']}", headers=sibling)).status_code == 200
        assert (await cases_client.get(f"/v1/beneficiaries/{ids['person']}", headers=worker)).status_code == 404
        # Their due visit is the new station's, dated from the visit the old station made.
        for headers, listed in ((sibling, True), (worker, False)):
            due = (await cases_client.get("/v1/rosters/visits-due", headers=headers,
                                          params={"within_days": 60})).json()["items"]
            assert [(d["beneficiary_id"], d["station_id"], d["last_visited_on"]) for d in due] == (
                [(ids["person"], 3, (today - timedelta(days=5)).isoformat())] if listed else [])
        events = (await cases_client.get(f"/v1/cases/{ids['open']}/events", headers=sibling)).json()["items"]
        assert [e["action"] for e in events][-2:] == ["transfer_out", "transfer_in"]
        # The case goes on at the new station: closing it there takes it off the new station's stock.
        r = await cases_client.post(f"/v1/cases/{ids['open']}/close", headers=sibling, json={"reason": "client_withdrew"})
        assert r.status_code == 200, r.text
        ledger.cases[ids["open"]]["closed"] = today
        await check_figures(cases_client, service_headers, today, ledger)

    async def test_deleting_a_moved_case_takes_its_counts_back_where_they_were_made(
            self, cases_client, service_headers, city_head, sibling, story, today, db):
        ids, ledger = story
        await transfer(cases_client, city_head, ids["person"], 3, 201)
        ledger.move(ids["person"], "/1/3/", [ids["open"]])
        case = await cases_client.get(f"/v1/cases/{ids['open']}", headers=sibling)
        r = await cases_client.delete(f"/v1/cases/{ids['open']}", headers={**sibling, "If-Match": case.headers["etag"]})
        assert r.status_code == 204, r.text
        # The case and its service record were never there: at 2 (where it opened and was served) and at 3.
        del ledger.cases[ids["open"]]
        ledger.served = [s for s in ledger.served if s[0] != "person_times.casework"]
        await check_figures(cases_client, service_headers, today, ledger)
        left = await db.fetchval("SELECT count(*) FROM (SELECT station_id, day FROM cases.daily_stat "
                                 "WHERE metric = 'cases.open' AND station_id = 3 GROUP BY 1, 2 "
                                 "HAVING sum(value) <> 0) x")
        assert left == 0

    async def test_into_a_room_of_ones_own_station(self, cases_client, service_headers, worker, room_worker, story,
                                                   today, db):
        ids, ledger = story
        body = await transfer(cases_client, worker, ids["person"], 4, 201)
        assert body["status"] == "accepted" and body["direct"] is True
        ledger.move(ids["person"], "/1/2/4/", [ids["open"]])
        await check_figures(cases_client, service_headers, today, ledger)
        assert (await cases_client.get(f"/v1/beneficiaries/{ids['person']}", headers=room_worker)).status_code == 200


class TestRequestedTransfer:
    async def test_the_receiving_head_accepts(self, cases_client, service_headers, worker, head, sibling,
                                              sibling_head, official, supervisor, story, today, db):
        ids, ledger = story
        body = await transfer(cases_client, worker, ids["person"], 3, 202)
        assert body["status"] == "pending" and body["direct"] is False and body["transferred_on"] is None
        tid = body["id"]
        nothing_yet = await stored(db, ids)
        assert (nothing_yet["person"], nothing_yet["open"], nothing_yet["roster"]) == (2, 2, 2)
        await check_figures(cases_client, service_headers, today, ledger)
        # Both sides see it: incoming at 3, outgoing at 2.
        incoming = (await cases_client.get("/v1/transfers", headers=sibling_head,
                                           params={"direction": "incoming", "status": "pending"})).json()["items"]
        assert [t["id"] for t in incoming] == [tid] and incoming[0]["beneficiary_name"] == "张大爷"
        outgoing = (await cases_client.get("/v1/transfers", headers=worker,
                                           params={"direction": "outgoing"})).json()["items"]
        assert [t["id"] for t in outgoing] == [tid]
        assert (await cases_client.get("/v1/transfers", headers=worker,
                                       params={"direction": "incoming"})).json()["items"] == []
        # Who may not decide: the requesting side, a worker of the receiving station, an official, a supervisor.
        for headers, code in ((worker, 403), (head, 403), (sibling, 403), (official, 404), (supervisor, 403)):
            r = await cases_client.post(f"/v1/transfers/{tid}/accept", headers=headers)
            assert r.status_code == code, (headers, r.text)
        assert await stored(db, ids) == nothing_yet
        # A second request while one waits.
        await transfer(cases_client, worker, ids["person"], 3, 409)
        r = await cases_client.post(f"/v1/transfers/{tid}/accept", headers=sibling_head, json={"note": "欢迎"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "accepted" and r.json()["decided_by"] == "h3"
        assert r.json()["case_ids"] == [ids["open"]]
        ledger.move(ids["person"], "/1/3/", [ids["open"]])
        await check_figures(cases_client, service_headers, today, ledger)
        assert (await cases_client.post(f"/v1/transfers/{tid}/accept", headers=sibling_head)).status_code == 409
        assert (await cases_client.post(f"/v1/transfers/{tid}/decline", headers=sibling_head)).status_code == 409
        # The requester still reads the transfer (outgoing), no longer the person.
        assert (await cases_client.get(f"/v1/transfers/{tid}", headers=worker)).json()["status"] == "accepted"
        assert (await cases_client.get(f"/v1/beneficiaries/{ids['person']}", headers=worker)).status_code == 404

    async def test_a_declined_request_changes_nothing(self, cases_client, service_headers, worker, sibling_head,
                                                      story, today, db):
        ids, ledger = story
        tid = (await transfer(cases_client, worker, ids["person"], 3, 202))["id"]
        before = await stored(db, ids)
        r = await cases_client.post(f"/v1/transfers/{tid}/decline", headers=sibling_head,
                                    json={"note": "不在本辖区"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "declined" and r.json()["decision_note"] == "不在本辖区"
        assert await stored(db, ids) == before
        await check_figures(cases_client, service_headers, today, ledger)
        assert (await cases_client.post(f"/v1/transfers/{tid}/accept", headers=sibling_head)).status_code == 409
        # Declined, it no longer blocks a new request.
        await transfer(cases_client, worker, ids["person"], 3, 202)

    async def test_a_withdrawn_request_changes_nothing_and_frees_the_person(
            self, cases_client, service_headers, worker, sibling_head, story, today, db):
        ids, ledger = story
        tid = (await transfer(cases_client, worker, ids["person"], 3, 202))["id"]
        before = await stored(db, ids)
        # Only the side the person would leave withdraws; the receiving head cannot.
        r = await cases_client.post(f"/v1/transfers/{tid}/withdraw", headers=sibling_head)
        assert r.status_code == 403, r.text
        r = await cases_client.post(f"/v1/transfers/{tid}/withdraw", headers=worker, json={"note": "家属改变主意"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "withdrawn" and r.json()["decision_note"] == "家属改变主意"
        assert await stored(db, ids) == before
        await check_figures(cases_client, service_headers, today, ledger)
        assert (await cases_client.post(f"/v1/transfers/{tid}/accept", headers=sibling_head)).status_code == 409
        assert (await cases_client.post(f"/v1/transfers/{tid}/withdraw", headers=worker)).status_code == 409
        # Withdrawn, it no longer blocks a new request.
        await transfer(cases_client, worker, ids["person"], 3, 202)

    async def test_a_request_overtaken_by_a_move(self, cases_client, worker, sibling_head, story, db):
        ids, _ = story
        tid = (await transfer(cases_client, worker, ids["person"], 3, 202))["id"]
        await transfer(cases_client, worker, ids["person"], 4, 201)
        r = await cases_client.post(f"/v1/transfers/{tid}/accept", headers=sibling_head)
        assert r.status_code == 409 and r.json()["type"].endswith("person-moved-since"), r.text
        assert await db.fetchval("SELECT station_id FROM cases.beneficiary WHERE id = $1", ids["person"]) == 4


class TestRefused:
    async def test_out_of_scope_and_bad_input_write_nothing(self, cases_client, service_headers, worker, head, sibling,
                                                            official, supervisor, token_for, story, today, db):
        ids, ledger = story
        before = await stored(db, ids)
        volunteer = token_for("volunteer", 2, "/1/2/", user_id="v2")
        for headers, code in ((sibling, 404), (official, 404), (volunteer, 404), (supervisor, 403)):
            r = await cases_client.post(f"/v1/beneficiaries/{ids['person']}/transfer", headers=headers,
                                        json={"to_station_id": 3, "reason": "搬家"})
            assert r.status_code == code, (headers, r.text)
            assert r.headers["content-type"] == "application/problem+json"
        for body, field, code in (({"to_station_id": 999_999, "reason": "x"}, "to_station_id", "unknown_station"),
                                  ({"to_station_id": 10, "reason": "x"}, "to_station_id", "other_province"),
                                  ({"to_station_id": 2, "reason": "x"}, "to_station_id", "same_station"),
                                  ({"to_station_id": 3, "reason": ""}, "reason", None),
                                  ({"to_station_id": 3}, "reason", None)):
            r = await cases_client.post(f"/v1/beneficiaries/{ids['person']}/transfer", headers=worker, json=body)
            assert r.status_code == 422, r.text
            errors = r.json()["errors"]
            assert any(e["field"].endswith(field) for e in errors), errors
            if code:
                assert errors[0]["code"] == code
        for action in ("accept", "decline"):
            r = await cases_client.post(f"/v1/transfers/no-such-transfer/{action}", headers=head)
            assert r.status_code == 404, r.text
            # A worker never decides: refused whatever the id.
            r = await cases_client.post(f"/v1/transfers/no-such-transfer/{action}", headers=worker)
            assert r.status_code == 403, r.text
        assert await stored(db, ids) == before
        await check_figures(cases_client, service_headers, today, ledger)

    async def test_a_transfer_out_of_reach_reads_as_missing(self, cases_client, worker, room_worker, token_for,
                                                            story):
        ids, _ = story
        tid = (await transfer(cases_client, worker, ids["person"], 3, 202))["id"]
        other_province = token_for("station_head", 10, "/9/10/", user_id="h10")
        for headers in (room_worker, other_province):
            assert (await cases_client.get(f"/v1/transfers/{tid}", headers=headers)).status_code == 404
            assert (await cases_client.get("/v1/transfers", headers=headers)).json()["items"] == []
        r = await cases_client.post(f"/v1/transfers/{tid}/accept", headers=other_province)
        assert r.status_code == 404, r.text


class TestIdempotency:
    async def test_a_retried_transfer_moves_once(self, cases_client, service_headers, city_head, worker, story,
                                                 today, db):
        ids, ledger = story
        first = await transfer(cases_client, city_head, ids["person"], 3, 201, id="move-1")
        again = await transfer(cases_client, city_head, ids["person"], 3, 200, id="move-1")
        assert again["id"] == first["id"] == "move-1" and again["status"] == "accepted"
        ledger.move(ids["person"], "/1/3/", [ids["open"]])
        await check_figures(cases_client, service_headers, today, ledger)
        assert await db.fetchval("SELECT count(*) FROM cases.transfer") == 1
        # The same id with another body is another record's id.
        r = await cases_client.post(f"/v1/beneficiaries/{ids['person']}/transfer", headers=city_head,
                                    json={"id": "move-1", "to_station_id": 2, "reason": "搬回"})
        assert r.status_code == 409, r.text
        # A retried request answers the pending transfer, and makes no second one.
        pending = await transfer(cases_client, city_head, ids["person"], 2, 201, id="move-2")
        assert pending["status"] == "accepted"
        requested = await transfer(cases_client, worker, ids["person"], 3, 202, id="ask-1")
        assert (await transfer(cases_client, worker, ids["person"], 3, 200, id="ask-1"))["id"] == requested["id"]
        assert await db.fetchval("SELECT count(*) FROM cases.transfer WHERE status = 'pending'") == 1


class TestTablets:
    async def test_old_tablets_delete_new_tablets_receive(self, cases_client, service_headers, city_head, story, db):
        ids, _ = story
        cursors = {}
        for path in ("/1/2/", "/1/3/", "/1/"):
            cursor, rows, _ = await pull(cases_client, service_headers, db, path)
            cursors[path] = cursor
            held = path != "/1/3/"
            assert (ids["person"] in rows.get("beneficiaries", {})) is held
            assert (ids["open"] in rows.get("cases", {})) is held
        await transfer(cases_client, city_head, ids["person"], 3, 201)

        # The old station's tablet: the person, the moved case and its referral are gone; what stays at 2
        # (the closed case, the service record, the visit) is not mentioned.
        _, rows, deleted = await pull(cases_client, service_headers, db, "/1/2/", cursors["/1/2/"])
        assert deleted == {"beneficiaries": [ids["person"]], "cases": [ids["open"]], "referrals": [ids["referral"]]}
        assert ids["person"] not in rows.get("beneficiaries", {}) and ids["open"] not in rows.get("cases", {})
        # The new station's tablet: the person and the case as rows, nothing deleted.
        _, rows, deleted = await pull(cases_client, service_headers, db, "/1/3/", cursors["/1/3/"])
        assert deleted == {}
        assert rows["beneficiaries"][ids["person"]]["station_id"] == 3
        assert set(rows["cases"]) == {ids["open"]} and set(rows["referrals"]) == {ids["referral"]}
        # A tablet over both: the records changed, none deleted.
        _, rows, deleted = await pull(cases_client, service_headers, db, "/1/", cursors["/1/"])
        assert deleted == {} and ids["person"] in rows["beneficiaries"]
        # Pulled again, nothing more: each departure is told once.
        cursor, _, _ = await pull(cases_client, service_headers, db, "/1/2/", cursors["/1/2/"])
        _, rows, deleted = await pull(cases_client, service_headers, db, "/1/2/", cursor)
        assert deleted == {} and rows == {}
        # A full sync of the old station holds none of them (replacement drops what it had).
        _, rows, _ = await pull(cases_client, service_headers, db, "/1/2/")
        assert ids["person"] not in rows.get("beneficiaries", {}) and ids["closed"] in rows["cases"]

    async def test_a_person_who_comes_back_is_a_row_not_a_deletion(self, cases_client, service_headers, city_head,
                                                                   story, db):
        ids, _ = story
        cursor, _, _ = await pull(cases_client, service_headers, db, "/1/2/")
        await transfer(cases_client, city_head, ids["person"], 3, 201)
        await transfer(cases_client, city_head, ids["person"], 2, 201)
        _, rows, deleted = await pull(cases_client, service_headers, db, "/1/2/", cursor)
        assert ids["person"] in rows["beneficiaries"] and ids["person"] not in deleted.get("beneficiaries", [])

    async def test_work_done_offline_before_the_tablet_heard_of_the_move_stays_where_it_was_given(
            self, cases_client, service_headers, city_head, worker, story, db, today):
        """The village worker visited the person, and served them on their open case, with the tablet
        offline; meanwhile the person was transferred away with the case. The push is kept (refusing it
        would refuse every later push of the tablet), the visit and the service record are filed and
        counted at the station that gave them, and no other tablet may file such records."""
        from tests.cases.test_visits_sync import tablet_visit

        ids, _ = story
        cursor, _, _ = await pull(cases_client, service_headers, db, "/1/2/")
        await transfer(cases_client, city_head, ids["person"], 3, 201)
        before = {s: await figures(cases_client, service_headers, today, s) for s in ("/1/2/", "/1/3/")}

        yesterday = (today - timedelta(days=1)).isoformat()
        visit = tablet_visit(ids["person"], today, visited_on=yesterday)
        record = tablet_service_record(ids["open"], today, served_on=yesterday)
        changes = {"visits": {"created": [visit]}, "service_records": {"created": [record]}}
        await push(cases_client, service_headers, changes, since=cursor)
        # A retried push (its answer lost) files them once.
        await push(cases_client, service_headers, changes, since=cursor)
        for table, row in (("visit", visit), ("service_record", record)):
            stored_at = await db.fetchrow(f"SELECT station_id, station_path, beneficiary_id FROM cases.{table} "
                                          "WHERE id = $1", row["id"])
            assert dict(stored_at) == {"station_id": 2, "station_path": "/1/2/", "beneficiary_id": ids["person"]}
        assert await db.fetchval("SELECT count(*) FROM cases.audit_log WHERE record_id = ANY($1::text[])",
                                 [visit["id"], record["id"]]) == 2
        after = {s: await figures(cases_client, service_headers, today, s) for s in ("/1/2/", "/1/3/")}
        for metric in ("person_times.visit", "person_times.casework"):
            assert after["/1/2/"][metric] == before["/1/2/"][metric] + 1, metric
            assert after["/1/3/"][metric] == before["/1/3/"][metric], metric
        assert after["/1/3/"]["cases.open"] == before["/1/3/"]["cases.open"]  # the case stays moved
        # The old station's tablet gets them back; the new station's never sees them.
        _, rows, _ = await pull(cases_client, service_headers, db, "/1/2/", cursor)
        assert rows["visits"][visit["id"]]["station_id"] == 2
        assert rows["service_records"][record["id"]]["station_id"] == 2
        _, rows, _ = await pull(cases_client, service_headers, db, "/1/3/")
        assert visit["id"] not in rows.get("visits", {}) and record["id"] not in rows.get("service_records", {})

        # A tablet of a room below the old station never held the person: still refused, nothing written.
        for table, stray in (("visits", tablet_visit(ids["person"], today)),
                             ("service_records", tablet_service_record(ids["open"], today))):
            problem = await push(cases_client, service_headers, {table: {"created": [stray]}}, expect=403,
                                 station_id=4, station_path="/1/2/4/")
            assert problem["records"] == [{"table": table, "id": stray["id"]}]
            assert await db.fetchval(f"SELECT count(*) FROM cases.{table[:-1]} WHERE id = $1", stray["id"]) == 0
