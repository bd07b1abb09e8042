"""Tokens and roles: every route needs a valid token; tokens are stored hashed, expire and can be
revoked; only admins manage users."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import text, update

from service.auth.models import Token
from service.db import transaction, utcnow
from service.runtime import Runtime
from tests.conftest import Api, LiveServer

OPEN_ROUTES = {"/healthz", "/readyz"}


def test_every_route_but_health_needs_a_token(anonymous: Api, server: LiveServer) -> None:
    spec = httpx.get(f"{server.url}/api/v1/openapi.json").json()
    checked = 0
    for path, methods in spec["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "01a21000-0000-7000-8000-000000000000", path)
        for method in methods:
            response = httpx.request(method.upper(), f"{server.url}{concrete}")
            if path in OPEN_ROUTES:
                assert response.status_code == 200, (method, path)
            else:
                assert response.status_code == 401, (method, path, response.text)
                assert response.json()["error"] == "Unauthorized"
                checked += 1
    assert checked >= 15


def test_tokens_are_stored_only_as_digests(admin: Api, clean: Runtime) -> None:
    created = admin.post("/tokens", json={"name": "notebook"})
    assert created.status_code == 201
    secret = created.json()["token"]
    assert secret.startswith("qa_")
    with clean.engine.connect() as conn:
        rows = conn.execute(text("SELECT prefix, token_hash FROM token")).all()
    assert all(secret not in (prefix + digest) for prefix, digest in rows)
    assert all(len(digest) == 64 for _, digest in rows)
    listed = admin.get("/tokens").json()
    assert {t["name"] for t in listed} >= {"notebook"}
    assert all("token" not in t for t in listed)
    assert (
        admin.http.get("/users/me", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 200
    )


def test_revoked_and_expired_tokens_are_refused(researcher: Api, clean: Runtime) -> None:
    assert researcher.get("/users/me").status_code == 200
    second = researcher.post("/tokens", json={"name": "second"}).json()
    headers = {"Authorization": f"Bearer {second['token']}"}
    assert researcher.http.get("/users/me", headers=headers).status_code == 200
    assert researcher.delete(f"/tokens/{second['id']}").status_code == 204
    refused = researcher.http.get("/users/me", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["detail"] == "The token is missing, unknown, expired or revoked."

    with transaction(clean.engine) as session:
        session.execute(update(Token).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert researcher.get("/users/me").status_code == 401


def test_garbage_tokens_are_refused(anonymous: Api) -> None:
    for token in ("qa_nope", "Basic abc", "x" * 500, "qa_" + "a" * 300):
        response = anonymous.http.get("/sources", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401


def test_admin_manages_users_and_others_cannot(
    admin: Api, researcher: Api, server: LiveServer
) -> None:
    created = admin.post("/users", json={"email": "New.Analyst@example.org", "role": "analyst"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["email"] == "new.analyst@example.org"
    token = body["token"]["token"]
    analyst = Api(server.url, token, admin.runtime)
    assert analyst.get("/users/me").json()["role"] == "analyst"
    again = admin.post("/users", json={"email": "new.analyst@EXAMPLE.org", "role": "researcher"})
    assert again.status_code == 409
    bad = admin.post("/users", json={"email": "not-an-email", "role": "analyst"})
    assert bad.status_code == 422
    assert admin.post("/users", json={"email": "a@b.org", "role": "owner"}).status_code == 422
    assert researcher.post("/users", json={"email": "x@y.org", "role": "admin"}).status_code == 403
    assert researcher.get("/users").status_code == 403

    assert admin.post(f"/users/{body['id']}/disable").status_code == 200
    assert analyst.get("/users/me").status_code == 401


def test_users_cannot_revoke_each_others_tokens(researcher: Api, analyst: Api) -> None:
    other = researcher.post("/tokens", json={"name": "mine"}).json()
    assert analyst.delete(f"/tokens/{other['id']}").status_code == 404
