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


# Answers that, given to an authenticated request whose path names a target, are refusals and
# recorded: 404 (unknown, or hidden and answered as unknown) and 422 (a malformed id or value).
# Probing ids is how one looks for what one may not see, so each probe leaves a trace; the
# caller is accountable, and anonymous requests never get this far (401 comes first). 409 is
# not among them: it answers about the state of a target the caller can see (still in review,
# being prepared), clients poll on it, and it reveals nothing they could not already see.
PROBE_STATUSES = frozenset({404, 422})


def _is_probe(request: Request, status_code: int) -> bool:
    return (
        status_code in PROBE_STATUSES
        and bool(request.path_params)
        and getattr(request.state, "principal", None) is not None
    )


def _audit_refusal(request: Request, *, status_code: int, reason: str, anonymous: bool) -> None:
    """Every refusal is an audit event, written on its own since the request rolls back.

    Refusals of requests without a valid token are written within the runtime's budget per
    minute (anyone can send those); the ones held back are counted on the next one written.
    The target is the path's last id (the most specific: a file rather than its source); the
    path's other ids go into the detail. ``append`` cleans and bounds every one of them, since
    they are whatever the client sent.
    """
    from service.audit import service as audit_service
    from service.deps import actor_of

    runtime = request.app.state.runtime
    detail: dict[str, object] = {"reason": reason, "status": status_code}
    if anonymous:
        held = runtime.refusal_budget.take()
        if held is None:
            return
        if held:
            detail["held_back"] = held
    route = request.scope.get("route")
    ids = {name: value for name, value in request.path_params.items() if name.endswith("_id")}
    target_type, target_id = "route", None
    if ids:
        name = list(ids)[-1]
        target_type, target_id = name.removesuffix("_id"), ids.pop(name)
        detail.update(ids)
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
        log.error("could not audit a refusal (status %s)", status_code, exc_info=True)


def _validation_reason(request: Request, exc: RequestValidationError) -> str:
    """Where and what kind of error, never the value: what was sent in place of an id or a
    field can be anything, a participant's name included. A name is kept only when the route
    itself declares it (a path parameter); other names (a body's keys) come from the client."""
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        where = loc[0] if loc else "request"
        if where == "path" and len(loc) > 1 and loc[1] in request.path_params:
            where = f"path.{loc[1]}"
        parts.append(f"{where}: {err.get('type', 'invalid')}")
    return "; ".join(dict.fromkeys(parts))


def install(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    def _app_error(request: Request, exc: AppError) -> JSONResponse:
        if isinstance(exc, Forbidden | Unauthorized):
            _audit_refusal(
                request,
                status_code=exc.status_code,
                reason=exc.message,
                anonymous=isinstance(exc, Unauthorized),
            )
        elif isinstance(exc, Concealed):
            _audit_refusal(request, status_code=exc.status_code, reason=exc.reason, anonymous=False)
        elif _is_probe(request, exc.status_code):
            # A 404's sentence is fixed ("No source with that id."); a 422's may quote the
            # values sent, so only its kind is kept.
            reason = exc.message if exc.status_code == 404 else type(exc).__name__
            _audit_refusal(request, status_code=exc.status_code, reason=reason, anonymous=False)
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
    def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        if _is_probe(request, 422):
            reason = _validation_reason(request, exc)
            _audit_refusal(request, status_code=422, reason=reason, anonymous=False)
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
