"""The kept sets' table, their kinds and the shape of a month's sets (shared.distinct_sets)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pyroaring import BitMap, BitMap64
from sqlalchemy import ARRAY, BigInteger, Date, DateTime, LargeBinary, String, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

PERSONS, STATIONS, WORKERS, VOLUNTEERS = "persons", "stations", "workers", "volunteers"
# Persons and volunteers are 32-bit numbers of their services' (beneficiary.person_no,
# volunteer.member_no); stations and accounts are ids of the gateway's (bigint).
_BITMAP = {PERSONS: BitMap, STATIONS: BitMap64, WORKERS: BitMap64, VOLUNTEERS: BitMap}


def distinct_set_model(base: type[DeclarativeBase]):
    class DistinctSet(base):
        """The set of one kind of member (persons, stations, workers, volunteers) of a node's whole subtree in one
        month, as of the counters it was built at; built by readers (shared.distinct_sets)."""

        __tablename__ = "distinct_set"
        node_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
        month: Mapped[date] = mapped_column(Date, primary_key=True)  # the month's first day
        kind: Mapped[str] = mapped_column(String(16), primary_key=True)
        changes: Mapped[int] = mapped_column(BigInteger)  # the rollup's change count when built
        tree: Mapped[int] = mapped_column(BigInteger)  # the station replica's change number when built
        everyone: Mapped[bytes] = mapped_column(LargeBinary)  # portable Roaring serialization
        # Each population's set, aligned; NULL: built for a question without populations, which a
        # question with them builds again (persons only: the other kinds have no populations).
        populations: Mapped[list[str] | None] = mapped_column(ARRAY(String(40)))
        members: Mapped[list[bytes] | None] = mapped_column(ARRAY(LargeBinary))
        built_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    return DistinctSet


@dataclass(frozen=True)
class Kept:
    """Where one service keeps its sets and the numbers they are checked by."""

    sets: type  # its distinct_set model
    ancestors: Any  # the columns of its rollup by ancestor as read (models.DailyStat.ancestors_live)
    station: type  # its station replica model

    @classmethod
    def of(cls, models) -> "Kept | None":
        sets = getattr(models, "DistinctSet", None)
        return None if sets is None else cls(sets, models.DailyStat.ancestors_live, models.Station)


# A month's sets by kind: {kind: {population (ALL for everyone): bitmap}}.
MonthSets = dict[str, dict[str, BitMap | BitMap64]]
# The sets of the records filed at each of the given stations themselves (not below them) in the
# days [first, last] (one whole month), read in the reader's snapshot: {station id: MonthSets}.
Own = Callable[[AsyncSession, list[int], date, date], Awaitable[dict[int, MonthSets]]]
# The sets of the node's whole subtree in each month of [first, last] (whole months), read from its
# rows in one query, in the reader's snapshot, with each population's too if asked:
# {month's first day: MonthSets}.
Scan = Callable[[AsyncSession, date, date, bool], Awaitable[dict[date, MonthSets]]]
# The sets of the subtree of the station at a path in [first, last] (one whole month), in one scan
# grouped by the station's children (each child's subtree) and the station itself (its own records),
# with each population's: {child or station id: MonthSets}.
Grouped = Callable[[AsyncSession, str, date, date], Awaitable[dict[int, MonthSets]]]
# The kinds that have populations.
_SPLIT = frozenset({PERSONS})


def bitmap_of(kind: str, data: bytes) -> BitMap | BitMap64:
    return _BITMAP[kind].deserialize(data)
