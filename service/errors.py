"""One error base and one handler: every refusal is ``{"error": <type>, "detail": <sentence>}``."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    error: str
    detail: str


class AppError(Exception):
    status_code = 500

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        self.headers = headers
        self.extra = extra


class BadRequest(AppError):
    status_code = 400


class Unauthorized(AppError):
    status_code = 401


class Forbidden(AppError):
    status_code = 403


class NotFound(AppError):
    status_code = 404


class Concealed(NotFound):
    """A refusal answered exactly as an unknown id would be, so that it does not confirm that
    the target exists; it is audited like any other refusal."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class Conflict(AppError):
    status_code = 409


class Gone(AppError):
    status_code = 410


class PayloadTooLarge(AppError):
    status_code = 413


class UnsupportedMediaType(AppError):
    status_code = 415


class RangeNotSatisfiable(AppError):
    status_code = 416


class Unprocessable(AppError):
    status_code = 422


class ServiceUnavailable(AppError):
    status_code = 503


def responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry for a route, so the OpenAPI document names its errors."""
    return {
        error.status_code: {"model": ErrorBody, "description": error.__name__} for error in errors
    }


def _body(error: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"error": error, "detail": detail, **extra}


def described(exc: BaseException) -> str:
    """An exception for a log or a stored error, without its message: the messages of
    database and driver errors carry the values they were given, which can be participants'
    words. The class names of the exception and its causes, and where it was raised."""
    names: list[str] = []
    cause: BaseException | None = exc
    while cause is not None and len(names) < 5:
        names.append(type(cause).__name__)
        cause = cause.__cause__ or cause.__context__
    frames = "".join(traceback.format_tb(exc.__traceback__))
    return f"{' <- '.join(names)}\n{frames}".rstrip()


def _audit_refusal(request: Request, exc: AppError, reason: str) -> None:
    """Every refusal is an audit event, written on its own since the request rolls back.

    Refusals of requests without a valid token are written within the runtime's budget per
    minute (anyone can send those); the ones held back are counted on the next one written.
    """
    from service.audit import service as audit_service
    from service.deps import actor_of

    runtime = request.app.state.runtime
    detail: dict[str, object] = {"reason": reason, "status": exc.status_code}
    if isinstance(exc, Unauthorized):
        held = runtime.refusal_budget.take()
        if held is None:
            return
        if held:
            detail["held_back"] = held
    route = request.scope.get("route")
    params = dict(request.path_params)
    target_type, target_id = "route", None
    for name in ("file_id", "source_id", "participant_id", "user_id", "token_id", "job_id"):
        if name in params:
            target_type, target_id = name.removesuffix("_id"), params[name]
            break
    action = f"{request.method} {getattr(route, 'path', request.url.path)}"
    try:
        audit_service.append_alone(
            engine=runtime.engine,
            key=runtime.audit_key,
            actor=actor_of(request, getattr(request.state, "principal", None)),
            action=action,
            target_type=target_type,
            target_id=target_id,
            outcome="refused",
            detail=detail,
        )
    except Exception:  # noqa: BLE001  (the refusal stands even if it could not be logged)
        log.error("could not audit a refusal (status %s)", exc.status_code, exc_info=True)


def install(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    def _app_error(request: Request, exc: AppError) -> JSONResponse:
        if isinstance(exc, Forbidden | Unauthorized):
            _audit_refusal(request, exc, exc.message)
        elif isinstance(exc, Concealed):
            _audit_refusal(request, exc, exc.reason)
        headers = dict(exc.headers or {})
        if isinstance(exc, Unauthorized):
            headers["WWW-Authenticate"] = "Bearer"
        name = NotFound.__name__ if isinstance(exc, Concealed) else type(exc).__name__
        return JSONResponse(
            _body(name, exc.message, **exc.extra),
            status_code=exc.status_code,
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
            parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return JSONResponse(_body("Unprocessable", "; ".join(parts)), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        names = {404: "NotFound", 405: "MethodNotAllowed", 401: "Unauthorized"}
        return JSONResponse(
            _body(names.get(exc.status_code, "HTTPError"), str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
