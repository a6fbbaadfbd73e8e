"""The scope rule, written once: a row is visible when it is live (`deleted_at IS NULL`) and its
station path lies in the caller's subtree.

A station path is the chain of station ids from the root, each followed by '/' ("/1/12/"), so a
subtree is a path prefix. Paths hold only digits and '/', so a prefix needs no escaping, in a
LIKE pattern or in SQLAlchemy's `startswith` (a byte-wise prefix: shared.models' path type has
the C collation, so an index serves it whatever the database's default collation).

The same rule in three forms: `path_under` and `live_row_in` in Python, `under`/`live_under`/
`live_in` for an ORM query, and `sql_live_under` with `like_prefix` for the raw SQL of the hot paths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_

if TYPE_CHECKING:
    from shared.principals import Principal


def path_under(station_path: str, scope_path: str) -> bool:
    """The station at `station_path` lies in the subtree of `scope_path` (itself included)."""
    return station_path.startswith(scope_path)


def live_row_in(row, principal: Principal) -> bool:
    """A loaded row (with `deleted_at` and `station_path`) is live inside the principal's subtree."""
    return row.deleted_at is None and path_under(row.station_path, principal.station_path)


def under(column, scope_path) -> ColumnElement[bool]:
    """SQL: the path in `column` lies in the subtree of `scope_path` (a path, or a column: the
    stations above a path are those whose subtree holds it)."""
    return column.startswith(scope_path, autoescape=False)


def columns_of(model):
    """The columns of a mapped class or of a Table, by attribute."""
    return model.c if hasattr(model, "c") else model


def live_under(model, scope_path: str) -> ColumnElement[bool]:
    """SQL: a live row of `model` (mapped class or Table) inside the subtree of `scope_path`."""
    cols = columns_of(model)
    return and_(cols.deleted_at.is_(None), under(cols.station_path, scope_path))


def live_in(model, principal: Principal) -> ColumnElement[bool]:
    """SQL: a live row of `model` inside the principal's subtree."""
    return live_under(model, principal.station_path)


def like_prefix(scope_path: str) -> str:
    """The LIKE pattern of a subtree, the bind parameter of `sql_live_under`."""
    return scope_path + "%"


def sql_under(param: int, alias: str = "", path_column: str = "station_path") -> str:
    """Raw SQL: a row inside the subtree whose `like_prefix` is bind parameter $`param` (rows that
    are never deleted, such as the audit log's)."""
    prefix = f"{alias}." if alias else ""
    return f"{prefix}{path_column} LIKE ${param}"


def sql_live_under(param: int, alias: str = "", path_column: str = "station_path") -> str:
    """Raw SQL: a live row inside the subtree whose `like_prefix` is bind parameter $`param`."""
    prefix = f"{alias}." if alias else ""
    return f"{sql_under(param, alias, path_column)} AND {prefix}deleted_at IS NULL"


def sql_name(table) -> str:
    """A table's quoted, schema-qualified name for raw SQL."""
    return f'"{table.schema}"."{table.name}"'
