"""Review flags: soft (data-quality) rules a record may break and still be kept.

A service decides which of its rules are soft; this module holds the machinery they share:

- `Review`, how one write meets the soft rules it checks. By default a broken rule is refused
  like any other (422 naming the field): the REST API's caller is online and can fix the input
  at once. With `flag=True` (a station tablet's push, which nobody can fix on the spot and which
  would otherwise be refused at every retry) the write is kept and the record carries the rule's
  code in its `review` column. A write that checks a rule again sets or clears its flag; a rule
  the write does not check keeps its flag as it was. So correcting the record clears it.
- `Reviewed`, the `review` column (JSONB, null when there is nothing to review), and
  `review_index`, the partial index the station's review list reads.
- `review_router`, GET /v1/review of a service: the flagged records of the caller's subtree,
  newest change first, each with the REST path to read and correct it.
"""

# No `from __future__ import annotations`: the route's annotations name the service's own
# subtree dependency, a local of review_router, which FastAPI must see as an object.
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import Field
from sqlalchemy import Index, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import read_session
from shared.errors import InvalidInput
from shared.pagination import PageParams, encode_cursor, keyset, page_params
from shared.principals import PersonalReaderOr403
from shared.repository import live
from shared.schemas import Output
from shared.scope import under


class Review:
    """The soft rules one write checks, refused (the default) or flagged (`flag=True`)."""

    def __init__(self, flag: bool = False) -> None:
        self.flag = flag
        self.verdicts: dict[str, dict | None] = {}  # code -> the flag, or None: the rule holds

    def rule(self, broken: bool, field: str, message: str, code: str) -> None:
        if broken and not self.flag:
            raise InvalidInput.field(field, message, code)
        self.verdicts[code] = {"code": code, "field": field, "message": message} if broken else None

    def holds(self, code: str) -> None:
        """The rule `code` was found kept by a check elsewhere: its flag goes at `apply`."""
        self.verdicts[code] = None

    def apply(self, record: Any) -> None:
        """Set the record's flags from this write's verdicts (a table without the column has none)."""
        if not self.verdicts or not hasattr(type(record), "review"):
            return
        kept = [f for f in (record.review or []) if f["code"] not in self.verdicts]
        record.review = (kept + (self.new_flags() or [])) or None

    def new_flags(self) -> list[dict] | None:
        """The flags of a record made by this write (`apply` to a record that had none)."""
        return [f for f in self.verdicts.values() if f is not None] or None


class Reviewed:
    """The review flags of a record table some soft rule applies to: `[{code, field, message}]`."""

    # none_as_null: no flags is SQL NULL (JSON null would count as under review).
    review: Mapped[list[dict] | None] = mapped_column(JSONB(none_as_null=True), default=None)


def review_index(table: str) -> Index:
    """Records under review, by station: few (flags are cleared), read by the review list."""
    return Index(f"ix_{table}_review", "station_path",
                 postgresql_where=text("review IS NOT NULL AND deleted_at IS NULL"))


class ReviewFlag(Output):
    code: str = Field(description="The rule, e.g. before_opened, mismatch, over_24_a_day")
    field: str
    message: str


ReviewFlags = Annotated[list[ReviewFlag] | None, Field(
    description="Data-quality rules this record breaks (accepted from a station tablet, flagged for a person to "
                "review); cleared by correcting the record. Null when there is nothing to review.")]


class ReviewItem(Output):
    table: str = Field(description="The record's kind, as the sync protocol names its table")
    id: str
    station_id: int
    path: str = Field(description="Where to read and correct the record in this API")
    review: list[ReviewFlag]
    updated_at: datetime
    updated_by: str | None = None


class ReviewPage(Output):
    items: list[ReviewItem]
    next_cursor: str | None = None


@dataclass(frozen=True)
class ReviewSource:
    table: str  # "service_records"
    model: type  # a Reviewed record table
    path: Callable[[Any], str]  # the record's REST path


# Keyset order of every review list, across tables and services (the gateway merges by it).
def sort_key(item: dict) -> tuple:
    return (item["updated_at"], item["id"])


def review_router(sources: list[ReviewSource], subtree: Any) -> APIRouter:
    """GET /v1/review over `sources`; `subtree` is the service's station_id filter dependency."""
    router = APIRouter(prefix="/v1/review", tags=["review"])

    @router.get("", response_model=ReviewPage)
    async def review_list(principal: PersonalReaderOr403, session: Annotated[AsyncSession, Depends(read_session)],
                          station_path: Annotated[str | None, Depends(subtree)],
                          paging: Annotated[PageParams, Depends(page_params)]) -> dict:
        """Records of your subtree flagged for review (a tablet's record broke a data-quality rule), newest first."""
        items = []
        for source in sources:
            model = source.model
            stmt = live(model, principal).where(model.review.is_not(None))
            if station_path:
                stmt = stmt.where(under(model.station_path, station_path))
            for record in (await session.scalars(keyset(stmt, paging, [model.updated_at, model.id]))).all():
                items.append({"table": source.table, "id": record.id, "station_id": record.station_id,
                              "path": source.path(record), "review": record.review,
                              "updated_at": record.updated_at, "updated_by": record.updated_by})
        items.sort(key=sort_key, reverse=True)
        more = len(items) > paging.limit
        items = items[:paging.limit]
        return {"items": items, "next_cursor": encode_cursor(list(sort_key(items[-1]))) if more else None}

    return router
