"""Writing a report's sheets with openpyxl: a header block, then one table.

Every cell goes through `put`: names, purchasers and labels are typed by users (a station head
names a child station), and a report travels to people who open it in Excel.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from decimal import Decimal
from urllib.parse import quote

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from shared.labels import Lang

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# The report's own words, beside the enum labels of shared.labels.
TEXT: dict[str, tuple[str, str]] = {
    "monthly_title": ("社工站月度统计报表", "Monthly statistics report"),
    "project_title": ("项目产出与目标对照表", "Project outputs against targets"),
    "station": ("站点", "Station"),
    "tier": ("层级", "Tier"),
    "month": ("月份", "Month"),
    "period": ("统计期间", "Period"),
    "population": ("人群", "Population"),
    "everyone": ("全部人群", "All people"),
    "generated_at": ("生成时间", "Generated at"),
    "timezone": ("时区", "Time zone"),
    "own": ("本站直属记录", "Records kept at the station itself"),
    "deleted": ("已删除", "deleted"),
    "total": ("合计（整个辖区）", "Total (whole subtree)"),
    "coverage": ("名册探访覆盖率（%）", "Roster visit coverage (%)"),
    "distinct_note": ("服务人数与参与服务的志愿者按人去重：合计不是各行之和。",
                      "Persons served and active volunteers count each person once: the total is not the sum "
                      "of the rows."),
    "system_title": ("站点体系", "Station system"),
    "system_note": ("站点数、各角色人数为期末数；开展服务的站点和工作人员按站、按人去重，合计不是各行之和；只计人数，不列姓名。",
                    "Stations and staff by role at the end of the month; active stations and staff count each "
                    "once, so their total is not the sum of the rows; counts only, never names."),
    "project": ("项目名称", "Project"),
    "purchaser": ("购买方", "Purchaser"),
    "operator": ("承接机构", "Operating organisation"),
    "as_of": ("统计截至", "Figures as of"),
    "indicator": ("指标", "Indicator"),
    "conditions": ("条件", "Conditions"),
    "target": ("目标值", "Target"),
    "value": ("当前值", "Current value"),
    "rate": ("完成率", "Completion"),
    "met": ("是否达标", "Met"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
    "counted_by": ("统计来源", "Counted by"),
    "missing_note": ("未能统计（服务未响应或指标未知）：", "Not counted (service did not answer or metric unknown): "),
    "to": ("至", "to"),
    "evidence_title": ("佐证材料缺失清单", "Records lacking evidence"),
    "evidence_none": ("各指标计入的记录均有佐证材料。", "Every record the targets count has its evidence."),
    "record": ("记录", "Record"),
    "record_id": ("记录编号", "Record id"),
    "record_on": ("日期", "Date"),
    "lacking": ("缺少", "Lacking"),
    "evidence_group_session": ("小组活动（节）", "Group session"),
    "evidence_activity": ("社区活动", "Community activity"),
    "evidence_case": ("个案（结案）", "Case (closed)"),
    "evidence_sign_in_sheet": ("签到表", "Sign-in sheet"),
    "evidence_closure_report": ("结案报告", "Closure report"),
}

_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=14)
_HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")


# Spreadsheets read a cell typed with one of these first as a formula (OWASP, "CSV Injection");
# openpyxl itself stores any string starting with "=" as one, and "#N/A" and its kind as errors.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def put(ws: Worksheet, row: int, column: int, value: object) -> Cell:
    """Write one cell: a number stays a number; anything else is a text cell holding exactly the
    text, never a formula or an error. Text that a spreadsheet would read as a formula when the
    cell is edited carries the quote prefix (as if typed with a leading '), so it stays text."""
    cell = ws.cell(row=row, column=column)
    if value is None or isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        cell.value = value
        return cell
    # Control characters a workbook cannot hold (XML 1.0) would fail the whole report.
    text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", str(value))
    cell.value = text
    cell.data_type = "s"  # after the value, which set "f" for "=..." and "e" for "#N/A"
    if text.startswith(_FORMULA_START):
        cell.quotePrefix = True
    return cell


def text(key: str, lang: Lang) -> str:
    return TEXT[key][0 if lang == "zh-CN" else 1]


def sheet_title(name: str, taken: set[str]) -> str:
    """A valid, unique sheet name: at most 31 characters, none of []:*?/\\."""
    base = re.sub(r"[\[\]:*?/\\]", " ", name).strip()[:31] or "Sheet"
    title, n = base, 2
    while title.lower() in taken:
        suffix = f" ({n})"
        title, n = base[:31 - len(suffix)] + suffix, n + 1
    taken.add(title.lower())
    return title


def header_block(ws: Worksheet, title: str, pairs: Sequence[tuple[str, str]]) -> int:
    """The title and `label | value` lines; returns the next free row (after a blank one)."""
    put(ws, 1, 1, title).font = _TITLE
    for i, (label, value) in enumerate(pairs, start=2):
        put(ws, i, 1, label).font = _BOLD
        put(ws, i, 2, value)
    return len(pairs) + 3


def section(ws: Worksheet, row: int, title: str) -> None:
    """A table's title on a line of its own, below another table of the same sheet."""
    put(ws, row, 1, title).font = _BOLD


def table(ws: Worksheet, top: int, headings: Sequence[str], rows: Sequence[Sequence], number_from: int,
          widths: Sequence[int] = ()) -> int:
    """Headings on row `top`, then the rows; columns from `number_from` (1-based) are numbers.
    Returns the next free row."""
    for col, heading in enumerate(headings, start=1):
        cell = put(ws, top, col, heading)
        cell.font, cell.fill = _BOLD, _HEAD_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for r, row in enumerate(rows, start=top + 1):
        for col, value in enumerate(row, start=1):
            cell = put(ws, r, col, value)
            if col >= number_from and isinstance(value, float) and not value.is_integer():
                cell.number_format = "0.00"
    ws.freeze_panes = ws.cell(row=top + 1, column=number_from)
    for col in range(1, len(headings) + 1):
        ws.column_dimensions[get_column_letter(col)].width = widths[col - 1] if col <= len(widths) else 14
    return top + len(rows) + 1


def new_workbook() -> Workbook:
    wb = Workbook()
    wb.remove(wb.active)
    return wb


def to_bytes(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def disposition(ascii_name: str, name: str) -> str:
    """attachment with an ASCII filename and the full (Chinese) one as RFC 6266 filename*."""
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
