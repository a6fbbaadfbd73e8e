"""Cursor (keyset) pagination: stable under inserts, O(limit) per page at any depth."""

from __future__ import annotations

import base64
from datetime import date, datetime
from collections.abc import Callable
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from shared.errors import InvalidInput
from shared.schemas import BIGINT_MAX, BIGINT_MIN

T = TypeVar("T")
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    limit: int
    cursor: str | None


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


def encode_cursor(values: list[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, (date, datetime)) else v for v in values]
    return base64.urlsafe_b64encode(orjson.dumps(plain)).decode().rstrip("=")


def decode_cursor(cursor: str, n: int) -> list[Any]:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != n:
            raise ValueError
        return values
    except ValueError:
        raise InvalidInput.field("cursor", "The cursor is not one this API gave out.") from None


def _typed(value: Any, column: InstrumentedAttribute) -> Any:
    """A cursor's value as its column's type: a forged cursor (a number for a date, a number beyond
    bigint, an object) is refused as input rather than failing in the database (a 500)."""
    kind = column.type.python_type
    if kind in (datetime, date) and isinstance(value, str):
        try:
            return datetime.fromisoformat(value) if kind is datetime else date.fromisoformat(value)
        except ValueError:
            pass
    elif kind is int and isinstance(value, int) and not isinstance(value, bool):
        if BIGINT_MIN <= value <= BIGINT_MAX:
            return value
    elif kind is str and isinstance(value, str):
        return value
    raise InvalidInput.field("cursor", "The cursor is not one this API gave out.")


def keyset(stmt: Select, params: PageParams, order: list[InstrumentedAttribute], descending: bool = True) -> Select:
    """Order by `order` (last column unique, usually id) and start after the cursor."""
    if params.cursor:
        values = [_typed(value, col) for value, col in zip(decode_cursor(params.cursor, len(order)), order,
                                                           strict=True)]
        # Row-value comparison spelled out so each column's own type is used.
        clauses = []
        for i in range(len(order)):
            eqs = [order[j] == values[j] for j in range(i)]
            cmp = order[i] < values[i] if descending else order[i] > values[i]
            clauses.append(and_(*eqs, cmp))
        stmt = stmt.where(or_(*clauses))
    ordering = [c.desc() for c in order] if descending else [c.asc() for c in order]
    return stmt.order_by(*ordering).limit(params.limit + 1)


def make_page(rows: list[Any], params: PageParams, order_names: list[str] | Callable[[Any], list[Any]],
              convert=lambda r: r) -> dict:
    """`order_names`: the row attributes keyset() ordered by, or a function giving their values."""
    more = len(rows) > params.limit
    rows = rows[: params.limit]
    key = order_names if callable(order_names) else (lambda row: [getattr(row, n) for n in order_names])
    next_cursor = encode_cursor(key(rows[-1])) if more and rows else None
    return {"items": [convert(r) for r in rows], "next_cursor": next_cursor}
