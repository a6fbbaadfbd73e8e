"""Bulk registration from a roster (.xlsx or CSV): every row checked as a single registration
would be, plus duplicates by ID number within the file and against the registry.

All or nothing: a dry run only reports; a real run writes every row, or none when any row is bad.
"""

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.volunteers.errors import DuplicateIdNumber
from services.volunteers.repository import volunteers as repo
from services.volunteers.schemas.volunteers import ImportReport, VolunteerCreate, normalise_document
from services.volunteers.service import volunteers as service
from shared import attempts, clock
from shared.errors import AppError, InvalidInput
from shared.models import new_id
from shared.principals import Principal
from shared.records import Vault
from shared.spreadsheet import RowProblem, SheetRejected, data_rows, header_columns, read_table

# Column -> header spellings accepted (English field names, or the Chinese a station's sheet uses).
HEADERS = {
    "name": ("name", "姓名"),
    "id_type": ("id_type", "证件类型"),
    "id_number": ("id_number", "证件号码", "身份证号", "身份证号码"),
    "phone": ("phone", "手机", "手机号", "联系电话"),
    "gender": ("gender", "性别"),
    "birth_on": ("birth_on", "出生日期"),
    "skills": ("skills", "技能", "特长"),
    "available_times": ("available_times", "服务时间", "可服务时间"),
    "volunteer_number": ("volunteer_number", "志愿者编号"),
    "guardian_name": ("guardian_name", "监护人", "监护人姓名"),
    "guardian_relation": ("guardian_relation", "监护人关系", "与监护人关系"),
    "guardian_consented_on": ("guardian_consented_on", "监护人同意日期"),
}
REQUIRED = ("name", "id_number")
_ID_TYPES = {"身份证": "mainland_id", "居民身份证": "mainland_id", "护照": "passport",
             "港澳居民来往内地通行证": "hk_macau_permit", "港澳通行证": "hk_macau_permit",
             "港澳居民居住证": "hk_macau_permit", "台湾居民来往大陆通行证": "taiwan_permit", "台胞证": "taiwan_permit",
             "台湾居民居住证": "taiwan_permit", "其他": "other"}
_GENDERS = {"男": "male", "女": "female"}
_GUARDIAN = {"guardian_name": "name", "guardian_relation": "relation", "guardian_consented_on": "consented_on"}


def _row_body(columns: list[str | None], cells: list[str | None]) -> dict:
    body: dict = {}
    guardian: dict = {}
    for column, value in zip(columns, cells):
        if column is None or value is None:
            continue
        if column in _GUARDIAN:
            guardian[_GUARDIAN[column]] = value
        elif column in ("skills", "available_times"):
            body[column] = [s.strip() for s in value.replace("，", ",").replace("、", ",").replace(";", ",").split(",")
                            if s.strip()]
        elif column == "id_type":
            body[column] = _ID_TYPES.get(value, value)
        elif column == "gender":
            body[column] = _GENDERS.get(value, value)
        else:
            body[column] = value
    if guardian:
        body["guardian_consent"] = guardian
    return body


def _index_of(vault: Vault, body: dict) -> str | None:
    id_type = body.get("id_type", "mainland_id")
    try:
        number = normalise_document(id_type, body.get("id_number") or "")
    except ValueError:
        return None
    return service.id_number_index(vault, id_type, number)


def _column_of(field: str) -> str:
    head, _, rest = field.partition(".")
    if head == "guardian_consent" and rest:
        return {v: k for k, v in _GUARDIAN.items()}.get(rest.split(".")[0], "guardian_name")
    return "guardian_name" if head == "guardian_consent" else head


async def run(session: AsyncSession, vault: Vault, principal: Principal, content: bytes, filename: str | None,
              station: tuple[int, str], dry_run: bool, max_rows: int) -> ImportReport:
    table = read_table(content, filename)
    rows = data_rows(table, max_rows)
    columns = header_columns(table[0], HEADERS, REQUIRED)
    problems: list[RowProblem] = []
    good: list[tuple[int, dict, str]] = []
    first_row_of: dict[str, int] = {}
    for row_no, cells in rows:
        body = _row_body(columns, cells)
        # Duplicates within the file are told even when the row has other problems too.
        bidx = _index_of(vault, body)
        if bidx is not None and bidx in first_row_of:
            problems.append(RowProblem(row=row_no, column="id_number", code="duplicate_in_file",
                                       reason=f"The same ID number as row {first_row_of[bidx]}."))
            continue
        if bidx is not None:
            first_row_of[bidx] = row_no
        try:
            fields = VolunteerCreate.model_validate(body).model_dump(exclude={"id", "station_id", "user_id"})
            service.settle_identity(fields)
            service.check_guardian(fields["birth_on"], clock.today(), fields.get("guardian_consent"))
        except ValidationError as exc:
            problems += [RowProblem(row=row_no, column=_column_of(".".join(str(p) for p in e["loc"])) or "row",
                                    reason=e["msg"], code=e["type"]) for e in exc.errors()]
            continue
        except InvalidInput as exc:
            problems += [RowProblem(row=row_no, column=_column_of(e["field"]), reason=e["message"], code=e["code"])
                         for e in exc.errors or []]
            continue
        good.append((row_no, fields, bidx))
    if good:
        await attempts.check(session)
    registered = await repo.live_by_id_numbers(session, [b for _, _, b in good])
    # A row of someone registered where the caller cannot look names nothing of them; each such
    # row is an attempt, audited and limited like a single registration.
    await attempts.record(session, "volunteer", [found for found in registered.values()
                                                 if not attempts.visible(principal, found[1])])
    for row_no, _, bidx in good:
        if bidx in registered:
            existing_id, path = registered[bidx]
            if attempts.visible(principal, path):
                problems.append(RowProblem(row=row_no, column="id_number", code="duplicate",
                                           reason="A volunteer with this ID number is already registered.",
                                           existing_id=existing_id))
            else:
                problems.append(RowProblem(row=row_no, column="id_number", code="registered_elsewhere",
                                           reason=attempts.REGISTERED_ELSEWHERE))
    problems.sort(key=lambda p: p.row)
    valid = [(row_no, fields) for row_no, fields, bidx in good if bidx not in registered]
    report = ImportReport(dry_run=dry_run, rows=len(rows), valid_rows=len(valid), created=0, errors=problems)
    if dry_run:
        return report
    if problems:
        raise RosterRejected(report)
    for row_no, fields in valid:
        try:
            record = await service.register(session, vault, principal, fields, *station, new_id())
        except DuplicateIdNumber as exc:  # registered by someone else since the check above
            report.errors += [RowProblem(row=row_no, column="id_number", code=e["code"], reason=exc.detail,
                                         existing_id=exc.extra.get("existing_id")) for e in exc.errors or []]
            raise RosterRejected(report) from None
        except AppError as exc:
            report.errors += [RowProblem(row=row_no, column=_column_of(e["field"]), reason=e["message"],
                                         code=e["code"]) for e in exc.errors or [{"field": "row", "message": exc.detail,
                                                                                 "code": "invalid"}]]
            raise RosterRejected(report) from None
        report.ids.append(record.id)
    report.created = len(report.ids)
    return report


class RosterRejected(SheetRejected):
    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{len(report.errors)} problem(s) in the roster; nothing was registered.", report.errors,
                         rows=report.rows, valid_rows=report.valid_rows, created=0, dry_run=False)
