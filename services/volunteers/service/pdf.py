"""The printable certificate: A4, Chinese text in reportlab's built-in CID font (no font files).

Rendered from the stored certificate only, with reportlab's invariant mode (fixed creation
date and document id), so the same certificate gives the same bytes every time.
"""

import io
from functools import cache

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from services.volunteers.schemas.certificates import CertificateRead

FONT = "STSong-Light"
ID_TYPES = {"mainland_id": "居民身份证", "passport": "护照", "hk_macau_permit": "港澳居民来往内地通行证",
            "taiwan_permit": "台湾居民来往大陆通行证", "other": "其他证件"}
WIDTH, HEIGHT = A4
LEFT, RIGHT, TOP, BOTTOM = 25 * mm, WIDTH - 25 * mm, HEIGHT - 25 * mm, 30 * mm


@cache
def _font() -> str:
    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def _date(value) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def _wrap(text: str, size: float, width: float) -> list[str]:
    """Break text into lines that fit `width` (Chinese has no spaces to break at)."""
    lines, line = [], ""
    for ch in text.replace("\n", " "):
        if pdfmetrics.stringWidth(line + ch, FONT, size) > width:
            lines.append(line)
            line = ""
        line += ch
    return [*lines, line] if line else lines


def render(cert: CertificateRead) -> bytes:
    font = _font()
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, invariant=1, pageCompression=0)
    pdf.setTitle(f"志愿服务证明 {cert.number}")
    y = TOP

    def line(text: str, size: float = 11, x: float = LEFT, gap: float = 7 * mm) -> None:
        nonlocal y
        if y < BOTTOM:
            pdf.showPage()
            y = TOP
        pdf.setFont(font, size)
        pdf.drawString(x, y, text)
        y -= gap

    pdf.setFont(font, 20)
    pdf.drawCentredString(WIDTH / 2, y, "志愿服务证明")
    y -= 10 * mm
    line(f"编号：{cert.number}", 10)
    body = (f"兹证明 {cert.name}（{ID_TYPES.get(cert.id_type, cert.id_type)}：{cert.id_number}，志愿者编号："
            f"{cert.volunteer_number}）于 {_date(cert.period_from)} 至 {_date(cert.period_to)} 期间参加志愿服务"
            f" {cert.record_count} 次，累计志愿服务时长 {cert.total_hours} 小时。服务记录如下：")
    for text in _wrap(body, 12, RIGHT - LEFT):
        line(text, 12)
    y -= 2 * mm
    line("日期              时长（小时）  服务内容", 10)
    for item in cert.items:
        detail = f"{item.content}（{item.organiser}）"
        wrapped = _wrap(detail, 10, RIGHT - LEFT - 55 * mm) or [""]
        line(f"{item.served_on.isoformat()}    {item.hours}", 10, gap=0)
        for text in wrapped:
            line(text, 10, x=LEFT + 55 * mm, gap=5.5 * mm)
    y -= 6 * mm
    line(f"合计：{cert.total_hours} 小时", 12)
    line(f"出具单位：{cert.issuer_name}", 12)
    line(f"经办人：{cert.handler_name}", 12)
    line(f"出具日期：{_date(cert.issued_on)}", 12)
    line("本证明免费出具；内容校验码：" + cert.content_hash[:16], 8)
    pdf.showPage()
    pdf.save()
    return buf.getvalue()
