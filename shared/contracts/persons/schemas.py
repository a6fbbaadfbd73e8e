"""The persons question and answer, and the sketch both sides read and write."""

from __future__ import annotations

from collections.abc import Iterable

import datasketches
from pydantic import BaseModel, Field

from shared.contracts.stats.schemas import StatsQuery

# 2^14 registers: relative standard error 1.04/sqrt(16384) = 0.8%, about 16 KiB a sketch.
LG_K = 14
SKETCH_TYPE = datasketches.tgt_hll_type.HLL_8
# Groups of at most this many persons travel as their members; larger ones as a sketch.
EXACT_LIMIT = 10_000


def sketch_of(members: Iterable[int]) -> datasketches.hll_sketch:
    sketch = datasketches.hll_sketch(LG_K, SKETCH_TYPE)
    for m in members:
        sketch.update(m)
    return sketch


class PersonsGroup(BaseModel):
    population: str | None = None
    period: str | None = None
    station: int | None = None
    count: int = Field(description="Distinct persons in the group as this service counts them")
    members: list[int] | None = Field(default=None, description="Their person keys, when at most exact_limit")
    sketch: str | None = Field(default=None, description="Base64 HLL sketch of them, when more")


class PersonsAnswer(BaseModel):
    groups: list[PersonsGroup]


class PersonsQuery(StatsQuery):
    exact_limit: int = Field(default=EXACT_LIMIT, ge=0, le=1_000_000)
