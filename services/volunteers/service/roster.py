"""Bulk registration from a roster (.xlsx or CSV): every row checked as a single registration
would be, plus duplicates by ID number within the file and against the registry.

All or nothing: a dry run only reports; a real run writes every row, or none when any row is bad.
"""

import csv
import io
import zipfile
from datetime import date, datetime

from openpyxl import load_workbook
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.volunteers.errors import DuplicateIdNumber
from services.volunteers.repository import volunteers as repo
from services.volunteers.schemas.volunteers import ImportReport, RowProblem, VolunteerCreate, normalise_document
from services.volunteers.service import volunteers as service
from shared import attempts, clock
from shared.errors import AppError, InvalidInput
from shared.models import new_id
from shared.principals import Principal
from shared.records import Vault

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
_BY_HEADER = {h.strip().lower(): col for col, spellings in HEADERS.items() for h in spellings}
_ID_TYPES = {"身份证": "mainland_id", "居民身份证": "mainland_id", "护照": "passport",
             "港澳居民来往内地通行证": "hk_macau_permit", "港澳通行证": "hk_macau_permit",
             "港澳居民居住证": "hk_macau_permit", "台湾居民来往大陆通行证": "taiwan_permit", "台胞证": "taiwan_permit",
             "台湾居民居住证": "taiwan_permit", "其他": "other"}
_GENDERS = {"男": "male", "女": "female"}
_GUARDIAN = {"guardian_name": "name", "guardian_relation": "relation", "guardian_consented_on": "consented_on"}


def _cell(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def read_table(content: bytes, filename: str | None) -> list[list[str | None]]:
    """Rows of cells as text; the first row is the header."""
    if content[:4] == b"PK\x03\x04" or (filename or "").lower().endswith(".xlsx"):
        try:
            book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError):
            raise InvalidInput.field("file", "This is not a readable .xlsx workbook.", "unreadable") from None
        try:
            return [[_cell(v) for v in row] for row in book.active.iter_rows(values_only=True)]
        finally:
            book.close()
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in Chinese saves CSV as GBK
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InvalidInput.field("file", "The CSV is neither UTF-8 nor GB18030 text.", "unreadable")
    try:
        # newline="": a bare CR ends a row, as csv expects, rather than failing inside a field.
        return [[_cell(v) for v in row] for row in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error:
        raise InvalidInput.field("file", "This is not a readable CSV file.", "unreadable") from None


def _columns(header: list[str | None]) -> list[str | None]:
    columns = [_BY_HEADER.get((h or "").strip().lower()) for h in header]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise InvalidInput.field("file", f"The header row lacks column(s): {', '.join(missing)}.", "missing_column")
    return columns


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
    if not table:
        raise InvalidInput.field("file", "The file is empty.", "empty")
    columns = _columns(table[0])
    rows = [(i + 2, cells) for i, cells in enumerate(table[1:]) if any(c is not None for c in cells)]
    if len(rows) > max_rows:
        raise InvalidInput.field("file", f"At most {max_rows} rows per file; this one has {len(rows)}.",
                                 "too_many_rows")
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


class RosterRejected(InvalidInput):
    """A real run with bad rows: nothing is written (the request's transaction rolls back)."""

    type = "roster-rejected"

    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{len(report.errors)} problem(s) in the roster; nothing was registered.",
                         errors=[{"field": p.column, "message": p.reason, "code": p.code, "row": p.row,
                                  "column": p.column, **({"existing_id": p.existing_id} if p.existing_id else {})}
                                 for p in report.errors],
                         rows=report.rows, valid_rows=report.valid_rows, created=0, dry_run=False)
