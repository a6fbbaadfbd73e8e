"""A pull's rows (SyncTable.pull_row, a class look-up per value and orjson for lists of text)
say exactly what serve() and wire() say: the push path compares with serve()."""

from __future__ import annotations

import enum
import json
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from shared.sync import SyncColumn, SyncTable, wire


async def _nothing(*_):
    raise AssertionError("pull only")


class Kind(str, enum.Enum):
    visit = "home_visit"


VALUES = [
    None, True, False, 0, -7, 2**62, 1.5, 1e16, "", "王\"五\\\n\u2028😀",
    Decimal("12.50"), Decimal("0.1"), datetime(2024, 5, 1, 8, 30, 15, 999_999, tzinfo=UTC),
    datetime(2024, 5, 1, 8, 30, tzinfo=timezone(timedelta(hours=8))), date(2024, 2, 29),
    time(9, 30), time(9, 30, 15), [], ["elderly", "disabled"], ["引号\"", "\\", "\n\x00\x1f\x7f\u2028"],
    [1, 2.5, None], ["a", 1], {"name": "王芳", "phone": "139****1111"}, {"goals": [{"n": 1.0}]},
    [date(2024, 1, 1)], Kind.visit,
]


def _table(n: int) -> SyncTable:
    columns = tuple(SyncColumn(f"c{i}") for i in range(n)) + (SyncColumn("secret", writeonly=True),
                                                                SyncColumn("renamed", attr="c0"))
    return SyncTable("probes", object, columns, create=_nothing, update=_nothing, delete=_nothing)


def test_pull_row_is_serve_for_every_kind_of_value():
    table = _table(len(VALUES))
    values = {"id": "r-1", "secret": "110105194912310029", **{f"c{i}": v for i, v in enumerate(VALUES)}}
    row = table.pull_row(values)
    assert row == table.serve(SimpleNamespace(**values))
    # A write-only value is served as null: the tablet's copy of it is overwritten by a pull.
    assert list(row) == ["id", *(f"c{i}" for i in range(len(VALUES))), "secret", "renamed"] and row["secret"] is None
    assert [row[f"c{i}"] for i in range(len(VALUES))] == [wire(v) for v in VALUES]
    assert row["c12"] == 1714552215999 and row["c16"] == "09:30" and row["c10"] == 12.5
    assert row["c18"] == '["elderly","disabled"]' and json.loads(row["c19"]) == VALUES[19]


@given(st.lists(st.text(), max_size=5))
def test_a_list_of_text_is_written_as_json_dumps_writes_it(items):
    assert wire(items) == json.dumps(items, ensure_ascii=False, separators=(",", ":"))
