"""Routes for users and API tokens."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import APIRouter, Response

from schemas.auth import TokenCreate, TokenCreated, TokenRead, UserCreate, UserCreated, UserRead
from service.auth import service as auth_service
from service.deps import AdminUser, CurrentUser, RuntimeDep, SessionDep
from service.errors import Conflict, Forbidden, NotFound, Unauthorized, Unprocessable, responses

router = APIRouter(tags=["users and tokens"])


@router.post(
    "/users",
    status_code=201,
    response_model=UserCreated,
    responses=responses(Unauthorized, Forbidden, Conflict, Unprocessable),
)
def create_user(
    data: UserCreate, runtime: RuntimeDep, session: SessionDep, principal: AdminUser
) -> UserCreated:
    """Create a user and their first token, which is shown this once (admins)."""
    user = auth_service.create_user(session=session, email=data.email, role=data.role)
    token, secret = auth_service.issue_token(
        session=session,
        user=user,
        name="initial",
        ttl=timedelta(days=runtime.settings.token_ttl_days),
    )
    created = TokenCreated.model_validate(
        {**TokenRead.model_validate(token).model_dump(), "token": secret}
    )
    return UserCreated.model_validate(
        {**UserRead.model_validate(user).model_dump(), "token": created}
    )


@router.get("/users", response_model=list[UserRead], responses=responses(Unauthorized, Forbidden))
def list_users(session: SessionDep, principal: AdminUser) -> list[UserRead]:
    """List users (admins)."""
    return [UserRead.model_validate(u) for u in auth_service.list_users(session=session)]


@router.get("/users/me", response_model=UserRead, responses=responses(Unauthorized))
def who_am_i(session: SessionDep, principal: CurrentUser) -> UserRead:
    """The user behind this token."""
    return UserRead.model_validate(
        auth_service.get_user_or_raise(session=session, user_id=principal.user_id)
    )


@router.post(
    "/users/{user_id}/disable",
    response_model=UserRead,
    responses=responses(Unauthorized, Forbidden, NotFound),
)
def disable_user(user_id: uuid.UUID, session: SessionDep, principal: AdminUser) -> UserRead:
    """Disable a user: every token of theirs stops working (admins)."""
    return UserRead.model_validate(auth_service.disable_user(session=session, user_id=user_id))


@router.post(
    "/tokens",
    status_code=201,
    response_model=TokenCreated,
    responses=responses(Unauthorized, Unprocessable),
)
def create_token(
    data: TokenCreate, runtime: RuntimeDep, session: SessionDep, principal: CurrentUser
) -> TokenCreated:
    """Create another token for yourself; the secret is shown this once."""
    user = auth_service.get_user_or_raise(session=session, user_id=principal.user_id)
    days = data.expires_in_days or runtime.settings.token_ttl_days
    token, secret = auth_service.issue_token(
        session=session, user=user, name=data.name, ttl=timedelta(days=days)
    )
    return TokenCreated.model_validate(
        {**TokenRead.model_validate(token).model_dump(), "token": secret}
    )


@router.get("/tokens", response_model=list[TokenRead], responses=responses(Unauthorized))
def list_tokens(session: SessionDep, principal: CurrentUser) -> list[TokenRead]:
    """Your tokens (never their secrets)."""
    return [
        TokenRead.model_validate(t)
        for t in auth_service.list_tokens(session=session, user_id=principal.user_id)
    ]


@router.delete("/tokens/{token_id}", status_code=204, responses=responses(Unauthorized, NotFound))
def revoke_token(token_id: uuid.UUID, session: SessionDep, principal: CurrentUser) -> Response:
    """Revoke a token: your own, or anyone's for an admin."""
    auth_service.revoke_token(session=session, token_id=token_id, principal=principal)
    return Response(status_code=204)
