"""Import of the station tree from a CSV or .xlsx file: code, name, level, parent code.

The whole file is checked first and every bad cell is reported by line and column; nothing is
written unless every row is good, and the writes then run in one transaction through the
gateway's station service (the API's rules: tiers, sibling names, change numbers for the
services' replicas). A station is matched by its division code, so importing the same file
again changes nothing and an edited file renames stations.

A row without a parent code sits under the root station; a top row of the root's own level
is the root itself (its name and code are set from the file).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.schemas import StationCreate, StationUpdate
from gateway.identity.service import stations as stations_service
from gateway.identity.service.rules import KIND_TIER
from gateway.models import Station
from ops.cli import repository
from shared.principals import Principal
from shared.errors import AppError

COLUMNS = ("code", "name", "level", "parent_code")
# Header spellings accepted for each column (case and surrounding spaces ignored).
HEADERS = {
    "code": {"code", "division_code", "代码", "编码", "区划代码", "行政区划代码"},
    "name": {"name", "名称", "站点名称", "站名"},
    "level": {"level", "kind", "tier", "层级", "级别", "类型"},
    "parent_code": {"parent_code", "parent", "parent code", "上级代码", "上级编码", "上级区划代码"},
}
# Chinese tier words as written in a bureau's spreadsheet.
LEVELS = {
    "province": "province", "省": "province", "省级": "province",
    "city": "city", "市": "city", "市级": "city", "州": "city", "地区": "city",
    "county": "county", "县": "county", "区": "county", "县级": "county", "县区": "county", "市辖区": "county",
    "township": "township", "镇": "township", "乡": "township", "街道": "township", "镇街": "township",
    "乡镇": "township",
    "village": "village", "村": "village", "社区": "village", "村社区": "village", "村(社区)": "village",
}
CODE = re.compile(r"^\d{6,12}$")
# The station service's field names, as the file's columns.
FIELD_COLUMNS = {"name": "name", "kind": "level", "parent_id": "parent_code", "code": "code"}


@dataclass
class Row:
    line: int
    code: str
    name: str
    level: str
    parent_code: str


@dataclass
class Problem:
    line: int
    column: str
    letter: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.letter} ({self.column}): {self.message}"


class BadFile(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


@dataclass
class Outcome:
    created: int = 0
    renamed: int = 0
    unchanged: int = 0
    stations: dict[str, int] = field(default_factory=dict)  # code -> id


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a code typed into a number cell
    return str(value).strip()


def _read_table(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header cells and (line, cells) of every non-empty row."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        book = load_workbook(path, read_only=True, data_only=True)
        try:
            rows = book.worksheets[0].iter_rows(values_only=True)
            header = [_cell(v) for v in next(rows, ())]
            body = [(n, [_cell(v) for v in row]) for n, row in enumerate(rows, start=2)]
        finally:
            book.close()
    elif path.suffix.lower() in (".csv", ".txt"):
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("gb18030")  # CSV saved by a Chinese Excel
        reader = csv.reader(io.StringIO(text, newline=""))
        header = [c.strip() for c in next(reader, [])]
        body = []
        for cells in reader:
            body.append((reader.line_num, [c.strip() for c in cells]))
    else:
        raise BadFile([Problem(0, "file", "-", f"{path.name}: use a .csv or .xlsx file")])
    return header, [(n, cells) for n, cells in body if any(cells)]


def parse(path: Path) -> list[Row]:
    header, body = _read_table(path)
    positions: dict[str, int] = {}
    for i, title in enumerate(header):
        for column, names in HEADERS.items():
            if title.strip().lower() in names and column not in positions:
                positions[column] = i
    missing = [c for c in COLUMNS if c not in positions]
    if missing:
        raise BadFile([Problem(1, c, "-", "missing column (the first row must name code, name, level, "
                                          "parent_code)") for c in missing])

    def get(cells: list[str], column: str) -> str:
        i = positions[column]
        return cells[i] if i < len(cells) else ""

    return [Row(n, get(c, "code"), get(c, "name"), get(c, "level"), get(c, "parent_code")) for n, c in body]


def _letters(path: Path) -> Callable[[str], str]:
    header, _ = _read_table(path)
    where = {}
    for i, title in enumerate(header):
        for column, names in HEADERS.items():
            if title.strip().lower() in names:
                where.setdefault(column, get_column_letter(i + 1))
    return lambda column: where.get(column, "-")


@dataclass
class Plan:
    letter: Callable[[str], str]
    rows: list[Row]
    existing: dict[str, Station]  # code -> live station
    root: Station
    root_row: Row | None


def check(rows: list[Row], stations: list[Station], root: Station, letter: Callable[[str], str]) -> Plan:
    """Every problem of the file at once, or the plan to write (`stations`: the live tree)."""
    problems: list[Problem] = []
    by_id = {s.id: s for s in stations}
    existing_by_code = {s.code: s for s in stations if s.code}

    def bad(row: Row, column: str, message: str) -> None:
        problems.append(Problem(row.line, column, letter(column), message))

    if not rows:
        raise BadFile([Problem(2, "code", letter("code"), "the file has no station rows")])
    first_line: dict[str, int] = {}
    for row in rows:
        level = LEVELS.get(row.level.strip().lower())
        if not row.code:
            bad(row, "code", "is empty")
        elif not CODE.match(row.code):
            bad(row, "code", "must be a division code of 6 to 12 digits")
        elif row.code in first_line:
            bad(row, "code", f"appears twice (also on line {first_line[row.code]})")
        else:
            first_line[row.code] = row.line
        if not row.name:
            bad(row, "name", "is empty")
        elif len(row.name) > 200:
            bad(row, "name", "is longer than 200 characters")
        if level is None:
            bad(row, "level", f"{row.level!r} is not a level: use province, city, county, township or village "
                              "(or 省, 市, 县/区, 镇/乡/街道, 村/社区)")
        else:
            row.level = level
        if row.parent_code and not CODE.match(row.parent_code):
            bad(row, "parent_code", "must be empty or a division code of 6 to 12 digits")
        elif row.parent_code and row.parent_code == row.code:
            bad(row, "parent_code", "is the station's own code")

    by_code = {row.code: row for row in rows if row.code in first_line and first_line[row.code] == row.line}
    root_row = None
    for row in rows:
        if row.level not in KIND_TIER or not CODE.match(row.code):
            continue
        if not row.parent_code and row.level == root.kind and (root.code in (None, row.code)):
            if root_row is not None:
                bad(row, "parent_code", f"a second top station of level {row.level} (the root is on line "
                                        f"{root_row.line}); give it a parent code")
                continue
            root_row = row
            continue
        if row.parent_code:
            parent_row = by_code.get(row.parent_code)
            parent_kind = parent_row.level if parent_row else None
            if parent_row is None:
                found = existing_by_code.get(row.parent_code)
                if found is None:
                    bad(row, "parent_code", f"no station with code {row.parent_code} in the file or the platform")
                    continue
                parent_kind = found.kind
        else:
            parent_kind = root.kind
        if parent_kind in KIND_TIER and KIND_TIER[row.level] <= KIND_TIER[parent_kind]:
            bad(row, "level", f"a {row.level} cannot sit under a {parent_kind}: a child must be on a lower tier")
        current = existing_by_code.get(row.code)
        if current is not None and current.id == root.id:
            bad(row, "code", f"{row.code} is the root station's code; the root row has no parent code")
        elif current is not None:
            if current.kind != row.level:
                bad(row, "level", f"station {row.code} exists as a {current.kind}; its level cannot change")
            parent = by_id.get(current.parent_id)
            where = (parent.code or "") if parent is not None and parent.id != root.id else ""
            if where != (row.parent_code if row.parent_code != root.code else ""):
                bad(row, "parent_code", f"station {row.code} exists under another parent; move it first "
                                        f"(POST /v1/stations/{current.id}/move)")

    siblings: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row.parent_code, row.name)
        if row is root_row or not row.name:
            continue
        if key in siblings:
            bad(row, "name", f"two stations under the same parent are both named {row.name!r} "
                             f"(also line {siblings[key]})")
        else:
            siblings[key] = row.line
    if problems:
        raise BadFile(sorted(problems, key=lambda p: (p.line, COLUMNS.index(p.column)
                                                      if p.column in COLUMNS else 9)))
    return Plan(letter, rows, existing_by_code, root, root_row)


async def plan_for(session: AsyncSession, path: Path, root: Station) -> Plan:
    rows = parse(path)
    return check(rows, list(await repository.live_stations(session)), root, _letters(path))


async def apply(session: AsyncSession, actor: Principal, plan: Plan, advance: Callable[[], None]) -> Outcome:
    """Write the plan, parents before children; a rule the service refuses names its line."""
    out = Outcome()
    letter = plan.letter
    ids: dict[str, int] = {code: s.id for code, s in plan.existing.items()}
    if plan.root.code:
        ids[plan.root.code] = plan.root.id
    ordered = sorted(plan.rows, key=lambda r: (KIND_TIER[r.level], r.line))
    for row in ordered:
        try:
            if row is plan.root_row or row.code in ids:
                station_id = plan.root.id if row is plan.root_row else ids[row.code]
                station = await stations_service.locked_in_scope(session, actor, station_id)
                changes = {k: v for k, v in (("name", row.name), ("code", row.code))
                           if getattr(station, k) != v}
                if changes:
                    await stations_service.update(session, actor, station, StationUpdate(**changes), station.version)
                    out.renamed += 1
                else:
                    out.unchanged += 1
            else:
                parent_id = ids[row.parent_code] if row.parent_code else plan.root.id
                station = await stations_service.create(
                    session, actor, StationCreate(parent_id=parent_id, kind=row.level, name=row.name, code=row.code))
                out.created += 1
        except AppError as exc:
            field = (exc.errors or [{}])[0].get("field")
            column = FIELD_COLUMNS.get(field, "name")
            raise BadFile([Problem(row.line, column, letter(column), exc.detail)]) from None
        ids[row.code] = station.id
        out.stations[row.code] = station.id
        advance()
    return out
