"""The sync pull's line layout (shared.contracts.sync.ndjson): what the services write, the gateway
reads back exactly, by slicing, and a line in another layout still reads the same."""

import json

import orjson
import pytest

from shared.contracts.sync import ndjson

ROWS = [
    {"id": "b-1", "name": "王芳", "age": 7, "note": None},
    {"id": "b-2", "name": 'say "hi"\n', "tags": '["a","b"]', "score": 1.5, "ok": True},
    {},
]


def _written(table: str, rows: list[dict], deleted: list[str]) -> list[bytes]:
    stream = b"".join([ndjson.row_head(table) + orjson.dumps(r) + ndjson.END for r in rows])
    stream += b"".join([ndjson.tombstone_head(table) + orjson.dumps(i) + ndjson.END for i in deleted])
    return [line for line in stream.split(b"\n") if line]


class TestRoundTrip:
    @pytest.mark.parametrize("table", ["beneficiaries", "group_sessions", "case_attachments"])
    def test_rows_and_tombstones_read_back(self, table):
        lines = _written(table, ROWS, ["gone-1", "gone 2"])
        read = list(ndjson.read_lines(lines))
        assert [json.loads(key) for key, _, _ in read] == [table] * (len(ROWS) + 2)
        assert [json.loads(value) for _, value, gone in read if not gone] == ROWS
        assert [json.loads(value) for _, value, gone in read if gone] == ["gone-1", "gone 2"]

    def test_every_written_line_is_one_json_object(self):
        for line in _written("cases", ROWS, ["x"]):
            item = json.loads(line)
            assert item["table"] == "cases" and ("row" in item) != ("deleted" in item)

    def test_the_cursor_line(self):
        line = ndjson.cursor_line("123456")
        assert line.endswith(b"\n") and b"\n" not in line[:-1]
        assert ndjson.read_cursor(line.rstrip(b"\n")) == "123456"

    def test_another_layout_reads_the_same(self):
        spaced = [json.dumps({"table": "cases", "row": ROWS[1]}).encode(),
                  json.dumps({"deleted": "x", "table": "cases"}).encode()]
        sliced = list(ndjson.read_lines(_written("cases", [ROWS[1]], ["x"])))
        parsed = list(ndjson.read_lines(spaced))
        assert [(k, json.loads(v), g) for k, v, g in parsed] == [(k, json.loads(v), g) for k, v, g in sliced]
