"""Importing a civil-affairs roster (名册) for a station's subtree (docs/rosters.md).

Each row is a person on a roster of one population. Rows are matched to beneficiaries through the
ID-number blind index; a person not registered yet is registered as a beneficiary with source
"roster", through the same registration as a worker's (sealed ID number and phone, birth date from
the ID number, the province's one-record rule). A re-import adds and updates; a member of the
file's populations in the subtree whom the roster no longer lists is marked left on its date,
never deleted.

All or nothing, validated whole: a dry run reports every problem and every change; a real run
with any problem writes nothing (shared.spreadsheet.SheetRejected).
"""

from dataclasses import dataclass
from datetime import date

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.models import Beneficiary, RosterImport, RosterMember
from services.cases.repository import rosters as repo
from services.cases.schemas.beneficiaries import BeneficiaryCreate, BeneficiaryUpdate
from services.cases.schemas.rosters import RosterImportReport, RowChange
from services.cases.service import beneficiaries as beneficiary_service
from shared import attempts
from shared.errors import AppError, InvalidInput
from shared.models import new_id
from shared.principals import Principal
from shared.records import Vault, save_new, touch
from shared.repository import get_live
from shared.scope import path_under
from shared.spreadsheet import RowProblem, SheetRejected, data_rows, header_columns, read_table

# Column -> header spellings accepted (English field names, or the Chinese of a bureau's sheet).
HEADERS = {
    "name": ("name", "姓名"),
    "id_number": ("id_number", "身份证号", "身份证号码", "证件号码", "公民身份号码"),
    "population": ("population", "人群", "人群类别", "对象类别", "名册类别", "类别"),
    "village": ("village", "村", "村(社区)", "村（社区）", "村社区", "所属村(社区)", "所属村（社区）"),
    "address": ("address", "住址", "地址", "家庭住址"),
    "phone": ("phone", "电话", "联系电话", "手机", "手机号"),
}
REQUIRED = ("name", "id_number", "population")
VILLAGE_MAX = 100


@dataclass
class _Row:
    row: int
    population: str
    village: str | None
    fields: dict
    bidx: str
    action: str = ""
    beneficiary_id: str | None = None


def _check(row_no: int, cells: dict, codes: dict[str, str]) -> tuple[list[RowProblem], dict, str | None]:
    problems: list[RowProblem] = []
    population = cells.pop("population", None)
    code = codes.get(population) if population else None
    if population is None:
        problems.append(RowProblem(row=row_no, column="population", reason="Required.", code="missing"))
    elif code is None:
        problems.append(RowProblem(row=row_no, column="population", code="unknown_population",
                                   reason=f"No population {population!r} (GET /v1/populations lists them)."))
    village = cells.pop("village", None)
    if village is not None and len(village) > VILLAGE_MAX:
        problems.append(RowProblem(row=row_no, column="village", code="string_too_long",
                                   reason=f"At most {VILLAGE_MAX} characters."))
    if cells.get("id_number") is None:
        problems.append(RowProblem(row=row_no, column="id_number", reason="Required.", code="missing"))
    fields: dict = {}
    try:
        fields = BeneficiaryCreate.model_validate(cells).model_dump(include={"name", "id_number", "phone", "address"},
                                                                   exclude_none=True)
    except ValidationError as exc:
        problems += [RowProblem(row=row_no, column=str(e["loc"][0]) if e["loc"] else "row", reason=e["msg"],
                                code=e["type"]) for e in exc.errors()]
    return problems, {**fields, "village": village}, code


