"""Run every lineage to head: `python -m ops.migrate [--url URL]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent
LINEAGES = ("gateway", "cases", "projects", "volunteers")


def config(name: str, url: str | None = None) -> Config:
    cfg = Config(str(ROOT / "migrations" / "alembic.ini"), ini_section=name)
    if url:
        cfg.attributes["url"] = url
    return cfg


def upgrade_all(url: str | None = None) -> None:
    for name in LINEAGES:
        command.upgrade(config(name, url), "head")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="database URL (default: DATABASE_URL or the embedded server)")
    args = parser.parse_args()
    upgrade_all(args.url)
    print("migrations: all lineages at head")
