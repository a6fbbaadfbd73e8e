"""The floor for bench/case_read.py: a bare FastAPI app reading one case by id with asyncpg.

No middleware, no token check, no ORM, no response model: one pooled
`SELECT ... FROM cases."case" WHERE id = $1` and the row returned as JSON, the same
columns the cases service's CaseRead answers. Started as `make run` starts a service:

    uvicorn --factory bench.bare_read:main --loop uvloop --http httptools --no-access-log

BENCH_DSN is a plain postgresql:// URL of the database to read.
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, HTTPException

COLUMNS = ("id, station_id, version, created_at, updated_at, created_by, updated_by, beneficiary_id, title, "
           "presenting_problem, status, risk_level, worker_id, project_id, opened_on, closed_on, close_reason, "
           "populations")
QUERY = f'SELECT {COLUMNS} FROM cases."case" WHERE id = $1'
# The cases service's engine: pool_size 10 + max_overflow 10 (shared/config.py).
POOL_MIN, POOL_MAX = 10, 20


def main() -> FastAPI:
    dsn = os.environ["BENCH_DSN"]
    state: dict = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state["pool"] = await asyncpg.create_pool(dsn, min_size=POOL_MIN, max_size=POOL_MAX,
                                                  server_settings={"application_name": "haolin-bench-bare"})
        yield
        await state["pool"].close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/v1/cases/{case_id}")
    async def read_case(case_id: str):
        row = await state["pool"].fetchrow(QUERY, case_id)
        if row is None:
            raise HTTPException(404)
        return dict(row)

    return app
