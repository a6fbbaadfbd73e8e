"""Mainland phone numbers: the shape every service that registers people accepts.

Shared for the reason shared.idnumber is: beneficiaries and volunteers must refuse the same
malformed numbers the same way.
"""

import re
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

_PHONE = re.compile(r"^(?:\+?86)?(?:1[3-9]\d{9}|0\d{9,11})$")


def normalise_phone(value: str) -> str:
    value = re.sub(r"[\s()-]", "", value)
    if not _PHONE.match(value):
        raise ValueError("must be a mainland mobile (11 digits) or a landline with area code")
    return value


Phone = Annotated[str, StringConstraints(max_length=32), AfterValidator(normalise_phone)]
