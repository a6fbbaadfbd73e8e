"""The printable certificate (志愿服务证明): A4 in a double frame, the statement, a table of the
certified services with each column under its header, then the issuing station, the handler and
the date beside a marked place for the station's seal.

Laid out first as a list of drawing steps, so the font embedded in the file (pdf_font) holds
exactly the glyphs the steps draw. Rendered from the stored certificate only, with reportlab's
invariant mode (a fixed document id) and the certificate's own creation time, so the same
certificate gives the same bytes every time.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from services.volunteers.schemas.certificates import CertificateRead
from services.volunteers.service import pdf_font
from shared import clock

ID_TYPES = {"mainland_id": "居民身份证", "passport": "护照", "hk_macau_permit": "港澳居民来往内地通行证",
            "taiwan_permit": "台湾居民来往大陆通行证", "other": "其他证件"}
WIDTH, HEIGHT = A4
LEFT, RIGHT, TOP, BOTTOM = 25 * mm, WIDTH - 25 * mm, HEIGHT - 30 * mm, 32 * mm
# Columns of the table: the header and every row start each column at the same x.
DATE_X, HOURS_X, CONTENT_X = LEFT + 3 * mm, LEFT + 31 * mm, LEFT + 58 * mm
CONTENT_WIDTH = RIGHT - 3 * mm - CONTENT_X
FRAME = (0.55, 0.08, 0.08)  # the deep red of an official certificate's border
GREY = (0.45, 0.45, 0.45)
SEAL_RADIUS = 21 * mm  # a station's round seal is 40-42 mm across
NO_LINE_START = set("）》」』】〕，。、；：！？…%)]}.,;:!?")


@dataclass
class Layout:
    """Drawing steps, page by page: (method name of the canvas, args, kwargs)."""

    pages: list[list[tuple[str, tuple, dict]]] = field(default_factory=lambda: [[]])

    def do(self, method: str, *args, **kwargs) -> None:
        self.pages[-1].append((method, args, kwargs))

    def text(self, x: float, y: float, text: str, size: float, how: str = "drawString", color=(0, 0, 0)) -> None:
        self.do("setFillColorRGB", *color)
        self.do("setFont", pdf_font.FONT, size)
        self.do(how, x, y, text)

    def texts(self) -> str:
        return "".join(args[2] for page in self.pages for method, args, _ in page if method.startswith("draw")
                       and len(args) == 3 and isinstance(args[2], str))


def _date(value) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def _wrap(text: str, size: float, width: float) -> list[str]:
    """Break text into lines that fit `width` (Chinese has no spaces to break at); closing
    punctuation stays at the end of its line rather than begin the next (避头尾)."""
    lines, line = [], ""
    for ch in text.replace("\n", " "):
        if line and ch not in NO_LINE_START and pdf_font.width(line + ch, size) > width:
            lines.append(line)
            line = ""
        line += ch
    return [*lines, line] if line else lines


def _frame(out: Layout, page: int, cert: CertificateRead) -> None:
    out.do("setStrokeColorRGB", *FRAME)
    out.do("setLineWidth", 2.2)
    out.do("rect", 12 * mm, 12 * mm, WIDTH - 24 * mm, HEIGHT - 24 * mm)
    out.do("setLineWidth", 0.6)
    out.do("rect", 14.5 * mm, 14.5 * mm, WIDTH - 29 * mm, HEIGHT - 29 * mm)
    footer = f"本证明免费出具　内容校验码：{cert.content_hash[:16]}　第 {page} 页"
    out.text(WIDTH / 2, 19 * mm, footer, 8, "drawCentredString", GREY)


def _table_header(out: Layout, y: float) -> float:
    out.do("setFillColorRGB", 0.93, 0.93, 0.93)
    out.do("rect", LEFT, y - 2.5 * mm, RIGHT - LEFT, 8 * mm, stroke=0, fill=1)
    for x, label in ((DATE_X, "服务日期"), (HOURS_X, "时长（小时）"), (CONTENT_X, "服务内容")):
        out.text(x, y, label, 10.5)
    return y - 9 * mm


def layout(cert: CertificateRead) -> Layout:
    out = Layout()
    page = 1
    _frame(out, page, cert)
    y = HEIGHT - 45 * mm
    out.text(WIDTH / 2, y, "志愿服务证明", 26, "drawCentredString")
    y -= 12 * mm
    out.text(RIGHT, y, f"编号：{cert.number}", 10.5, "drawRightString")
    y -= 13 * mm
    body = (f"兹证明 {cert.name}（{ID_TYPES.get(cert.id_type, cert.id_type)}：{cert.id_number}，志愿者编号："
            f"{cert.volunteer_number}）于 {_date(cert.period_from)} 至 {_date(cert.period_to)} 期间参加志愿服务"
            f" {cert.record_count} 次，累计志愿服务时长 {cert.total_hours:.2f} 小时。服务记录如下：")
    indent = 2 * 12.5  # two characters, as a Chinese paragraph begins
    for i, text in enumerate(_wrap(body, 12.5, RIGHT - LEFT - indent)):
        out.text(LEFT + (indent if i == 0 else 0), y, text, 12.5)
        y -= 8 * mm
    y -= 3 * mm

    def new_page(table: bool = True) -> float:
        """A continuation page; the table's header again when rows go on there."""
        nonlocal page
        out.pages.append([])
        page += 1
        _frame(out, page, cert)
        out.text(LEFT, TOP, f"志愿服务证明（续）　编号：{cert.number}", 10.5)
        return _table_header(out, TOP - 12 * mm) if table else TOP - 15 * mm

    y = _table_header(out, y)
    for item in cert.items:
        lines = _wrap(f"{item.content}（{item.organiser}）", 10.5, CONTENT_WIDTH) or [""]
        if y - 6 * mm * (len(lines) - 1) < BOTTOM:
            y = new_page()
        out.text(DATE_X, y, item.served_on.isoformat(), 10.5)
        out.text(HOURS_X, y, f"{item.hours:.2f}", 10.5)
        for text in lines:
            out.text(CONTENT_X, y, text, 10.5)
            y -= 6 * mm
        out.do("setStrokeColorRGB", 0.8, 0.8, 0.8)
        out.do("setLineWidth", 0.4)
        out.do("line", LEFT, y + 4 * mm, RIGHT, y + 4 * mm)
        y -= 2.5 * mm
    y -= 4 * mm
    if y - 60 * mm < BOTTOM:
        y = new_page(table=False)
    out.text(LEFT, y, f"合计：{cert.total_hours:.2f} 小时，共 {cert.record_count} 次", 12)
    _issuer(out, cert, y - 22 * mm)
    return out


