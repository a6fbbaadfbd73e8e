"""Re-encrypt every sealed value under the current field-encryption key: `python -m ops.rotate_keys`.

FIELD_ENCRYPTION_KEYS lists "kid:key" pairs: the first encrypts, all decrypt. Rotating is:

1. put the new key first and keep the old one after it (FIELD_ENCRYPTION_KEYS=k2:<new>,k1:<old>),
   restart the processes: new writes use k2, rows under k1 still read;
2. `python -m ops.rotate_keys`: rewrites each value not under the first key, in batches, per
   service database; a value changed meanwhile by the application is left to it (compare and set);
3. `python -m ops.rotate_keys --check` answers 0 once no value is left under another key;
4. drop the old key from FIELD_ENCRYPTION_KEYS and restart.

Safe to run while the platform serves, and to run again. Each service uses its own settings
(CASES_DATABASE_URL or DATABASE_URL, CASES_FIELD_ENCRYPTION_KEYS or FIELD_ENCRYPTION_KEYS...).
Rewritten rows reach station tablets again at their next pull (same values, new ciphertexts).

Files (attachments, in each service's part of STORAGE_URL) are covered too: each file's own data
key is re-sealed under the first key; the file's bytes are not rewritten (shared/storage/sealed.py).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from dataclasses import dataclass

import asyncpg

from ops import s3
from shared.crypto import FieldCipher, RowSealed, sealed_columns
from shared.db import asyncpg_dsn
from shared.storage import SealedFiles, open_storage

# service -> (models module, settings class)
SERVICES = {
    "cases": ("services.cases.models", "services.cases.config:CasesSettings"),
    "projects": ("services.projects.models", "services.projects.config:ProjectsSettings"),
    "volunteers": ("services.volunteers.models", "services.volunteers.config:VolunteersSettings"),
}


@dataclass(frozen=True)
class Target:
    """One sealed column: "schema"."table".column, and how its values are bound (context)."""

    schema: str
    table: str
    column: str
    row_prefix: str | None = None  # RowSealed: context "<prefix>:<row id>"; else the fixed context

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}.{self.column}"

    def context(self, row_id: str) -> str:
        return f"{self.row_prefix}:{row_id}" if self.row_prefix else self.name


def targets(service: str) -> list[Target]:
    models = importlib.import_module(SERVICES[service][0])
    found = []
    for table in models.Base.metadata.sorted_tables:
        found += [Target(table.schema, table.name, column) for column in sealed_columns(table)]
    for sealed in getattr(models, "ROW_SEALED", []):
        sealed: RowSealed
        found.append(Target(sealed.table.schema, sealed.table.name, sealed.column, sealed.prefix))
    return found


def settings_of(service: str):
    module, _, name = SERVICES[service][1].partition(":")
    return getattr(importlib.import_module(module), name)()


async def stale_count(conn: asyncpg.Connection, target: Target, kid: str) -> int:
    return await conn.fetchval(
        f'SELECT count(*) FROM "{target.schema}"."{target.table}" '
        f'WHERE "{target.column}" IS NOT NULL AND split_part("{target.column}", \':\', 1) <> $1', kid)


async def rotate_target(conn: asyncpg.Connection, target: Target, cipher: FieldCipher, batch: int = 500) -> int:
    """Rewrite the target's values not under the current key; answers how many were rewritten."""
    q = f'"{target.schema}"."{target.table}"'
    col = f'"{target.column}"'
    select = (f"SELECT id, {col} AS value FROM {q} WHERE {col} IS NOT NULL "
              f"AND split_part({col}, ':', 1) <> $1 AND id > $2 ORDER BY id LIMIT $3")
    # Compare and set: a value the application rewrote since we read it is already current.
    update = (f"UPDATE {q} AS t SET {col} = v.new FROM unnest($1::text[], $2::text[], $3::text[]) AS v(id, old, new) "
              f"WHERE t.id = v.id AND t.{col} = v.old")
    done, last = 0, ""
    while True:
        rows = await conn.fetch(select, cipher.current_kid, last, batch)
        if not rows:
            return done
        ids = [r["id"] for r in rows]
        old = [r["value"] for r in rows]
        new = [cipher.reseal(r["value"], target.context(r["id"])) for r in rows]
        async with conn.transaction():
            status = await conn.execute(update, ids, old, new)
        done += int(status.split()[-1])
        last = ids[-1]


async def rotate(dsn: str, service: str, cipher: FieldCipher, *, batch: int = 500,
                 check_only: bool = False) -> dict[str, int]:
    """{column: values rewritten} (or, with check_only, values still under another key)."""
    conn = await asyncpg.connect(dsn)
    try:
        out = {}
        for target in targets(service):
            if check_only:
                out[target.name] = await stale_count(conn, target, cipher.current_kid)
            else:
                out[target.name] = await rotate_target(conn, target, cipher, batch)
        return out
    finally:
        await conn.close()


async def rotate_files(settings, service: str, cipher: FieldCipher, *, check_only: bool = False) -> int:
    """The service's files whose data keys are sealed under another key: re-sealed (or, with
    check_only, counted)."""
    storage = open_storage(settings.storage_url, service, access_key_id=settings.storage_access_key_id,
                           secret_access_key=settings.storage_secret_access_key)
    async with storage:
        files = SealedFiles(storage, cipher)
        return await (files.stale() if check_only else files.rotate())


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--check", action="store_true", help="only count values not under the first key")
    parser.add_argument("--service", choices=sorted(SERVICES), action="append",
                        help="only this service (repeatable; default: all)")
    parser.add_argument("--batch", type=int, default=500, help="rows per transaction (default 500)")
    args = parser.parse_args(argv)
    try:
        s3.use_embedded(os.environ, start_server=False)  # STORAGE_URL=s3://haolin?endpoint=embedded (make run)
    except s3.S3Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    left = 0
    for service in args.service or list(SERVICES):
        settings = settings_of(service)
        cipher = FieldCipher(settings.field_encryption_keys or "")
        counts = await rotate(asyncpg_dsn(settings.database_url), service, cipher, batch=args.batch,
                              check_only=args.check)
        counts[f"{service} files"] = await rotate_files(settings, service, cipher, check_only=args.check)
        for name, n in counts.items():
            print(f"{name}: {n} {'under another key' if args.check else 'rewritten'} (key {cipher.current_kid})")
            left += n
    if args.check and left:
        print(f"{left} values are not under the first key yet: run python -m ops.rotate_keys", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
