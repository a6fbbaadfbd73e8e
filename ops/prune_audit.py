"""Delete audit rows older than the retention: `python -m ops.prune_audit` (run it daily, e.g. from cron).

The retention is AUDIT_RETENTION_DAYS (default 183, six months; smaller values are refused).
Every process keeps its audit log in its own schema; each is pruned with its own settings.
The database itself refuses any other change to an audit row (shared.audit.ddl.guard_sql).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys

import asyncpg

from shared.audit.prune import prune
from shared.db import asyncpg_dsn

SETTINGS = {
    "gateway": "gateway.config:GatewaySettings",
    "cases": "services.cases.config:CasesSettings",
    "projects": "services.projects.config:ProjectsSettings",
    "volunteers": "services.volunteers.config:VolunteersSettings",
}


def settings_of(process: str):
    module, _, name = SETTINGS[process].partition(":")
    return getattr(importlib.import_module(module), name)()


async def prune_all(processes: list[str]) -> dict[str, int]:
    out = {}
    for process in processes:
        settings = settings_of(process)
        conn = await asyncpg.connect(asyncpg_dsn(settings.database_url))
        try:
            out[process] = await prune(conn, process, settings.audit_retention_days)
        finally:
            await conn.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--process", choices=sorted(SETTINGS), action="append", help="only this one (repeatable)")
    args = parser.parse_args(argv)
    for process, n in asyncio.run(prune_all(args.process or list(SETTINGS))).items():
        print(f"{process}: {n} audit rows older than the retention deleted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
