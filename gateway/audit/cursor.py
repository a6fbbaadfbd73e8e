"""The cursor of a merged /v1/audit listing: the last row's (time, process, id), opaque to the caller."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone


def encode_cursor(at: datetime, source: str, row_id: int) -> str:
    raw = json.dumps([at.astimezone(timezone.utc).isoformat(), source, row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str, int]:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    at, source, row_id = json.loads(raw)
    at = datetime.fromisoformat(at)
    # Exactly as encoded: a float (1e400 is infinity) or a string is a forged cursor.
    if at.tzinfo is None or not isinstance(row_id, int) or isinstance(row_id, bool) or not 0 <= row_id < 2**63:
        raise ValueError("not a cursor")
    return at, str(source), row_id
