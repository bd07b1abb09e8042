"""Dependencies as ``Annotated`` aliases: a route's signature says what it needs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from service.access.service import require_role
from service.audit import service as audit_service
from service.audit.models import AuditEvent
from service.audit.service import Actor
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
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send an API token: Authorization: Bearer <token>.")
    # Its own short transaction: a long upload must not hold the request's transaction open.
    with transaction(runtime.engine) as session:
        principal = auth_service.authenticate(session=session, secret=credentials.credentials)
    # For the refusal handler, which audits a 403 outside the request's (rolled-back) transaction.
    request.state.principal = principal
    return principal


CurrentUser = Annotated[Principal, Depends(get_principal)]


def RequireRole(*roles: Role) -> Any:  # noqa: N802  (reads as a type in signatures)
    """``Annotated[Principal, RequireRole(Role.admin)]``: the caller must hold one of ``roles``."""

    def dependency(principal: CurrentUser) -> Principal:
        require_role(principal, *roles)
        return principal

    return Depends(dependency)


AdminUser = Annotated[Principal, RequireRole(Role.admin)]


class Audit:
    """The audit log as one request sees it: events carry this request's user and address and
    are written in its transaction."""

    def __init__(self, session: Session, actor: Actor, key: bytes) -> None:
        self.session = session
        self.actor = actor
        self.key = key

    def record(
        self,
        action: str,
        target_type: str,
        target_id: object = None,
        detail: dict[str, Any] | None = None,
    ) -> AuditEvent:
        return audit_service.append(
            session=self.session,
            key=self.key,
            actor=self.actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            detail=detail,
        )


def actor_of(request: Request, principal: Principal | None) -> Actor:
    address = request.client.host if request.client else None
    if principal is None:
        return Actor(user_id=None, label="anonymous", client_address=address)
    return Actor(user_id=principal.user_id, label=principal.email, client_address=address)


def get_audit(
    request: Request, runtime: RuntimeDep, session: SessionDep, principal: CurrentUser
) -> Audit:
    return Audit(session, actor_of(request, principal), runtime.audit_key)


AuditDep = Annotated[Audit, Depends(get_audit)]
