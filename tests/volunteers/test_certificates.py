"""Certificates (志愿服务证明): confirmed hours only, reproducible, JSON and printable PDF."""

import io
import re
from datetime import timedelta

import pypdfium2
from PIL import Image, ImageChops, ImageDraw, ImageFont
from pylopdf_fonts_zh_cn import serif_path
from pypdf import PdfReader

from tests.fixtures.calls import fields_of, with_etag
from tests.fixtures.people import ID_BORN_1990


async def issue(client, headers, volunteer_id, from_on, to_on, expect=201) -> dict:
    r = await client.post("/v1/certificates", headers=headers, json={
        "volunteer_id": volunteer_id, "from": from_on.isoformat(), "to": to_on.isoformat()})
    assert r.status_code == expect, r.text
    return r.json()


class TestIssueCertificate:
    async def test_hours_equal_the_confirmed_records(self, volunteers_client, worker, sibling, register, record,
                                                     act, db, today):
        v = await register(worker)
        start = today - timedelta(days=20)
        confirmed = []
        for days_ago, hours in ((15, "2.5"), (10, "3"), (5, "1.25")):
            h = await record(worker, v["id"], hours=hours, served_on=(today - timedelta(days=days_ago)).isoformat(),
                             content=f"服务{days_ago}")
            confirmed.append(await act(worker, h["id"], "confirm"))
        await record(worker, v["id"], hours="4", served_on=(today - timedelta(days=3)).isoformat())  # not confirmed
        await record(worker, v["id"], hours="6", served_on=(today - timedelta(days=30)).isoformat())  # outside
        cert = await issue(volunteers_client, worker, v["id"], start, today)
        stored = await db.fetchval("SELECT sum(hours) FROM volunteers.service_hours WHERE status IN "
                                   "('confirmed', 'corrected') AND served_on BETWEEN $1 AND $2", start, today)
        assert cert["total_hours"] == float(stored) == 6.75 and cert["record_count"] == 3
        assert [i["hours_id"] for i in cert["items"]] == [h["id"] for h in confirmed]
        assert cert["number"] == f"2-{today.year}-000001" and cert["issuer_name"] == "Station 2"
        assert cert["handler_id"] == "w2" and cert["handler_name"] == "王丽" and cert["issued_on"] == today.isoformat()
        assert cert["id_number"] == ID_BORN_1990 and cert["from"] == start.isoformat() and cert["volunteer_number"]
        row = await db.fetchrow("SELECT * FROM volunteers.certificate")
        assert ID_BORN_1990 not in row["id_number_enc"] and row["content_hash"] == cert["content_hash"]
        r = await volunteers_client.post("/v1/certificates", headers=sibling, json={
            "volunteer_id": v["id"], "from": start.isoformat(), "to": today.isoformat()})
        assert r.status_code == 422 and fields_of(r) == {"volunteer_id"}

    async def test_same_request_same_certificate_until_records_change(self, volunteers_client, worker, register,
                                                                      record, act, today):
        v = await register(worker)
        h = await record(worker, v["id"], hours="2")
        await act(worker, h["id"], "confirm")
        first = await issue(volunteers_client, worker, v["id"], today, today)
        again = await issue(volunteers_client, worker, v["id"], today, today, expect=200)
        assert again == first
        later = await record(worker, v["id"], hours="1")
        await act(worker, later["id"], "confirm")
        second = await issue(volunteers_client, worker, v["id"], today, today)
        assert second["total_hours"] == 3 and second["number"] != first["number"]
        # The first one still reads as issued.
        assert (await volunteers_client.get(f"/v1/certificates/{first['id']}", headers=worker)).json() == first

    async def test_bad_requests(self, volunteers_client, worker, supervisor, register, record, today):
        v = await register(worker)
        await record(worker, v["id"])  # recorded, not confirmed
        r = await volunteers_client.post("/v1/certificates", headers=worker, json={
            "volunteer_id": v["id"], "from": today.isoformat(), "to": today.isoformat()})
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "no_certified_hours"
        r = await volunteers_client.post("/v1/certificates", headers=worker, json={
            "volunteer_id": v["id"], "from": today.isoformat(), "to": (today - timedelta(days=1)).isoformat()})
        assert r.status_code == 422
        r = await volunteers_client.post("/v1/certificates", headers=supervisor, json={
            "volunteer_id": v["id"], "from": today.isoformat(), "to": today.isoformat()})
        assert r.status_code == 403