def _issuer(out: Layout, cert: CertificateRead, y: float) -> None:
    """The issuing station, the handler and the date, with the seal's place over the station's name
    and the date, where a station stamps it."""
    x = RIGHT - 85 * mm
    for text in (f"出具单位（盖章）：{cert.issuer_name}", f"经办人：{cert.handler_name}",
                 f"出具日期：{_date(cert.issued_on)}"):
        out.text(x, y, text, 12)
        y -= 9 * mm
    cx, cy = RIGHT - 28 * mm, y + 18 * mm
    out.do("setStrokeColorRGB", *GREY)
    out.do("setLineWidth", 0.5)
    out.do("setDash", 3, 3)
    out.do("circle", cx, cy, SEAL_RADIUS)
    out.do("setDash")
    out.text(cx, cy - 2, "盖章处", 9, "drawCentredString", GREY)


def _pdf_date(moment: datetime) -> Callable[..., str]:
    """The certificate's creation time in the platform's zone, as a PDF date."""
    local = moment.astimezone(clock.zone())
    offset = int(local.utcoffset().total_seconds() // 60)
    sign, offset = ("+" if offset >= 0 else "-"), abs(offset)
    text = f"D:{local:%Y%m%d%H%M%S}{sign}{offset // 60:02d}'{offset % 60:02d}'"
    return lambda *_: text


def render(cert: CertificateRead) -> bytes:
    steps = layout(cert)
    buf = io.BytesIO()
    with pdf_font.embedded(steps.texts()):
        # The embedded font from the start: reportlab's default Helvetica would be named, unembedded, on every page.
        pdf = canvas.Canvas(buf, pagesize=A4, invariant=1, pageCompression=0, lang="zh-CN",
                            initialFontName=pdf_font.FONT, initialFontSize=12)
        pdf.setTitle(f"志愿服务证明 {cert.number}")
        pdf.setAuthor(cert.issuer_name)
        pdf.setSubject("志愿服务证明")
        pdf.setCreator("好邻 Haolin")
        pdf.setDateFormatter(_pdf_date(cert.created_at))
        for page in steps.pages:
            for method, args, kwargs in page:
                getattr(pdf, method)(*args, **kwargs)
            pdf.showPage()
        pdf.save()
    return buf.getvalue()
