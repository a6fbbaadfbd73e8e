"""Sealing columns that held plain text, and unsealing them on downgrade (shared.crypto.Sealed).

The keys are the settings' (FIELD_ENCRYPTION_KEYS), read only when a row needs them: a migration
of an empty database runs without keys. Rows go in batches by id, so a large table is never
held whole in memory; each is rewritten in the migration's transaction.
"""

from __future__ import annotations

from functools import cache

import sqlalchemy as sa
from alembic import op

from shared.crypto import FieldCipher

BATCH = 1000


@cache
def _cipher() -> FieldCipher:
    from shared.config import ServiceSettings

    return FieldCipher(ServiceSettings().field_encryption_keys or "")


def _rewrite(schema: str, table: str, column: str, change) -> None:
    bind = op.get_bind()
    last = ""
    while True:
        rows = bind.execute(sa.text(
            f'SELECT id, "{column}" AS value FROM "{schema}"."{table}" '
            f'WHERE id > :last AND "{column}" IS NOT NULL ORDER BY id LIMIT {BATCH}'), {"last": last}).all()
        if not rows:
            return
        bind.execute(sa.text(f'UPDATE "{schema}"."{table}" SET "{column}" = :value WHERE id = :id'),
                     [{"id": r.id, "value": change(r.value)} for r in rows])
        last = rows[-1].id


def seal(schema: str, table: str, column: str) -> None:
    """Encrypt the column's plain values in place (the column must be text by now)."""
    context = f"{schema}.{table}.{column}"
    _rewrite(schema, table, column, lambda v: _cipher().encrypt(str(v), context))


def unseal(schema: str, table: str, column: str) -> None:
    context = f"{schema}.{table}.{column}"
    _rewrite(schema, table, column, lambda v: _cipher().decrypt(v, context))
