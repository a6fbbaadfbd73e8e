"""cases_0005 and projects_0004 on a database with data in it: plain values sealed on upgrade,
exactly as before on downgrade."""

from __future__ import annotations

import asyncio
import os

import asyncpg
import pytest
from alembic import command
from sqlalchemy.engine import make_url

from ops.migrate import config
from shared.crypto import FieldCipher

REC = "'{id}', 2, '/1/2/'"


def _plain(url) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
async def scratch(database_url):
    """A database of its own (the suite's stays at head), dropped after."""
    base = make_url(database_url)
    url = base.set(database=f"{base.database}_sealing")
    admin = await asyncpg.connect(_plain(base.set(database="postgres")))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{url.database}"')
        yield url.render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        await admin.close()


async def migrate(url: str, lineage: str, step: str, revision: str) -> None:
    await asyncio.to_thread(getattr(command, step), config(lineage, url), revision)


async def test_upgrade_seals_and_downgrade_unseals(scratch):
    await migrate(scratch, "cases", "upgrade", "cases_0004")
    await migrate(scratch, "projects", "upgrade", "projects_0003")
    conn = await asyncpg.connect(_plain(make_url(scratch)))
    try:
        await conn.execute(f"""
            INSERT INTO cases.beneficiary (id, station_id, station_path, name, name_initials, name_pinyin,
                registered_on, address, self_care, disability_type, disability_grade)
            VALUES ({REC.format(id='b1')}, '小明', 'xm', 'xiaoming', '2026-01-01', '和平路1号', 'partial', 'visual', 3),
                   ({REC.format(id='b2')}, '老王', 'lw', 'laowang', '2026-01-01', NULL, NULL, NULL, NULL);
            INSERT INTO cases."case" (id, station_id, station_path, beneficiary_id, title, presenting_problem, status,
                risk_level, opened_on) VALUES ({REC.format(id='c1')}, 'b1', '照护', '独居，有哮喘', 'intake', 'low',
                '2026-01-02');
            INSERT INTO cases.service_record (id, station_id, station_path, case_id, beneficiary_id, served_on, mode,
                content, service_type, person_times, worker_id) VALUES ({REC.format(id='s1')}, 'c1', 'b1',
                '2026-01-03', 'home_visit', '入户探访', 'elder_child_care', 1, 'w1');
            INSERT INTO projects.project (id, station_id, station_path, name, purchaser, operator, starts_on, ends_on,
                status) VALUES ({REC.format(id='p1')}, '项目', '民政局', '机构', '2026-01-01', '2026-12-31', 'active');
            INSERT INTO projects.activity (id, station_id, station_path, project_id, title, held_on, notes)
                VALUES ({REC.format(id='a1')}, 'p1', '健康讲座', '2026-02-01', '张奶奶血压高');
        """)
        before = {
            "b": [dict(r) for r in await conn.fetch("SELECT * FROM cases.beneficiary ORDER BY id")],
            "c": dict(await conn.fetchrow('SELECT * FROM cases."case"')),
            "s": dict(await conn.fetchrow("SELECT * FROM cases.service_record")),
            "a": dict(await conn.fetchrow("SELECT * FROM projects.activity")),
        }

        await migrate(scratch, "cases", "upgrade", "cases_0005")
        await migrate(scratch, "projects", "upgrade", "projects_0004")
        cipher = FieldCipher(os.environ["FIELD_ENCRYPTION_KEYS"])
        b1 = await conn.fetchrow("SELECT * FROM cases.beneficiary WHERE id = 'b1'")
        for column, plain in (("address", "和平路1号"), ("self_care", "partial"), ("disability_type", "visual"),
                              ("disability_grade", "3")):
            assert b1[column].startswith("k1:") and b1[column] != plain
            assert cipher.decrypt(b1[column], f"cases.beneficiary.{column}") == plain
        b2 = await conn.fetchrow("SELECT * FROM cases.beneficiary WHERE id = 'b2'")
        assert (b2["address"], b2["disability_grade"]) == (None, None)  # nothing to seal stays nothing
        sealed = await conn.fetchval('SELECT presenting_problem FROM cases."case"')
        assert cipher.decrypt(sealed, "cases.case.presenting_problem") == "独居，有哮喘"
        sealed = await conn.fetchval("SELECT content FROM cases.service_record")
        assert cipher.decrypt(sealed, "cases.service_record.content") == "入户探访"
        sealed = await conn.fetchval("SELECT notes FROM projects.activity")
        assert cipher.decrypt(sealed, "projects.activity.notes") == "张奶奶血压高"
        assert await conn.fetchval("SELECT count(*) FROM cases.audit_log") == 0

        await migrate(scratch, "projects", "downgrade", "projects_0003")
        await migrate(scratch, "cases", "downgrade", "cases_0004")
        after = {
            "b": [dict(r) for r in await conn.fetch("SELECT * FROM cases.beneficiary ORDER BY id")],
            "c": dict(await conn.fetchrow('SELECT * FROM cases."case"')),
            "s": dict(await conn.fetchrow("SELECT * FROM cases.service_record")),
            "a": dict(await conn.fetchrow("SELECT * FROM projects.activity")),
        }
        ignore = {"change_xid"}  # the rewrite is a change, as a tablet must see it
        for key in before:
            rows_before = before[key] if isinstance(before[key], list) else [before[key]]
            rows_after = after[key] if isinstance(after[key], list) else [after[key]]
            assert [{k: v for k, v in r.items() if k not in ignore} for r in rows_after] == \
                [{k: v for k, v in r.items() if k not in ignore} for r in rows_before]
        assert after["b"][0]["disability_grade"] == 3  # a number again
        assert await conn.fetchval("SELECT to_regclass('cases.audit_log')") is None
    finally:
        await conn.close()