class TestCertificatePdf:
    async def test_pdf_states_the_hours(self, volunteers_client, worker, login, me, register, record, act, today):
        v = await register(worker)
        h = await record(worker, v["id"], hours="7.5", content="社区图书角值守")
        await act(worker, h["id"], "confirm")
        cert = await issue(volunteers_client, worker, v["id"], today, today)
        r = await volunteers_client.get(f"/v1/certificates/{cert['id']}.pdf", headers=worker)
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        assert r.content.startswith(b"%PDF")
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
        assert "志愿服务证明" in text and "7.50" in text and cert["number"] in text and "社区图书角值守" in text
        negotiated = await volunteers_client.get(f"/v1/certificates/{cert['id']}",
                                                 headers={**worker, "Accept": "application/pdf"})
        assert negotiated.headers["content-type"] == "application/pdf" and negotiated.content == r.content

        # The volunteer reads their own certificate; nobody else's.
        await volunteers_client.patch(f"/v1/volunteers/{v['id']}", json={"user_id": login.user_id},
                                      headers=with_etag(login.head, '"1"'))
        mine = (await volunteers_client.get("/v1/certificates", headers=me)).json()["items"]
        assert [c["id"] for c in mine] == [cert["id"]]
        assert (await volunteers_client.get(f"/v1/certificates/{cert['id']}.pdf", headers=me)).status_code == 200
        assert (await volunteers_client.get("/v1/certificates/nope.pdf", headers=me)).status_code == 404


async def certificate_pdf(client, worker, register, record, act, today, items: list[tuple[str, str]]) -> tuple:
    """A certificate over the given (hours, content) records, as JSON and as PDF bytes."""
    v = await register(worker, name="欧阳娜娜")
    for days_ago, (hours, content) in enumerate(items):
        h = await record(worker, v["id"], hours=hours, content=content,
                         served_on=(today - timedelta(days=days_ago)).isoformat())
        await act(worker, h["id"], "confirm")
    cert = await issue(client, worker, v["id"], today - timedelta(days=len(items)), today)
    r = await client.get(f"/v1/certificates/{cert['id']}.pdf", headers=worker)
    assert r.status_code == 200, r.text
    return cert, r.content


def runs(page) -> list[tuple[str, float, float, float]]:
    """(text, x, y, font size) of every string drawn on the page, in PDF points."""
    found: list[tuple[str, float, float, float]] = []

    def visit(text, cm, tm, font, size) -> None:
        if text.strip():
            found.append((text.strip(), tm[4] * cm[0] + cm[4], tm[5] * cm[3] + cm[5], size * tm[0]))

    page.extract_text(visitor_text=visit)
    return found


def ink(image: Image.Image) -> Image.Image:
    """Dark pixels as a 1-bit image cropped to their bounding box (None when there are none)."""
    mask = image.convert("L").point(lambda v: 255 if v < 140 else 0, mode="1")
    box = mask.getbbox()
    return mask.crop(box) if box else None


def overlap(a: Image.Image, b: Image.Image) -> float:
    """Intersection over union of two ink masks scaled to one size."""
    size = (max(a.width, b.width), max(a.height, b.height))
    a, b = a.resize(size), b.resize(size)
    both = ImageChops.logical_and(a, b).histogram()[-1]
    either = ImageChops.logical_or(a, b).histogram()[-1]
    return both / either if either else 0.0


