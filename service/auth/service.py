"""Users and tokens: random, shown once, stored as a SHA-256 digest, expiring, revocable."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from service.auth.models import Role, Token, User, UserSite
from service.db import utcnow
from service.errors import Conflict, NotFound, Unauthorized

TOKEN_PREFIX = "qa_"  # noqa: S105  (a public marker, not a secret)


@dataclass(frozen=True)
class Principal:
    """Who is asking: the user behind a valid token."""

    user_id: uuid.UUID
    email: str
    role: Role
    token_id: uuid.UUID
    site_ids: frozenset[uuid.UUID] = frozenset()


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a plain digest is enough: there is nothing to brute-force,
    # and a lookup by digest needs a deterministic hash.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_user(*, session: Session, email: str, role: Role) -> User:
    """Create a user; emails are unique, compared without case."""
    email = email.strip().lower()
    if session.exec(select(User).where(func.lower(User.email) == email)).first():
        raise Conflict(f"A user with the email {email} already exists.")
    user = User(email=email, role=role)
    session.add(user)
    session.flush()
    return user


def get_user_or_raise(*, session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No user with that id.")
    return user


def find_user(*, session: Session, email: str) -> User | None:
    return session.exec(select(User).where(func.lower(User.email) == email.strip().lower())).first()


def list_users(*, session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(User.email)))


def issue_token(
    *, session: Session, user: User, name: str = "api", ttl: timedelta
) -> tuple[Token, str]:
    """Create a token for ``user``; return the row and the secret, which is never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = Token(
        user_id=user.id,
        name=name,
        prefix=secret[:10],
        token_hash=hash_token(secret),
        expires_at=utcnow() + ttl,
    )
    session.add(token)
    session.flush()
    return token, secret


def authenticate(*, session: Session, secret: str) -> Principal:
    """The principal behind ``secret``, or Unauthorized (one message for every failure)."""
    refused = Unauthorized("The token is missing, unknown, expired or revoked.")
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        raise refused
    row = session.exec(
        select(Token, User)
        .join(User, User.id == Token.user_id)  # type: ignore[arg-type]
        .where(Token.token_hash == hash_token(secret))
    ).first()
    if row is None:
        raise refused
    token, user = row
    now = utcnow()
    if token.revoked_at is not None or token.expires_at <= now or user.disabled_at is not None:
        raise refused
    # Record use at most once a minute, so reads do not each cost a write.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        session.execute(update(Token).where(Token.id == token.id).values(last_used_at=now))  # type: ignore[arg-type]
    return Principal(
        user_id=user.id,
        email=user.email,
        role=Role(user.role),
        token_id=token.id,
        site_ids=frozenset(site_ids_of(session=session, user_id=user.id)),
    )


def site_ids_of(*, session: Session, user_id: uuid.UUID) -> list[uuid.UUID]:
    return list(session.exec(select(UserSite.site_id).where(UserSite.user_id == user_id)))


def set_sites(*, session: Session, user: User, site_ids: list[uuid.UUID]) -> None:
    """Replace the user's sites."""
    session.execute(delete(UserSite).where(col(UserSite.user_id) == user.id))
    for site_id in dict.fromkeys(site_ids):
        session.add(UserSite(user_id=user.id, site_id=site_id))
    session.flush()


def list_tokens(*, session: Session, user_id: uuid.UUID) -> list[Token]:
    return list(session.exec(select(Token).where(Token.user_id == user_id).order_by(Token.id)))  # type: ignore[arg-type]


def revoke_token(*, session: Session, token_id: uuid.UUID, principal: Principal) -> Token:
    """Revoke a token: one's own, or anyone's for an admin."""
    token = session.get(Token, token_id)
    if token is None or (principal.role is not Role.admin and token.user_id != principal.user_id):
        raise NotFound("No token with that id.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
    return token


def disable_user(*, session: Session, user_id: uuid.UUID) -> User:
    user = get_user_or_raise(session=session, user_id=user_id)
    if user.disabled_at is None:
        user.disabled_at = utcnow()
        session.add(user)
    return user
