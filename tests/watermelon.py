"""A stock WatermelonDB 0.28 client, modelled in Python for the sync tests.

What a station tablet running an unmodified WatermelonDB app does to the gateway, and what it
keeps, follows from a few pieces of WatermelonDB (src/Schema, src/RawRecord, src/Model,
src/sync/impl/*). This module models exactly those, so a test can assert what a tablet holds
after a sync and not only what the server answered:

- `app_schema`: appSchema()/tableSchema() with the development build's checks (names, types,
  created_at/updated_at numbers and not optional), and `schema_migrations` with its own checks
  and the adapter's (the migrations must reach the schema's version);
- `LocalDatabase`: records as sanitized raw rows with `_status` and `_changed`, kept the way
  Model.create/update/markAsDeleted keep them;
- `synchronize`: pull (migration info, then applyRemoteChanges, incremental or
  `experimentalStrategy: 'replacement'`, per-column conflict resolution on `_changed`),
  then push (the whole raw rows of created and updated records, `_status` and `_changed`
  included) and marking as synced;
- `HaolinBackend` and `Tablet`: the `pullChanges`, `pushChanges` and `sync()` that
  docs/sync.md tells an app to write, over HTTP to the gateway.

Where WatermelonDB only logs an error (a `created` record with sendCreatedAsUpdated), the
model records it in `LocalDatabase.errors`; where it throws (an invariant), the model raises
WatermelonError with WatermelonDB's message.
"""

from __future__ import annotations

import copy
import json
import math
import random
import re
import string
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


class WatermelonError(AssertionError):
    """What WatermelonDB's invariant() throws."""


def invariant(condition: Any, message: str) -> None:
    if not condition:
        raise WatermelonError(message)


# ---------------------------------------------------------------- schema (src/Schema, checkName)

_RESERVED = ("id", "_changed", "_status", "local_storage")
_PROTOTYPE = ("__proto__", "constructor", "prototype", "hasOwnProperty", "isPrototypeOf", "toString",
              "toLocaleString", "valueOf")
_SAFE_NAME = re.compile(r"^[a-zA-Z_]\w*$", re.ASCII)


def _check_name(name: Any) -> None:
    invariant(isinstance(name, str), f"Unsafe name '{name}' not allowed (not a string)")
    invariant(name not in _PROTOTYPE, f"Unsafe name '{name}' not allowed (Object prototype property)")
    invariant(name.lower() != "$loki", f"Unsafe name '{name}' not allowed (reserved for LokiJS compatibility)")
    invariant(name.lower() not in ("rowid", "oid", "_rowid_", "sqlite_master"),
              f"Unsafe name '{name}' not allowed (reserved for SQLite compatibility)")
    invariant(not name.lower().startswith("sqlite_stat"),
              f"Unsafe name '{name}' not allowed (reserved for SQLite compatibility)")
    invariant(not name.startswith("__"), f"Unsafe name '{name}' not allowed (names starting with '__' are reserved "
                                         "for internal purposes)")
    invariant(_SAFE_NAME.match(name), f"Unsafe name '{name}' not allowed (names must contain only safe characters)")


def _validate_name(name: str) -> None:
    invariant(name.lower() not in _RESERVED, f"Invalid column or table name '{name}' - reserved by WatermelonDB")
    _check_name(name)


def validate_column_schema(column: dict) -> None:
    invariant(column.get("name"), "Missing column name")
    _validate_name(column["name"])
    invariant(column.get("type") in ("string", "boolean", "number"),
              f"Invalid type {column.get('type')} for column '{column['name']}' (valid: string, boolean, number)")
    if column["name"] in ("created_at", "updated_at"):
        invariant(column["type"] == "number" and not column.get("isOptional"),
                  f"{column['name']} must be of type number and not optional")
    if column["name"] == "last_modified":
        invariant(column["type"] == "number", "For compatibility reasons, column last_modified must be of type "
                                              "'number', and should be optional")


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: dict[str, dict]  # name -> {name, type, isOptional?, isIndexed?}