async def run(session: AsyncSession, vault: Vault, principal: Principal, content: bytes, filename: str | None,
              station: tuple[int, str], listed_on: date, dry_run: bool, max_rows: int) -> RosterImportReport:
    table = read_table(content, filename)
    rows = data_rows(table, max_rows)
    columns = header_columns(table[0], HEADERS, REQUIRED)
    station_id, station_path = station
    codes = await repo.population_codes(session)

    problems: list[RowProblem] = []
    good: list[_Row] = []
    first_row_of: dict[tuple[str, str], int] = {}
    for row_no, cells in rows:
        found, fields, code = _check(row_no, {c: v for c, v in zip(columns, cells) if c and v is not None}, codes)
        if found:
            problems += found
            continue
        bidx = vault.blind_index(fields["id_number"], "id_number")
        if (bidx, code) in first_row_of:
            problems.append(RowProblem(row=row_no, column="id_number", code="duplicate_in_file",
                                       reason=f"The same person and population as row {first_row_of[(bidx, code)]}."))
            continue
        first_row_of[(bidx, code)] = row_no
        good.append(_Row(row_no, code, fields.pop("village"), fields, bidx))

    populations = sorted({r.population for r in good})
    if populations and (latest := await repo.latest_listed_on(session, station_path, populations)) \
            and listed_on < latest:
        raise InvalidInput.field("listed_on", f"A newer roster of these populations (listed on {latest}) was "
                                              "imported for this station already.", "older_roster")
    if good:
        await attempts.check(session)
    registered = await repo.live_by_id_numbers(session, sorted({r.bidx for r in good}), station_path)
    # Someone registered where the caller cannot look is named nowhere; each such row is an attempt,
    # audited and limited like a single registration.
    await attempts.record(session, "beneficiary", [found for found in registered.values()
                                                   if not attempts.visible(principal, found[1])])
    members = {(m.beneficiary_id, m.population): m
               for m in await repo.members_under(session, station_path, populations)} if populations else {}
    new_people: set[str] = set()
    for r in good:
        if r.bidx not in registered:
            r.action = "add" if r.bidx in new_people else "register"
            new_people.add(r.bidx)
            continue
        existing_id, path = registered[r.bidx]
        if not path_under(path, station_path):
            if attempts.visible(principal, path):
                problems.append(RowProblem(row=r.row, column="id_number", code="outside_roster", existing_id=existing_id,
                                           reason="Registered at a station outside this roster's subtree."))
            else:
                problems.append(RowProblem(row=r.row, column="id_number", code="registered_elsewhere",
                                           reason=attempts.REGISTERED_ELSEWHERE))
            continue
        r.beneficiary_id = existing_id
        member = members.get((existing_id, r.population))
        if member is None:
            r.action = "add"
        elif member.left_on is not None or member.village != r.village:
            r.action = "update"
        else:
            r.action = "unchanged"
    problems.sort(key=lambda p: (p.row, p.column))
    listed = {(r.beneficiary_id, r.population) for r in good if r.beneficiary_id}
    leaving = [m for key, m in members.items() if m.left_on is None and key not in listed]
    valid = [r for r in good if r.action]
    count = {a: sum(1 for r in valid if r.action == a) for a in ("register", "add", "update", "unchanged")}
    report = RosterImportReport(
        dry_run=dry_run, station_id=station_id, listed_on=listed_on, populations=populations, rows=len(rows),
        valid_rows=len(valid), registered=len(new_people), added=count["add"] + count["register"],
        updated=count["update"], unchanged=count["unchanged"], left=len(leaving),
        changes=[RowChange(row=r.row, action=r.action, population=r.population, beneficiary_id=r.beneficiary_id)
                 for r in valid], leaving=sorted(m.beneficiary_id for m in leaving), errors=problems)
    if dry_run:
        return report
    if problems:
        raise _rejected(report)
    return await _write(session, vault, principal, report, valid, members, leaving, station, filename)


def _rejected(report: RosterImportReport) -> SheetRejected:
    return SheetRejected(f"{len(report.errors)} problem(s) in the roster; nothing was imported.", report.errors,
                         rows=report.rows, valid_rows=report.valid_rows, dry_run=False)


async def _write(session: AsyncSession, vault: Vault, principal: Principal, report: RosterImportReport,
                 rows: list[_Row], members: dict, leaving: list[RosterMember], station: tuple[int, str],
                 filename: str | None) -> RosterImportReport:
    station_id, station_path = station
    listed_on = report.listed_on
    record = RosterImport(id=new_id(), station_id=station_id, station_path=station_path, listed_on=listed_on,
                          file_name=(filename or "")[:200] or None, populations=report.populations,
                          rows=report.rows, registered=report.registered, added=report.added,
                          updated=report.updated, left=report.left, created_by=principal.user_id,
                          updated_by=principal.user_id, version=1)
    await save_new(session, record)
    villages = await repo.stations_by_name(session, station_path)
    people: dict[str, Beneficiary] = {}
    codes_of: dict[str, list[str]] = {}
    for r in rows:
        codes_of.setdefault(r.bidx, []).append(r.population)
    for r in rows:
        try:
            if r.action == "register":
                # A new person is filed at the village room the roster names, when the subtree has one.
                where = villages.get(r.village) if r.village else None
                body = BeneficiaryCreate(id=new_id(), station_id=where[0] if where else station_id,
                                         populations=codes_of[r.bidx], **r.fields)
                people[r.bidx], _ = await beneficiary_service.create(session, vault, principal, body,
                                                                     source="roster")
            elif r.bidx not in people:
                people[r.bidx] = await get_live(session, Beneficiary, r.beneficiary_id, principal, for_update=True)
                person = people[r.bidx]
                missing = [c for c in codes_of[r.bidx] if c not in person.populations]
                if missing:
                    # On a roster of a population is being in it: the person's figures count there too.
                    await beneficiary_service.update(session, vault, principal, person, person.version,
                                                     BeneficiaryUpdate(populations=[*person.populations, *missing]))
        except AppError as exc:
            report.errors += [RowProblem(row=r.row, column=e.get("field", "row"), reason=e["message"],
                                         code=e.get("code", "invalid")) for e in exc.errors or
                              [{"field": "row", "message": exc.detail, "code": "invalid"}]]
            raise _rejected(report) from None
        person = people[r.bidx]
        r.beneficiary_id = person.id
        member = members.get((person.id, r.population))
        if member is None:
            session.add(RosterMember(id=new_id(), beneficiary_id=person.id, population=r.population,
                                     village=r.village, joined_on=listed_on, import_id=record.id,
                                     station_id=person.station_id, station_path=person.station_path,
                                     created_by=principal.user_id, updated_by=principal.user_id, version=1))
        elif r.action == "update":
            touch(member, principal, None)
            member.left_on, member.village, member.import_id = None, r.village, record.id
    for member in leaving:
        touch(member, principal, None)
        member.left_on, member.import_id = listed_on, record.id
    await session.flush()
    report.id = record.id
    report.changes = [RowChange(row=r.row, action=r.action, population=r.population, beneficiary_id=r.beneficiary_id)
                      for r in rows]
    return report
