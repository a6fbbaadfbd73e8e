"""What one tablet push may carry.

How much: every record of a push is checked and written in one transaction per service, so a
push of unbounded size would hold locks and memory unbounded. What text: the gateway forwards
each part as UTF-8 JSON, which cannot carry a lone surrogate (a JSON "\\ud800" escape)."""

from __future__ import annotations

from typing import Any

import orjson

from shared.errors import InvalidInput, PayloadTooLarge
from shared.schemas import NOT_UNICODE, lone_surrogate


def check_push_size(changes: dict[str, Any], limit: int) -> None:
    """413 naming the count and the limit when the push holds more than `limit` records."""
    count = sum(len(records) for part in changes.values() if isinstance(part, dict)
                for records in (part.get("created"), part.get("updated"), part.get("deleted"))
                if isinstance(records, list))
    if count > limit:
        message = f"This push holds {count} records; at most {limit} go in one push."
        raise PayloadTooLarge(message, errors=[{"field": "changes", "message": message, "code": "too_many_records"}],
                              count=count, limit=limit)


def check_push_text(changes: dict[str, Any]) -> None:
    """422 naming where the push holds a lone surrogate (a table, a record's id or field)."""
    try:
        orjson.dumps(changes)  # in C, and it refuses surrogates: the walk below only for a push that fails
    except orjson.JSONEncodeError:
        where = _surrogate_at(changes, "changes")
        if where is not None:
            raise InvalidInput.field(where, NOT_UNICODE, "surrogate") from None


def _surrogate_at(value: Any, path: str) -> str | None:
    """The path of the first text with a lone surrogate; a key with one is named by its parent."""
    if isinstance(value, str):
        return path if lone_surrogate(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and lone_surrogate(key):
                return path
            found = _surrogate_at(item, f"{path}.{key}")
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _surrogate_at(item, f"{path}.{i}")
            if found is not None:
                return found
    return None