def table_schema(name: str, columns: list[dict]) -> TableSchema:
    """tableSchema({name, columns}) as the development build runs it. Keys WatermelonDB does not
    know (the gateway's `readonly`, `writeonly`) are carried along, as JavaScript would."""
    invariant(name, "Missing table name in schema")
    _validate_name(name)
    by_name = {}
    for column in columns:
        validate_column_schema(column)
        by_name[column["name"]] = column
    return TableSchema(name, by_name)


@dataclass(frozen=True)
class AppSchema:
    version: int
    tables: dict[str, TableSchema]


def app_schema(version: int, tables: list[TableSchema]) -> AppSchema:
    invariant(version > 0, "Schema version must be greater than 0")
    for table in tables:
        invariant(table.name, "Table schema must contain a name")
    return AppSchema(version, {t.name: t for t in tables})


def schema_from_server(served: dict) -> AppSchema:
    """What docs/sync.md tells the app to do with GET /v1/sync/schema: map it straight to
    appSchema({version, tables: [tableSchema({name, columns})]})."""
    return app_schema(served["version"], [table_schema(t["name"], t["columns"]) for t in served["tables"]])


# ---------------------------------------------------------------- migrations (src/Schema/migrations)

@dataclass(frozen=True)
class Migration:
    to_version: int
    steps: tuple[dict, ...]  # {"type": "create_table", "schema": TableSchema} | {"type": "add_columns", ...}


def create_table(name: str, columns: list[dict]) -> dict:
    return {"type": "create_table", "schema": table_schema(name, columns)}


def add_columns(table: str, columns: list[dict]) -> dict:
    invariant(table, "Missing table name in addColumn()")
    invariant(isinstance(columns, list), "Missing 'columns' or not an array in addColumn()")
    for column in columns:
        validate_column_schema(column)
    return {"type": "add_columns", "table": table, "columns": columns}


@dataclass(frozen=True)
class SchemaMigrations:
    migrations: tuple[Migration, ...]
    min_version: int
    max_version: int


def schema_migrations(migrations: list[Migration]) -> SchemaMigrations:
    for m in migrations:
        invariant(m.to_version >= 2, f"Invalid migration to version {m.to_version}. Minimum possible migration "
                                     "version is 2")
    ordered = sorted(migrations, key=lambda m: m.to_version)
    min_version = ordered[0].to_version - 1 if ordered else 1
    max_version = ordered[-1].to_version if ordered else 1
    for before, after in zip(ordered, ordered[1:]):
        invariant(after.to_version == before.to_version + 1, "Invalid migrations! Migrations must be listed without "
                                                             "gaps, or duplicates.")
    return SchemaMigrations(tuple(ordered), min_version, max_version)


def get_sync_changes(migrations: SchemaMigrations, from_version: int, to_version: int) -> dict | None:
    """getSyncChanges(): the tables and columns added between the two versions."""
    steps = [s for m in migrations.migrations if from_version < m.to_version <= to_version for s in m.steps]
    invariant(migrations.min_version <= from_version, "Necessary range of migrations for sync is not available")
    invariant(to_version == migrations.max_version, "getSyncChanges toVersion should be equal to maxVersion of "
                                                    "migrations")
    if from_version == to_version:
        return None
    created = list(dict.fromkeys(s["schema"].name for s in steps if s["type"] == "create_table"))
    columns: dict[str, list[str]] = {}
    for s in steps:
        if s["type"] == "add_columns" and s["table"] not in created:
            columns.setdefault(s["table"], [])
            columns[s["table"]] += [c["name"] for c in s["columns"] if c["name"] not in columns[s["table"]]]
    return {"from": from_version, "tables": created, "columns": [{"table": t, "columns": c} for t, c in columns.items()]}


# ---------------------------------------------------------------- raw records (src/RawRecord)

def _random_id() -> str:
    return "".join(random.choices(string.ascii_letters + string.digits, k=16))


def _is_number(value: Any) -> bool:
    # JavaScript's typeof value === 'number', NaN and Infinity excluded; a bool is not a number there.
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _set_raw(raw: dict, key: str, value: Any, column: dict) -> None:
    optional = bool(column.get("isOptional"))
    kind = column["type"]
    if kind == "string":
        raw[key] = value if isinstance(value, str) else (None if optional else "")
    elif kind == "boolean":
        if isinstance(value, bool):
            raw[key] = value
        elif _is_number(value) and value in (0, 1):
            raw[key] = bool(value)  # SQLite gives booleans back as 1/0
        else:
            raw[key] = None if optional else False
    else:
        raw[key] = (value or 0) if _is_number(value) else (None if optional else 0)


