"""Content-Disposition for downloads: the user's file name kept where it is safe, never a header's
or a path's worth of trouble."""

from __future__ import annotations

import re
from urllib.parse import unquote

from hypothesis import given
from hypothesis import strategies as st

from shared.uploads import Kind, clean_name, content_disposition, download_headers


_PARAM = re.compile(r';\s*([A-Za-z*]+)=("(?:[^"\\]|\\.)*"|[^;\s]+)')


def parsed(value: str) -> dict:
    """The header as a browser reads it (RFC 6266 4.3: `filename*` wins over `filename`): its type,
    every parameter, and the name the file is saved under."""
    kind, _, rest = value.partition(";")
    params = {name: raw.strip('"') for name, raw in _PARAM.findall(";" + rest)}
    assert _PARAM.sub("", ";" + rest) == "", f"unparsed text in {value!r}"
    name = params.get("filename")
    if "filename*" in params:
        charset, _, encoded = params["filename*"].partition("''")
        assert charset == "UTF-8"
        name = unquote(encoded, encoding="utf-8", errors="strict")
    return {"type": kind, "filename": name, "params": params}


class TestNames:
    def test_a_chinese_name_is_kept_with_an_ascii_stand_in(self):
        value = content_disposition("张秀英知情同意书.pdf", Kind.PDF)
        assert value == ("attachment; filename=\"attachment.pdf\"; filename*=UTF-8''"
                         "%E5%BC%A0%E7%A7%80%E8%8B%B1%E7%9F%A5%E6%83%85%E5%90%8C%E6%84%8F%E4%B9%A6.pdf")
        assert parsed(value)["filename"] == "张秀英知情同意书.pdf"

    def test_a_mixed_name_keeps_its_ascii_in_the_stand_in(self):
        value = content_disposition("2026年3月 签到表.jpg", Kind.JPEG)
        assert 'filename="2026_3.jpg"' in value
        assert parsed(value)["filename"] == "2026年3月 签到表.jpg"

    def test_a_plain_name_needs_no_second_form(self):
        assert content_disposition("sign-in sheet.pdf", Kind.PDF) == 'attachment; filename="sign-in sheet.pdf"'

    def test_inline(self):
        assert content_disposition("a.png", Kind.PNG, inline=True) == 'inline; filename="a.png"'

    def test_folders_are_dropped(self):
        assert clean_name("../../etc/passwd", Kind.PDF) == "passwd.pdf"
        assert clean_name("C:\\fakepath\\Users\\wangli\\Desktop\\照片.jpg", Kind.JPEG) == "照片.jpg"
        assert clean_name("..", Kind.PDF) == "attachment.pdf"

    def test_the_extension_is_the_stored_kinds(self):
        assert clean_name("IMG_0001.HEIC", Kind.JPEG) == "IMG_0001.jpg"
        assert clean_name("scan.jpeg", Kind.JPEG) == "scan.jpg"
        assert clean_name("invoice.exe", Kind.PDF) == "invoice.exe.pdf"
        assert clean_name("report", Kind.PDF) == "report.pdf"
        assert clean_name("evil.html", Kind.PNG) == "evil.html.png"

    def test_invisible_and_control_characters_go(self):
        # U+202E shows "photo\u202egpj.exe" as "photoexe.jpg"; zero-width and NUL hide parts of a name.
        assert clean_name("photo\u202egpj.exe", Kind.PDF) == "photogpj.exe.pdf"
        assert clean_name("a\u200bb\x00c\x7f.pdf", Kind.PDF) == "abc.pdf"
        assert clean_name("tab\there\u3000full width\r\nspace.pdf", Kind.PDF) == "tab here full width space.pdf"

    def test_header_injection_is_impossible(self):
        value = content_disposition('x.pdf"; filename="evil.exe\r\nSet-Cookie: session=1', Kind.PDF)
        assert "\r" not in value and "\n" not in value
        found = parsed(value)
        assert found["filename"] == "x.pdf'; filename='evil.exe Set-Cookie: session=1.pdf"
        assert set(found["params"]) == {"filename", "filename*"}

    def test_long_names_are_cut_keeping_the_extension(self):
        name = clean_name("很长的名字" * 100 + ".pdf", Kind.PDF)
        assert len(name) == 120 and name.startswith("很长的名字") and name.endswith("很.pdf")

    def test_no_name(self):
        assert content_disposition(None, Kind.PDF) == 'attachment; filename="attachment.pdf"'
        assert content_disposition("   ", Kind.JPEG) == 'attachment; filename="attachment.jpg"'

    def test_reserved_windows_names(self):
        assert clean_name("CON.pdf", Kind.PDF) == "_CON.pdf"
        assert clean_name("nul", Kind.PDF) == "_nul.pdf"


class TestAnyName:
    @given(st.text(max_size=300))
    def test_every_name_gives_a_safe_ascii_header(self, name: str):
        value = content_disposition(name, Kind.JPEG)
        value.encode("ascii")
        assert not re.search(r"[\x00-\x1f\x7f]", value)
        fallback = re.match(
            r'attachment; filename="([^"\\]*)"(?:; filename\*=UTF-8\'\'([A-Za-z0-9%!#$&+\-.^_`|~]+))?$', value)
        assert fallback, value
        full = unquote(fallback[2]) if fallback[2] else fallback[1]
        assert full == clean_name(name, Kind.JPEG)
        assert full.endswith(".jpg") and len(full) <= 120
        assert not any(c in full for c in '/\\"\x00\r\n\u202e')


class TestDownloadHeaders:
    def test_what_a_download_sends(self):
        headers = download_headers("IMG_0001.HEIC", Kind.JPEG)
        assert headers == {
            "Content-Type": "image/jpeg",
            "Content-Disposition": 'attachment; filename="IMG_0001.jpg"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        }
