"""Mainland resident ID numbers (GB 11643-1999): shape, check digit and the birth date in them.

Shared because every service that registers people (beneficiaries, volunteers) must
refuse the same malformed numbers the same way.
"""

import re
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^[1-9]\d{16}[\dX]$")


def check_digit(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS)) % 11]


def normalise_id_number(value: str) -> str:
    """The canonical form, or ValueError whose text never repeats the number."""
    value = "".join(value.split()).upper()
    if not _ID_SHAPE.match(value):
        raise ValueError("must be 18 characters: 17 digits and a digit or X")
    if check_digit(value[:17]) != value[17]:
        raise ValueError("the check digit does not match (GB 11643)")
    born = birth_date(value)
    if born is None:
        raise ValueError("the birth date in it is not a real date")
    return value


def birth_date(id_number: str) -> date | None:
    try:
        born = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None
    return born if born.year >= 1900 else None