def sanitized_raw(dirty: dict, table: TableSchema) -> dict:
    raw: dict[str, Any] = {}
    if isinstance(dirty.get("id"), str):
        raw["id"] = dirty["id"]
        raw["_status"] = dirty.get("_status") if dirty.get("_status") in ("created", "updated", "deleted",
                                                                           "synced") else "created"
        raw["_changed"] = dirty["_changed"] if isinstance(dirty.get("_changed"), str) else ""
    else:
        raw.update(id=_random_id(), _status="created", _changed="")
    for name, column in table.columns.items():
        _set_raw(raw, name, dirty.get(name), column)
    return raw


def _add_changed(raw: dict, column: str) -> None:
    changed = [c for c in raw["_changed"].split(",") if c] if raw["_changed"] else []
    if column not in changed:
        changed.append(column)
    raw["_changed"] = ",".join(changed)
    if raw["_status"] != "created":
        raw["_status"] = "updated"


# ---------------------------------------------------------------- the local database

class LocalDatabase:
    """One tablet's WatermelonDB: records by table, local storage, and what it logged."""

    def __init__(self, schema: AppSchema, migrations: SchemaMigrations | None = None) -> None:
        if migrations is not None:  # validateAdapter()
            invariant(migrations.max_version <= schema.version, "Migrations can't be newer than schema.")
            invariant(migrations.max_version == schema.version,
                      f"Missing migration. Database schema is currently at version {schema.version}, but migrations "
                      f"only cover range from {migrations.min_version} to {migrations.max_version}")
        self.schema = schema
        self.migrations = migrations
        self.tables: dict[str, dict[str, dict]] = {name: {} for name in schema.tables}
        self.local: dict[str, str] = {}
        self.errors: list[str] = []
        self._last_ms = 0

    def now(self) -> int:
        """Date.now(), kept increasing within a test."""
        self._last_ms = max(self._last_ms + 1, int(time.time() * 1000))
        return self._last_ms

    def snapshot(self) -> LocalDatabase:
        """A copy of the whole database, as a device backup holds it."""
        return copy.deepcopy(self)

    # The app's writes: Collection.create, Model.update, markAsDeleted, destroyPermanently.

    def create(self, table: str, record_id: str | None = None, **values: Any) -> str:
        schema = self.schema.tables[table]
        raw = sanitized_raw({}, schema)
        if record_id is not None:
            raw["id"] = record_id
        for stamp in ("created_at", "updated_at"):
            if stamp in schema.columns:
                _set_raw(raw, stamp, self.now(), schema.columns[stamp])
        for name, value in values.items():  # a record being created records no column change
            _set_raw(raw, name, value, schema.columns[name])
        self.tables[table][raw["id"]] = raw
        return raw["id"]

    def update(self, table: str, record_id: str, **values: Any) -> None:
        raw = self.find(table, record_id)
        invariant(raw is not None, f"Record {table}#{record_id} not found")
        schema = self.schema.tables[table]
        updates = {"updated_at": self.now(), **values} if "updated_at" in schema.columns else values
        for name, value in updates.items():
            before = raw[name]
            _set_raw(raw, name, value, schema.columns[name])
            if raw[name] != before:
                _add_changed(raw, name)

    def mark_as_deleted(self, table: str, record_id: str) -> None:
        raw = self.find(table, record_id)
        invariant(raw is not None, f"Record {table}#{record_id} not found")
        raw["_status"] = "deleted"

    def destroy_permanently(self, table: str, record_id: str) -> None:
        self.tables[table].pop(record_id, None)

    # Reads: queries never see records marked as deleted.

    def find(self, table: str, record_id: str) -> dict | None:
        raw = self.tables[table].get(record_id)
        return raw if raw is not None and raw["_status"] != "deleted" else None

    def all(self, table: str) -> list[dict]:
        return [r for r in self.tables[table].values() if r["_status"] != "deleted"]

    def deleted_ids(self, table: str) -> list[str]:
        return [i for i, r in self.tables[table].items() if r["_status"] == "deleted"]

    def values(self) -> list[Any]:
        """Every value the database holds, deleted records and local storage included."""
        return [v for rows in self.tables.values() for raw in rows.values() for v in raw.values()] + \
            list(self.local.values())


