"""The lines of the services' NDJSON pull streams, read as bytes.

httpx's aiter_lines() decodes every chunk to text and splits it on every kind of line end;
the pull copies rows through as bytes (api.py `_assemble`), so it splits the bytes on b"\\n"
itself, a batch of lines per chunk read rather than one await per line.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator


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
