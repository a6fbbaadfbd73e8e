"""How much one tablet push may carry: every record of a push is checked and written in one
transaction per service, so a push of unbounded size would hold locks and memory unbounded."""

from __future__ import annotations

from typing import Any

from shared.errors import PayloadTooLarge


def check_push_size(changes: dict[str, Any], limit: int) -> None:
    """413 naming the count and the limit when the push holds more than `limit` records."""
    count = sum(len(records) for part in changes.values() if isinstance(part, dict)
                for records in (part.get("created"), part.get("updated"), part.get("deleted"))
                if isinstance(records, list))
    if count > limit:
        message = f"This push holds {count} records; at most {limit} go in one push."
        raise PayloadTooLarge(message, errors=[{"field": "changes", "message": message, "code": "too_many_records"}],
                              count=count, limit=limit)
