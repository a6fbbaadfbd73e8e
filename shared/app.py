"""What every process's create_app() shares: error handlers, middleware, health probes."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request
from sqlalchemy import text

from shared.config import ServiceSettings
from shared.docs import install_docs
from shared.errors import install_error_handlers, problem_response, refuse_nul
from shared.observability import RequestContextMiddleware


def build_app(*, title: str, service: str, settings: ServiceSettings, lifespan, version: str = "0.1.0",
              description: str = "", **kwargs: Any) -> FastAPI:
    app = FastAPI(title=title, version=version, description=description, lifespan=lifespan,
                  dependencies=[Depends(refuse_nul)], **kwargs)
    app.state.settings = settings
    install_error_handlers(app)
    install_docs(app)
    app.add_middleware(RequestContextMiddleware, service=service, max_body_bytes=settings.max_body_bytes)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict:
        return {"status": "ok", "service": service}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request):
        db = getattr(request.app.state, "db", None)
        try:
            if db is not None:
                async with db.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except Exception:
            return problem_response({"type": "about:blank", "title": "Not ready", "status": 503,
                                     "detail": "The database is not reachable."})
        return {"status": "ready", "service": service}

    return app
