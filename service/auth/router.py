"""Routes for users and API tokens."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import APIRouter, Response
from sqlmodel import Session

from schemas.auth import (
    TokenCreate,
    TokenCreated,
    TokenRead,
    UserCreate,
    UserCreated,
    UserRead,
    UserSites,
)
from service.auth import service as auth_service
from service.auth.models import Token, User
from service.deps import AdminUser, AuditDep, CurrentUser, RuntimeDep, SessionDep
from service.errors import Conflict, Forbidden, NotFound, Unauthorized, Unprocessable, responses
from service.sites import service as sites_service

router = APIRouter(tags=["users and tokens"])


def _user_read(session: Session, user: User) -> UserRead:
    codes = sites_service.codes_of(
        session=session, site_ids=auth_service.site_ids_of(session=session, user_id=user.id)
    )
    return UserRead.model_validate({**UserRead.model_validate(user).model_dump(), "sites": codes})


def _token_created(token: Token, secret: str) -> TokenCreated:
    return TokenCreated.model_validate(
        {**TokenRead.model_validate(token).model_dump(), "token": secret}
    )


@router.post(
    "/users",
    status_code=201,
    response_model=UserCreated,
    responses=responses(Unauthorized, Forbidden, Conflict, Unprocessable),
)
def create_user(
    data: UserCreate,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: AdminUser,
    audit: AuditDep,
) -> UserCreated:
    """Create a user with their sites and first token; the token is shown this once (admins)."""
    user = auth_service.create_user(session=session, email=data.email, role=data.role)
    site_ids = sites_service.ids_of_codes(session=session, codes=data.sites)
    auth_service.set_sites(session=session, user=user, site_ids=site_ids)
    token, secret = auth_service.issue_token(
        session=session,
        user=user,
        name="initial",
        ttl=timedelta(days=runtime.settings.token_ttl_days),
    )
    audit.record("user.create", "user", user.id, {"role": user.role, "sites": data.sites})
    audit.record("token.create", "token", token.id, {"user_id": str(user.id)})
    read = _user_read(session, user)
    return UserCreated.model_validate({**read.model_dump(), "token": _token_created(token, secret)})


@router.get("/users", response_model=list[UserRead], responses=responses(Unauthorized, Forbidden))
def list_users(session: SessionDep, principal: AdminUser) -> list[UserRead]:
    """List users (admins)."""
    return [_user_read(session, u) for u in auth_service.list_users(session=session)]


@router.get("/users/me", response_model=UserRead, responses=responses(Unauthorized))
def who_am_i(session: SessionDep, principal: CurrentUser) -> UserRead:
    """The user behind this token."""
    return _user_read(
        session, auth_service.get_user_or_raise(session=session, user_id=principal.user_id)
    )


@router.put(
    "/users/{user_id}/sites",
    response_model=UserRead,
    responses=responses(Unauthorized, Forbidden, NotFound, Unprocessable),
)
def set_user_sites(
    user_id: uuid.UUID, data: UserSites, session: SessionDep, principal: AdminUser, audit: AuditDep
) -> UserRead:
    """Replace a user's sites (admins)."""
    user = auth_service.get_user_or_raise(session=session, user_id=user_id)
    auth_service.set_sites(
        session=session,
        user=user,
        site_ids=sites_service.ids_of_codes(session=session, codes=data.sites),
    )
    audit.record("user.sites", "user", user.id, {"sites": data.sites})
    return _user_read(session, user)


@router.post(
    "/users/{user_id}/disable",
    response_model=UserRead,
    responses=responses(Unauthorized, Forbidden, NotFound),
)
def disable_user(
    user_id: uuid.UUID, session: SessionDep, principal: AdminUser, audit: AuditDep
) -> UserRead:
    """Disable a user: every token of theirs stops working (admins)."""
    user = auth_service.disable_user(session=session, user_id=user_id)
    audit.record("user.disable", "user", user.id)
    return _user_read(session, user)


@router.post(
    "/tokens",
    status_code=201,
    response_model=TokenCreated,
    responses=responses(Unauthorized, Unprocessable),
)
def create_token(
    data: TokenCreate,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: CurrentUser,
    audit: AuditDep,
) -> TokenCreated:
    """Create another token for yourself; the secret is shown this once."""
    user = auth_service.get_user_or_raise(session=session, user_id=principal.user_id)
    days = data.expires_in_days or runtime.settings.token_ttl_days
    token, secret = auth_service.issue_token(
        session=session, user=user, name=data.name, ttl=timedelta(days=days)
    )
    audit.record("token.create", "token", token.id, {"user_id": str(user.id)})
    return _token_created(token, secret)


@router.get("/tokens", response_model=list[TokenRead], responses=responses(Unauthorized))
def list_tokens(session: SessionDep, principal: CurrentUser) -> list[TokenRead]:
    """Your tokens (never their secrets)."""
    return [
        TokenRead.model_validate(t)
        for t in auth_service.list_tokens(session=session, user_id=principal.user_id)
    ]


@router.delete("/tokens/{token_id}", status_code=204, responses=responses(Unauthorized, NotFound))
def revoke_token(
    token_id: uuid.UUID, session: SessionDep, principal: CurrentUser, audit: AuditDep
) -> Response:
    """Revoke a token: your own, or anyone's for an admin."""
    token = auth_service.revoke_token(session=session, token_id=token_id, principal=principal)
    audit.record("token.revoke", "token", token.id, {"user_id": str(token.user_id)})
    return Response(status_code=204)
