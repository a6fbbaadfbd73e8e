"""Deleting audit rows past the retention (ops.prune_audit)."""

from __future__ import annotations

from shared.audit.model import MIN_RETENTION_DAYS


async def prune(conn, schema: str, retention_days: int) -> int:
    """Delete audit rows older than the retention (at least 183 days); answers how many.
    `conn`: an asyncpg connection, as the application's role or the owner: the deletes go through
    the schema's prune_audit_log (prune_function_sql), the only ones the trigger allows."""
    if retention_days < MIN_RETENTION_DAYS:
        raise ValueError(f"AUDIT_RETENTION_DAYS must be at least {MIN_RETENTION_DAYS} (six months)")
    return int(await conn.fetchval(f'SELECT "{schema}".prune_audit_log($1)', retention_days))