# ---------------------------------------------------------------- synchronize() (src/sync/impl)

LAST_PULLED_AT = "__watermelon_last_pulled_at"
LAST_PULLED_SCHEMA_VERSION = "__watermelon_last_pulled_schema_version"


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) or None if value is not None else None
    except ValueError:
        return None


def get_migration_info(db: LocalDatabase, last_pulled_at: int | None,
                       migrations_enabled_at_version: int | None) -> tuple[int, dict | None, bool]:
    first_sync = not last_pulled_at
    schema_version = db.schema.version
    last_pulled_schema_version = _int_or_none(db.local.get(LAST_PULLED_SCHEMA_VERSION))
    if migrations_enabled_at_version:
        invariant(migrations_enabled_at_version >= 1, "[Sync] Invalid migrationsEnabledAtVersion")
        invariant(migrations_enabled_at_version <= schema_version,
                  "[Sync] migrationsEnabledAtVersion must not be greater than current schema version")
        invariant(db.migrations is not None,
                  "[Sync] Migration syncs cannot be enabled on a database that does not support migrations")
        invariant(migrations_enabled_at_version >= db.migrations.min_version,
                  f"[Sync] migrationsEnabledAtVersion is too low - not possible to migrate from schema version "
                  f"{migrations_enabled_at_version}")
    migrate_from = last_pulled_schema_version or migrations_enabled_at_version or 0
    should_migrate = bool(migrations_enabled_at_version) and migrate_from < schema_version and not first_sync
    migration = get_sync_changes(db.migrations, migrate_from, schema_version) \
        if db.migrations is not None and should_migrate else None
    return schema_version, migration, should_migrate or first_sync


def _validate_remote_raw(raw: Any) -> None:
    invariant(isinstance(raw, dict) and "id" in raw and "_status" not in raw and "_changed" not in raw,
              "[Sync] Invalid raw record supplied to Sync. Records must be objects, must have an 'id' field, and "
              "must NOT have a '_status' or '_changed' fields")


def resolve_conflict(local: dict, remote: dict) -> dict:
    """Every column changed locally (`_changed`) keeps the local value; the rest take the server's."""
    if local["_status"] == "deleted":
        return local
    resolved = {**local, **remote, "id": local["id"], "_status": local["_status"], "_changed": local["_changed"]}
    for column in local["_changed"].split(","):
        resolved[column] = local.get(column)
    return resolved


def _requires_update(table: TableSchema, local: dict, remote: dict) -> bool:
    if local["_status"] != "synced":
        return True
    sanitized = sanitized_raw(remote, table)
    sanitized["_status"] = "synced"
    return sanitized != local


def _strategy_for(table: str, strategy: Any) -> str:
    if not strategy:
        return "incremental"
    if isinstance(strategy, str):
        return strategy
    return strategy.get("override", {}).get(table) or strategy["default"]


