"""A sync pull's NDJSON lines: written by the services (shared.sync.pull_lines), read by the gateway.

A pull streams first `{"cursor":"<xid8>"}`, then per table its live rows `{"table":"t","row":{...}}`
and its tombstones `{"table":"t","deleted":"id"}`, compact, one per line. The gateway copies each
row or id through as bytes, unparsed, by slicing the line where this layout puts it: the writer
and the reader below are the one description of it (tests/shared/test_sync_ndjson.py round-trips
them). Table names hold no quote, so a name ends at the first one after its start.

httpx's aiter_lines() decodes every chunk to text and splits it on every kind of line end; the
gateway splits the bytes on b"\\n" itself (`line_batches`), a batch of lines per chunk read rather
than one await per line.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Iterator

import orjson

_START = b'{"table":'  # then the table name as JSON
_ROW = b',"row":'  # then the row as a JSON object
_DELETED = b',"deleted":'  # then the deleted id as JSON
END = b"}\n"  # after the row or id
_NAME = len(_START)  # where the name starts, with its opening quote
_QUOTED, _AFTER_ROW, _AFTER_DELETED = _START + b'"', len(_ROW) + 1, len(_DELETED) + 1


def cursor_line(cursor: str) -> bytes:
    """The first line: this pull's cursor, for the next pull to start from."""
    return json.dumps({"cursor": cursor}).encode() + b"\n"


def row_head(table: str) -> bytes:
    """What a line of a row of `table` starts with; the row's JSON and END follow."""
    return _START + orjson.dumps(table) + _ROW


def tombstone_head(table: str) -> bytes:
    """What a line of a deleted id of `table` starts with; the id's JSON and END follow."""
    return _START + orjson.dumps(table) + _DELETED


def read_cursor(line: bytes) -> str:
    return json.loads(line)["cursor"]


def read_lines(batch: list[bytes]) -> Iterator[tuple[bytes, bytes, bool]]:
    """Per line: (the table name as JSON, the row or id as JSON, whether it is a deletion), sliced
    out of the layout above; a line in any other layout is parsed and written compact."""
    for line in batch:
        end = line.find(b'"', _NAME + 1) if line.startswith(_QUOTED) and line.endswith(b"}") else -1
        if end > 0 and line.startswith(_ROW, end + 1):
            yield line[_NAME:end + 1], line[end + _AFTER_ROW:-1], False
        elif end > 0 and line.startswith(_DELETED, end + 1):
            yield line[_NAME:end + 1], line[end + _AFTER_DELETED:-1], True
        else:
            yield _parsed(line)


def _parsed(line: bytes) -> tuple[bytes, bytes, bool]:
    item = json.loads(line)
    key = json.dumps(item["table"]).encode()
    if "deleted" in item:
        return key, json.dumps(item["deleted"]).encode(), True
    return key, json.dumps(item["row"], ensure_ascii=False, separators=(",", ":")).encode(), False


async def line_batches(chunks: AsyncIterable[bytes]) -> AsyncIterator[list[bytes]]:
    """The non-empty lines of a byte stream, without their b"\\n", in lists: one per chunk that
    ends at least one line. A line cut across chunks comes whole, in the batch of the chunk
    that ends it; a last line with no b"\\n" after it comes alone, at the end."""
    pending: list[bytes] = []  # the start of a line that no chunk has ended yet
    async for chunk in chunks:
        if b"\n" not in chunk:
            if chunk:
                pending.append(chunk)
            continue
        if pending:
            pending.append(chunk)
            chunk = b"".join(pending)
            pending.clear()
        lines = chunk.split(b"\n")
        tail = lines.pop()
        if tail:
            pending.append(tail)
        batch = [line for line in lines if line]
        if batch:
            yield batch
    if pending:
        yield [b"".join(pending)]


async def prepend(batch: list[bytes], batches: AsyncIterator[list[bytes]]) -> AsyncIterator[list[bytes]]:
    """`batches` with `batch` before them (what was left of the batch a first line was read from)."""
    if batch:
        yield batch
    async for rest in batches:
        yield rest
