"""Dependencies as ``Annotated`` aliases: a route's signature says what it needs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from service.access.service import require_role
from service.auth import service as auth_service
from service.auth.models import Role
from service.auth.service import Principal
from service.db import transaction
from service.errors import Unauthorized
from service.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent, rolled back on error.

    Services never commit; jobs registered with ``after_commit`` are handed over here.
    """
    with transaction(runtime.engine) as session:
        yield session


# scope="function": the commit happens before the response leaves, so a 201 means committed.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer qa_...`")


def get_principal(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send an API token: Authorization: Bearer <token>.")
    # Its own short transaction: a long upload must not hold the request's transaction open.
    with transaction(runtime.engine) as session:
        return auth_service.authenticate(session=session, secret=credentials.credentials)


CurrentUser = Annotated[Principal, Depends(get_principal)]


def RequireRole(*roles: Role) -> Any:  # noqa: N802  (reads as a type in signatures)
    """``Annotated[Principal, RequireRole(Role.admin)]``: the caller must hold one of ``roles``."""

    def dependency(principal: CurrentUser) -> Principal:
        require_role(principal, *roles)
        return principal

    return Depends(dependency)


AdminUser = Annotated[Principal, RequireRole(Role.admin)]
