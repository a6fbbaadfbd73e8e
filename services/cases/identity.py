"""Pinyin search keys of names; resident ID numbers come from shared.idnumber, phones from shared.phone."""

from pypinyin import Style, lazy_pinyin

# ID numbers are checked the same way by every service: re-exported for the cases modules.
from shared.idnumber import birth_date, check_digit, normalise_id_number  # noqa: F401

NAME_MAX = 100  # characters of a beneficiary's name
# The longest keys pinyin_keys makes of a name of NAME_MAX characters, the widths of their columns:
# per character an initial, or the character itself lower-cased, which makes two of "İ" (U+0130);
# a syllable of at most six letters ("shuang"). tests/cases/test_beneficiaries.py::TestPinyin checks.
INITIALS_MAX = 2 * NAME_MAX
PINYIN_MAX = 6 * NAME_MAX


def pinyin_keys(name: str) -> tuple[str, str]:
    """("zsf", "zhangsanfeng") for 张三丰; other scripts pass through lower-cased."""
    syllables = [s.strip().lower() for s in lazy_pinyin(name)]
    initials = [s.strip().lower() for s in lazy_pinyin(name, style=Style.FIRST_LETTER)]
    return "".join(initials).replace(" ", ""), "".join(syllables).replace(" ", "")
