"""A project's outputs against its contract targets, from the progress flow (gateway/flows/progress.py):
each target with its condition, target value, current value, completion and whether it is met."""

from __future__ import annotations

from datetime import datetime

from gateway.reports import workbook as wb
from shared import clock
from shared.labels import Lang, label
from shared.stats import TARGET_METRICS


def conditions_text(conditions: dict, lang: Lang) -> str:
    sep = "，" if lang == "zh-CN" else ", "
    return sep.join(f"{label('target_condition', k, lang)} {v}" for k, v in sorted(conditions.items()))


def build(project: dict, progress: dict, lang: Lang) -> bytes:
    book = wb.new_workbook()
    ws = book.create_sheet(wb.sheet_title(wb.text("project_title", lang), set()))
    top = wb.header_block(ws, wb.text("project_title", lang), [
        (wb.text("project", lang), project["name"]),
        (wb.text("purchaser", lang), project.get("purchaser") or ""),
        (wb.text("operator", lang), project.get("operator") or ""),
        (wb.text("period", lang), f"{progress['starts_on']} {wb.text('to', lang)} {progress['ends_on']}"),
        (wb.text("as_of", lang), progress["as_of"]),
        (wb.text("generated_at", lang), datetime.now(clock.zone()).strftime("%Y-%m-%d %H:%M:%S")),
        (wb.text("timezone", lang), clock.timezone_name()),
    ])
    rows = []
    for target in progress["targets"]:
        value, goal, met = target.get("value"), target["target"], target.get("met")
        rate = round(value / goal, 4) if value is not None and goal else None
        # A metric this version does not know keeps its name; the service that counts it, its label.
        owner = target.get("owner") or TARGET_METRICS.get(target["metric"], ("",))[0]
        rows.append([label("figure", target["metric"], lang), conditions_text(target.get("conditions") or {}, lang),
                     _number(goal), _number(value), rate,
                     None if met is None else wb.text("yes" if met else "no", lang), owner])
    headings = [wb.text(k, lang) for k in ("indicator", "conditions", "target", "value", "rate", "met", "counted_by")]
    after = wb.table(ws, top, headings, rows, number_from=3, widths=(24, 30, 12, 12, 12, 10, 12))
    for r in range(top + 1, after):
        ws.cell(row=r, column=5).number_format = "0.0%"
    missing = progress.get("degraded") or []
    if missing:
        wb.put(ws, after + 1, 1, wb.text("missing_note", lang) + ", ".join(missing))
    _evidence(book, progress, lang)
    return wb.to_bytes(book)


def _evidence(book, progress: dict, lang: Lang) -> None:
    """A second sheet: per target, the records it counts that lack their evidence (gateway/flows/progress.py)."""
    ws = book.create_sheet(wb.sheet_title(wb.text("evidence_title", lang), {wb.text("project_title", lang).lower()}))
    top = wb.header_block(ws, wb.text("evidence_title", lang), [(wb.text("as_of", lang), progress["as_of"])])
    rows = [[label("figure", target["metric"], lang), _known(gap["record"], lang), gap["id"], gap["on"],
             _known(gap["lacking"], lang)]
            for target in progress["targets"] for gap in target.get("lacking_evidence") or []]
    headings = [wb.text(k, lang) for k in ("indicator", "record", "record_id", "record_on", "lacking")]
    after = wb.table(ws, top, headings, rows, number_from=6, widths=(24, 20, 40, 12, 16))
    if not rows:
        wb.put(ws, after + 1, 1, wb.text("evidence_none", lang))


def _known(code: str, lang: Lang) -> str:
    return wb.text(f"evidence_{code}", lang) if f"evidence_{code}" in wb.TEXT else code


def _number(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else round(value, 2)
