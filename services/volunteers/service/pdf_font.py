"""The certificate's typeface, Noto Serif SC (SIL Open Font License 1.1), embedded in every PDF
so that a viewer or printer without Chinese fonts (many office PCs) still shows the text.

The pinned `pylopdf-fonts-zh-cn` package ships it as OpenType with CFF outlines, which reportlab
cannot embed. For each document the glyphs its text uses are copied into a small TrueType font
(fontTools; quadratic outlines within one font unit of the cubic ones), which reportlab embeds
as a subset: a certificate's few hundred glyphs take a fraction of a second, where converting
the whole font (65,000 glyphs) would take minutes.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from fontTools.fontBuilder import FontBuilder
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont as OpenTypeFont
from pylopdf_fonts_zh_cn import serif_path
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT = "HaolinSerif"
# One document at a time: the source font is read lazily (not thread-safe), and reportlab looks
# fonts up by name in a process-wide registry, where FONT is this document's glyphs.
_lock = threading.RLock()


@cache
def _source() -> OpenTypeFont:
    return OpenTypeFont(str(serif_path()), lazy=True)


def width(text: str, size: float) -> float:
    """The advance of `text` set at `size` points, as the embedded font will set it."""
    with _lock:
        source = _source()
        cmap, advances = source.getBestCmap(), source["hmtx"]
        units = sum(advances[cmap.get(ord(ch), ".notdef")][0] for ch in text)
        return units * size / source["head"].unitsPerEm


def truetype(text: str) -> bytes:
    """A TrueType font with the glyphs of `text` (characters the font lacks print as .notdef)."""
    source = _source()
    cmap, outlines, advances = source.getBestCmap(), source.getGlyphSet(), source["hmtx"]
    mapping = {ord(ch): cmap[ord(ch)] for ch in set(text) if ord(ch) in cmap}
    order = [".notdef", *sorted(set(mapping.values()) - {".notdef"})]
    glyphs = {}
    for name in order:
        pen = TTGlyphPen(None)
        outlines[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyphs[name] = pen.glyph()
    built = FontBuilder(source["head"].unitsPerEm, isTTF=True)
    built.setupGlyphOrder(order)
    built.setupCharacterMap(mapping)
    built.setupGlyf(glyphs)
    glyf = built.font["glyf"]
    built.setupHorizontalMetrics({n: (advances[n][0], getattr(glyf[n], "xMin", 0)) for n in order})
    hhea, os2, names = source["hhea"], source["OS/2"], source["name"]
    built.setupHorizontalHeader(ascent=hhea.ascent, descent=hhea.descent, lineGap=hhea.lineGap)
    built.setupNameTable({"familyName": "Noto Serif SC", "styleName": "Regular", "psName": "NotoSerifSC-Regular",
                          "copyright": names.getDebugName(0), "licenseDescription": names.getDebugName(13)})
    built.setupOS2(sTypoAscender=os2.sTypoAscender, sTypoDescender=os2.sTypoDescender,
                   sTypoLineGap=os2.sTypoLineGap, usWinAscent=os2.usWinAscent, usWinDescent=os2.usWinDescent,
                   fsType=os2.fsType, achVendID=os2.achVendID)
    built.setupPost()
    # The source's dates, not the time of conversion: the same certificate prints to the same bytes.
    built.updateHead(created=source["head"].created, modified=source["head"].modified)
    built.font.recalcTimestamp = False
    out = io.BytesIO()
    built.save(out)
    return out.getvalue()


@contextmanager
def embedded(text: str) -> Iterator[str]:
    """FONT, holding the glyphs of `text`, for the document drawn inside this block."""
    with _lock:
        font = TTFont(FONT, io.BytesIO(truetype(text)))
        # Replaced, not registered anew under a new name per document: reportlab's registry has
        # no removal, and one entry per certificate ever printed would only grow.
        pdfmetrics._fonts[FONT] = font
        yield FONT
