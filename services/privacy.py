"""Who is a child under PIPL, for the services that hold people's records (beneficiaries, volunteers).

A rule of the services, not machinery: it lives beside them, written once for both.
"""

from __future__ import annotations

from datetime import date, timedelta

CHILD_AGE = 14  # PIPL: all data of a child under 14 is sensitive


def is_child(birth_on: date | None, today: date) -> bool:
    """Under 14 on `today`."""
    if birth_on is None:
        return False
    try:
        fourteenth = birth_on.replace(year=birth_on.year + CHILD_AGE)
    except ValueError:  # born on 29 February
        fourteenth = birth_on.replace(year=birth_on.year + CHILD_AGE, day=28) + timedelta(days=1)
    return today < fourteenth
