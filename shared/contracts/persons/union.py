"""The gateway's half: one group's persons unioned across services, exactly when every part is
exact, else through the sketches, with the estimate's bounds."""

from __future__ import annotations

import base64

import datasketches
from pydantic import BaseModel, Field

from shared.contracts.persons.schemas import LG_K, SKETCH_TYPE, sketch_of

# Standard deviations of the bounds given with an estimate: 2 is about 95.4% confidence.
BOUND_STDDEVS = 2
CONFIDENCE = 0.954


class PersonsFigure(BaseModel):
    value: int
    exact: bool
    lower: int | None = Field(default=None, description="Lower bound of an estimate")
    upper: int | None = Field(default=None, description="Upper bound of an estimate")
    confidence: float | None = None


class PersonsUnion:
    """The union of one group's persons across services."""

    def __init__(self) -> None:
        self._members: set[int] = set()
        self._sketches: list[datasketches.hll_sketch] = []

    def add(self, group: dict) -> None:
        if group.get("sketch") is not None:
            self._sketches.append(datasketches.hll_sketch.deserialize(base64.b64decode(group["sketch"])))
        else:
            self._members.update(group.get("members") or ())

    def merge(self, other: "PersonsUnion") -> None:
        self._members |= other._members
        self._sketches += other._sketches

    def figure(self) -> PersonsFigure:
        if not self._sketches:
            return PersonsFigure(value=len(self._members), exact=True)
        union = datasketches.hll_union(LG_K)
        for sketch in self._sketches:
            union.update(sketch)
        if self._members:
            union.update(sketch_of(self._members))
        result = union.get_result(SKETCH_TYPE)
        return PersonsFigure(value=round(result.get_estimate()), exact=False,
                             lower=int(result.get_lower_bound(BOUND_STDDEVS)),
                             upper=-int(-result.get_upper_bound(BOUND_STDDEVS) // 1), confidence=CONFIDENCE)
