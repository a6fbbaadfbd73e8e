"""Reading a spreadsheet a station uploads (.xlsx or CSV) into rows of text, and the problems of
its rows: the machinery of every import (volunteer rosters, civil-affairs rosters). What each
column means, and whether a row is good, is the importing service's rule.

An import is all or nothing: a dry run reports; a real run with any bad row raises
`SheetRejected` and the request's transaction writes nothing.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime

from openpyxl import load_workbook
from pydantic import Field

from shared.errors import InvalidInput
from shared.schemas import Output


class RowProblem(Output):
    row: int = Field(description="Row number in the file, the header being row 1")
    column: str
    reason: str
    code: str = "invalid"
    existing_id: str | None = None


def cell(value) -> str | None:
    """A cell as trimmed text (dates as YYYY-MM-DD, whole numbers without ".0"), or None when blank."""
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
            return [[cell(v) for v in row] for row in book.active.iter_rows(values_only=True)]
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
        return [[cell(v) for v in row] for row in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error:
        raise InvalidInput.field("file", "This is not a readable CSV file.", "unreadable") from None


def header_columns(header: list[str | None], spellings: dict[str, tuple[str, ...]],
                   required: tuple[str, ...]) -> list[str | None]:
    """The field each header cell names (None for a column the import does not read); a missing
    required column is a problem of the file."""
    by_header = {h.strip().lower(): col for col, names in spellings.items() for h in names}
    columns = [by_header.get((h or "").strip().lower()) for h in header]
    missing = [c for c in required if c not in columns]
    if missing:
        raise InvalidInput.field("file", f"The header row lacks column(s): {', '.join(missing)}.", "missing_column")
    return columns


def data_rows(table: list[list[str | None]], max_rows: int) -> list[tuple[int, list[str | None]]]:
    """(row number in the file, cells) of the non-blank rows under the header, at most `max_rows`."""
    if not table:
        raise InvalidInput.field("file", "The file is empty.", "empty")
    rows = [(i + 2, cells) for i, cells in enumerate(table[1:]) if any(c is not None for c in cells)]
    if len(rows) > max_rows:
        raise InvalidInput.field("file", f"At most {max_rows} rows per file; this one has {len(rows)}.",
                                 "too_many_rows")
    return rows


class SheetRejected(InvalidInput):
    """A real run with bad rows: nothing is written (the request's transaction rolls back)."""

    type = "roster-rejected"

    def __init__(self, detail: str, problems: list[RowProblem], **extra) -> None:
        super().__init__(detail, errors=[{"field": p.column, "message": p.reason, "code": p.code, "row": p.row,
                                          "column": p.column, **({"existing_id": p.existing_id} if p.existing_id
                                                                 else {})}
                                         for p in problems], **extra)
