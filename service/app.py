"""The FastAPI application."""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from service import errors
from service.audit.router import router as audit_router
from service.auth.router import router as auth_router
from service.deid.router import router as deid_router
from service.jobs.router import router as jobs_router
from service.participants.router import router as participants_router
from service.runtime import Runtime
from service.sites.router import router as sites_router
from service.sources.router import router as sources_router
from service.storage.service import StoreUnavailable

log = logging.getLogger(__name__)


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="qualarchive",
        version="0.1.0",
        summary="An archive for qualitative research evidence.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.runtime = runtime
    errors.install(app)

    @app.exception_handler(OperationalError)
    def _database_down(_request: object, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", type(exc.orig).__name__)
        return JSONResponse(
            {
                "error": "ServiceUnavailable",
                "detail": "The database is unavailable; try again shortly.",
            },
            status_code=503,
        )

    @app.exception_handler(StoreUnavailable)
    def _store_down(_request: object, exc: StoreUnavailable) -> JSONResponse:
        return JSONResponse(
            {
                "error": "ServiceUnavailable",
                "detail": "The object store is unavailable; try again shortly.",
            },
            status_code=503,
        )

    api = APIRouter(prefix="/api/v1")
    api.include_router(sources_router)
    api.include_router(sites_router)
    api.include_router(participants_router)
    api.include_router(deid_router)
    api.include_router(jobs_router)
    api.include_router(auth_router)
    api.include_router(audit_router)
    app.include_router(api)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"model": errors.ErrorBody}})
    def readyz() -> JSONResponse:
        """Readiness: the database and the object store both answer."""
        checks = {}
        try:
            with runtime.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except DBAPIError as exc:
            checks["database"] = f"unavailable ({type(exc.orig).__name__})"
        try:
            runtime.store.ping()
            checks["object_store"] = "ok"
        except StoreUnavailable as exc:
            checks["object_store"] = f"unavailable ({exc})"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", **checks},
            status_code=200 if ready else 503,
        )

    return app