def apply_remote_changes(db: LocalDatabase, remote: dict, strategy: Any, send_created_as_updated: bool,
                         conflict_resolver: Callable[[str, dict, dict, dict], dict] | None = None) -> None:
    plans = []
    for name, changes in remote.items():
        if name not in db.schema.tables:
            continue  # a table this app does not know yet: skipped, for forward compatibility
        kind = _strategy_for(name, strategy)
        invariant(kind in ("incremental", "replacement"), "[Sync] Invalid pull strategy")
        deleted = set(changes["deleted"])
        keep = {r["id"] for r in changes["created"]} | {r["id"] for r in changes["updated"]}
        locally_deleted = db.deleted_ids(name)
        if kind == "replacement":
            records = {r["id"]: r for r in db.all(name)}
            destroy = [i for i, r in records.items() if i in deleted or (i not in keep and r["_status"] != "created")]
            destroy_deleted = [i for i in locally_deleted if i in deleted or i not in keep]
        else:
            records = {i: r for i in keep | deleted if (r := db.find(name, i)) is not None}
            destroy = [i for i in records if i in deleted]
            destroy_deleted = [i for i in locally_deleted if i in deleted]
        plans.append((name, changes, records, locally_deleted, destroy, destroy_deleted))

    for name, changes, records, locally_deleted, destroy, destroy_deleted in plans:
        schema, rows = db.schema.tables[name], db.tables[name]
        if send_created_as_updated and changes["created"]:
            db.errors.append("[Sync] 'sendCreatedAsUpdated' option is enabled, and yet server sends some records as "
                             "'created'")

        def update(local: dict, remote: dict) -> None:
            if not _requires_update(schema, local, remote):
                return
            resolved = resolve_conflict(local, remote)
            if conflict_resolver is not None:
                resolved = conflict_resolver(name, local, remote, resolved)
            rows[local["id"]] = sanitized_raw(resolved, schema)

        def create(remote: dict) -> None:
            rows[remote["id"]] = sanitized_raw({**remote, "_status": "synced", "_changed": ""}, schema)

        for raw in changes["created"]:
            _validate_remote_raw(raw)
            if raw["id"] in records:
                db.errors.append(f"[Sync] Server wants client to create record {name}#{raw['id']}, but it already "
                                 "exists locally.")
                update(records[raw["id"]], raw)
            else:
                if raw["id"] in locally_deleted:
                    db.errors.append(f"[Sync] Server wants client to create record {name}#{raw['id']}, but it "
                                     "already exists locally and is marked as deleted.")
                create(raw)
        for raw in changes["updated"]:
            _validate_remote_raw(raw)
            if raw["id"] in records:
                update(records[raw["id"]], raw)
            elif raw["id"] in locally_deleted:
                pass  # deleted here: the deletion is pushed later
            else:
                if not send_created_as_updated:
                    db.errors.append(f"[Sync] Server wants client to update record {name}#{raw['id']}, but it "
                                     "doesn't exist locally.")
                create(raw)
        for record_id in destroy + destroy_deleted:
            rows.pop(record_id, None)


def fetch_local_changes(db: LocalDatabase) -> tuple[dict, list[tuple[str, dict]]]:
    """Whole raw rows (`_status` and `_changed` included) of created and updated records, deleted ids."""
    changes, affected = {}, []
    for name in db.schema.tables:
        created = [dict(r) for r in db.tables[name].values() if r["_status"] == "created"]
        updated = [dict(r) for r in db.tables[name].values() if r["_status"] == "updated"]
        changes[name] = {"created": created, "updated": updated, "deleted": db.deleted_ids(name)}
        affected += [(name, r) for r in created + updated]
    return changes, affected


def mark_local_changes_as_synced(db: LocalDatabase, changes: dict, rejected: dict | None = None) -> None:
    rejected = rejected or {}
    for name, change in changes.items():
        refused = set(rejected.get(name, []))
        for pushed in change["created"] + change["updated"]:
            record = db.tables[name].get(pushed["id"])
            if record is None:
                db.errors.append(f"[Sync] Looking for record {name}#{pushed['id']} to mark it as synced, but I can't "
                                 "find it.")
            elif record == pushed and pushed["id"] not in refused:  # unchanged while the push ran
                record.update(_status="synced", _changed="")
        for record_id in change["deleted"]:
            if record_id not in refused:
                db.tables[name].pop(record_id, None)


def _is_empty(changes: dict) -> bool:
    return all(not (c["created"] or c["updated"] or c["deleted"]) for c in changes.values())


PullChanges = Callable[[int | None, int, dict | None], Awaitable[dict]]
PushChanges = Callable[[dict, int], Awaitable[dict | None]]