class TestCertificatePrint:
    """What a printer or a viewer without Chinese fonts shows: the fonts travel inside the PDF."""

    async def test_every_font_is_embedded(self, volunteers_client, worker, register, record, act, today):
        _, body = await certificate_pdf(volunteers_client, worker, register, record, act, today,
                                        [("2", "助老送餐")])
        fonts = {}
        for page in PdfReader(io.BytesIO(body)).pages:
            for name, ref in page["/Resources"]["/Font"].items():
                font = ref.get_object()
                fonts[name] = font
        assert fonts
        for name, font in fonts.items():
            described = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            descriptor = described.get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            assert "/FontFile2" in descriptor or "/FontFile3" in descriptor, (name, font["/BaseFont"])

    async def test_the_rendered_page_shows_the_chinese_text(self, volunteers_client, worker, register, record,
                                                              act, today):
        cert, body = await certificate_pdf(volunteers_client, worker, register, record, act, today,
                                           [("2", "助老送餐")])
        scale = 4  # 288 dpi
        page = pypdfium2.PdfDocument(body)[0]
        image = page.render(scale=scale).to_pil()
        height = page.get_height()
        drawn = runs(PdfReader(io.BytesIO(body)).pages[0])
        checked = 0
        for text, x, y, size in drawn:
            if not (text.strip() == "志愿服务证明" or cert["name"] in text):
                continue
            font = ImageFont.truetype(str(serif_path()), round(size * scale), layout_engine=ImageFont.Layout.BASIC)
            width = font.getlength(text)
            top, bottom = (height - y - size * 1.1) * scale, (height - y + size * 0.35) * scale
            shown = ink(image.crop((round(x * scale) - 4, round(top), round(x * scale + width) + 4, round(bottom))))
            assert shown is not None, f"nothing drawn where {text!r} is"
            expected = Image.new("L", (round(width) + 20, round(size * scale * 1.6)), 255)
            ImageDraw.Draw(expected).text((10, 5), text, font=font, fill=0)
            # The same glyphs, not empty boxes or a substitute font: most ink falls on the same pixels.
            assert overlap(shown, ink(expected)) > 0.6, text
            checked += 1
        assert checked == 2, drawn

    async def test_columns_line_up_under_their_headers(self, volunteers_client, worker, register, record, act,
                                                       today):
        content = "社区图书角值守，整理归还图书并协助老年读者使用电子阅览设备，引导儿童读者文明阅读" * 2
        _, body = await certificate_pdf(volunteers_client, worker, register, record, act, today,
                                        [("7.5", content), ("12", "助老送餐")])
        drawn = runs(PdfReader(io.BytesIO(body)).pages[0])
        header = {t.strip(): x for t, x, _, _ in drawn if t.strip() in ("服务日期", "时长（小时）", "服务内容")}
        assert set(header) == {"服务日期", "时长（小时）", "服务内容"}, drawn
        dates = [x for t, x, _, _ in drawn if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t.strip())]
        hours = [x for t, x, _, _ in drawn if re.fullmatch(r"\d+\.\d{2}", t.strip())]
        written = content + "助老送餐"
        contents = [x for t, x, _, _ in drawn if len(t) > 3 and t.split("（")[0] in written]
        assert len(dates) == 2 and len(hours) == 2 and len(contents) >= 3, drawn
        for column, xs in (("服务日期", dates), ("时长（小时）", hours), ("服务内容", contents)):
            assert all(abs(x - header[column]) < 0.5 for x in xs), (column, header[column], xs)

    async def test_metadata_names_the_issuer_and_the_day_it_was_made(self, volunteers_client, worker, register,
                                                                      record, act, today):
        cert, body = await certificate_pdf(volunteers_client, worker, register, record, act, today,
                                           [("2", "助老送餐")])
        meta = PdfReader(io.BytesIO(body)).metadata
        assert meta.author == cert["issuer_name"] and meta.author != "anonymous"
        assert cert["number"] in meta.title
        assert meta.creation_date.date() == today and meta.creation_date.year != 2000
        # The same certificate prints to the same bytes (its hash is on it).
        again = await volunteers_client.get(f"/v1/certificates/{cert['id']}.pdf", headers=worker)
        assert again.content == body

    async def test_a_bordered_document_with_a_place_for_the_seal(self, volunteers_client, worker, register,
                                                                record, act, today):
        many = [("1.5", f"第{i}次社区巡防，协助维护公共秩序并记录隐患") for i in range(40)]
        cert, body = await certificate_pdf(volunteers_client, worker, register, record, act, today, many)
        reader = PdfReader(io.BytesIO(body))
        assert len(reader.pages) >= 2
        document = pypdfium2.PdfDocument(body)
        for number in range(len(reader.pages)):
            image = document[number].render(scale=1).to_pil().convert("L")
            w, h = image.size
            # A frame near every edge of every page.
            for strip in ((20, h // 2, w // 8, h // 2 + 1), (w - w // 8, h // 2, w - 20, h // 2 + 1),
                          (w // 2, 15, w // 2 + 1, h // 10), (w // 2, h - h // 10, w // 2 + 1, h - 15)):
                assert ink(image.crop(strip)) is not None, (number, strip)
        last = reader.pages[-1].extract_text()
        assert "盖章" in last and cert["issuer_name"] in last and "经办人" in last
