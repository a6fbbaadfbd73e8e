"""The gateway's half: one group's persons unioned across services, exactly (bitmaps of person numbers)."""

from __future__ import annotations

from pydantic import BaseModel
from pyroaring import BitMap

from shared.contracts.persons.schemas import decode


class PersonsFigure(BaseModel):
    value: int
    exact: bool = True


class PersonsUnion:
    """The union of one group's persons across services."""

    def __init__(self) -> None:
        self._members = BitMap()

    def add(self, group: dict) -> None:
        if group.get("bitmap"):
            self._members |= decode(group["bitmap"])

    def merge(self, other: "PersonsUnion") -> None:
        self._members |= other._members

    def figure(self) -> PersonsFigure:
        return PersonsFigure(value=len(self._members))