async def synchronize(db: LocalDatabase, pull_changes: PullChanges, push_changes: PushChanges | None = None,
                      send_created_as_updated: bool = False, migrations_enabled_at_version: int | None = None,
                      conflict_resolver=None) -> None:
    """synchronize({database, pullChanges, pushChanges, sendCreatedAsUpdated, migrationsEnabledAtVersion})."""
    last_pulled_at = _int_or_none(db.local.get(LAST_PULLED_AT))
    schema_version, migration, save_schema_version = get_migration_info(db, last_pulled_at,
                                                                        migrations_enabled_at_version)
    result = await pull_changes(last_pulled_at, schema_version, migration)
    timestamp = result.get("timestamp")
    invariant(_is_number(timestamp) and timestamp > 0,
              f"pullChanges() returned invalid timestamp {timestamp}. timestamp must be a non-zero number")
    apply_remote_changes(db, result["changes"], result.get("experimentalStrategy"), send_created_as_updated,
                         conflict_resolver)
    previous = _int_or_none(db.local.get(LAST_PULLED_AT)) or 0
    if timestamp < previous:
        db.errors.append(f"[Sync] Pull has finished and received server time {timestamp} — but previous pulled-at "
                         f"time was greater - {previous}. This is most likely server bug.")
    db.local[LAST_PULLED_AT] = str(timestamp)
    if save_schema_version:
        db.local[LAST_PULLED_SCHEMA_VERSION] = str(schema_version)

    if push_changes is None:
        return
    changes, _ = fetch_local_changes(db)
    if not _is_empty(changes):
        answer = await push_changes(copy.deepcopy(changes), timestamp) or {}
        mark_local_changes_as_synced(db, changes, answer.get("experimentalRejectedIds"))


# ---------------------------------------------------------------- the app of docs/sync.md

class SyncFailed(Exception):
    """What the app's pullChanges/pushChanges throw on an answer that is not ok."""

    def __init__(self, what: str, status: int, body: Any) -> None:
        super().__init__(f"{what}: {status} {body}")
        self.status, self.body = status, body


def js_json(value: Any) -> str:
    """JSON.stringify(value): compact, and a whole number written without a fraction."""
    def plain(v: Any) -> Any:
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v
    return json.dumps(plain(value), ensure_ascii=False, separators=(",", ":"))


@dataclass
class HaolinBackend:
    """The pullChanges and pushChanges of docs/sync.md, over the gateway client `http`."""

    http: Any  # an httpx.AsyncClient on the gateway
    credential: str
    # Run before each pull (the tests wait there until every transaction begun so far has ended).
    before_pull: Callable[[], Awaitable[None]] | None = None
    pushes: list[dict] = field(default_factory=list)
    strategies: list[str | None] = field(default_factory=list)  # each pull's experimentalStrategy

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential}"}

    async def pull_changes(self, last_pulled_at: int | None, schema_version: int, migration: dict | None) -> dict:
        if self.before_pull is not None:
            await self.before_pull()
        params = {"last_pulled_at": "null" if last_pulled_at is None else str(last_pulled_at),
                  "schema_version": str(schema_version), "migration": js_json(migration)}
        response = await self.http.get("/v1/sync", params=params, headers=self.headers)
        if response.status_code == 422 and (response.json().get("errors") or [{}])[0].get("code") == "unknown_cursor":
            params["last_pulled_at"] = "null"
            response = await self.http.get("/v1/sync", params=params, headers=self.headers)
        if response.status_code >= 300:
            raise SyncFailed("pull", response.status_code, response.json())
        answer = response.json()
        self.strategies.append(answer.get("experimentalStrategy"))
        return answer

    async def push_changes(self, changes: dict, last_pulled_at: int) -> None:
        self.pushes.append(changes)
        response = await self.http.post("/v1/sync", params={"last_pulled_at": str(last_pulled_at)},
                                        content=js_json(changes).encode(),
                                        headers={**self.headers, "Content-Type": "application/json"})
        if response.status_code >= 300:
            raise SyncFailed("push", response.status_code, response.json())


@dataclass
class Tablet:
    """A station tablet: its WatermelonDB and the app's sync() of docs/sync.md."""

    db: LocalDatabase
    backend: HaolinBackend

    async def synchronize(self) -> bool:
        """One synchronize() call; whether it pushed anything."""
        pushed = []

        async def push(changes: dict, last_pulled_at: int) -> None:
            await self.backend.push_changes(changes, last_pulled_at)
            pushed.append(True)

        await synchronize(self.db, self.backend.pull_changes, push, send_created_as_updated=True,
                          migrations_enabled_at_version=1)
        return bool(pushed)

    async def sync(self) -> None:
        """docs/sync.md's sync(): synchronize, and once more when it pushed, so that what was pushed
        comes back as the server keeps it (sensitive values masked) and no full value stays here."""
        if await self.synchronize():
            await self.synchronize()
