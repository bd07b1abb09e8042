"""The authorisation matrix: for every route in the OpenAPI document, the status each role gets,
for its own site's data and for another site's. A route without an entry fails the suite."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from service.auth.models import Role
from service.runtime import Runtime
from tests import files
from tests.conftest import Api, LiveServer, make_user
from tests.test_deid_workflow import deid_ready

ACTORS = ("admin", "own", "other", "analyst")  # own/other: a researcher of RXA / of RXB only
counter = itertools.count(100)


@dataclass
class World:
    apis: dict[str, Api]
    source: dict[str, Any]  # approved: its de-identified text is published
    review: dict[str, Any]  # in review: the redaction cases work on this one
    participant: dict[str, Any]
    job_id: str
    pseudonym_id: str

    @property
    def admin(self) -> Api:
        return self.apis["admin"]

    def fresh_source(self) -> str:
        n = next(counter)
        response = self.admin.upload(
            [(f"n{n}.txt", f"Notes {n}.\n".encode())], site="RXA", participants="P-017"
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def fresh_participant(self) -> str:
        body = {"code": f"P-{next(counter)}", "site": "RXA", "role": "clinical"}
        response = self.admin.post("/participants", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def fresh_reviewed_source(self) -> str:
        """A source whose detection has run and which awaits approval."""
        source_id = self.fresh_source()
        deid_ready(self.admin, source_id)
        for r in self.admin.get(f"/sources/{source_id}/redactions").json()["items"]:
            if r["status"] == "suggested":
                url = f"/sources/{source_id}/redactions/{r['id']}"
                assert self.admin.patch(url, json={"status": "accepted"}).is_success
        return source_id

    def fresh_redaction(self) -> str:
        n = next(counter) % 15
        body = {"file_id": self.review["files"][0]["id"], "start": n, "end": n + 1}
        response = self.admin.post(
            f"/sources/{self.review['id']}/redactions", json=body | {"entity_type": "DATE"}
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def fresh_term(self) -> str:
        body = {"text": f"Supplier {next(counter)}", "entity_type": "SYSTEM"}
        return str(self.admin.post("/deid-terms", json=body).json()["id"])

    def fresh_allow_term(self) -> str:
        body = {"text": f"Programme {next(counter)}"}
        return str(self.admin.post("/deid-allow-terms", json=body).json()["id"])

    def fresh_user(self) -> str:
        body = {"email": f"u{next(counter)}@example.org", "role": "analyst"}
        return str(self.admin.post("/users", json=body).json()["id"])


@dataclass
class Case:
    """One request: how to make it (given the world and the actor), and what each actor gets."""

    expect: dict[str, int]
    path: dict[str, Callable[[World, str], str]] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    json: Callable[[World], Any] | None = None
    multipart: Callable[[World], list[tuple[str, Any]]] | None = None


def every(status: int) -> dict[str, int]:
    return dict.fromkeys(ACTORS, status)


def own_site(ok: int) -> dict[str, int]:
    """Admins and the site's researchers; never another site's researcher or an analyst."""
    return {"admin": ok, "own": ok, "other": 403, "analyst": 403}


def admins(ok: int) -> dict[str, int]:
    return {"admin": ok, "own": 403, "other": 403, "analyst": 403}


SOURCE = {"source_id": lambda w, a: w.source["id"]}
REVIEW = {"source_id": lambda w, a: w.review["id"]}
FILE = SOURCE | {"file_id": lambda w, a: w.source["files"][0]["id"]}
PARTICIPANT = {"participant_id": lambda w, a: w.participant["id"]}


def upload_parts(w: World) -> list[tuple[str, Any]]:
    n = next(counter)
    return [
        ("title", (None, f"Matrix {n}")),
        ("source_type", (None, "interview")),
        ("site", (None, "RXA")),
        ("file", (f"m{n}.txt", f"Matrix upload {n}.\n".encode(), "text/plain")),
    ]


def attach_parts(w: World) -> list[tuple[str, Any]]:
    n = next(counter)
    return [("file", (f"a{n}.txt", f"Attached {n}.\n".encode(), "text/plain"))]


def consent_parts(w: World) -> list[tuple[str, Any]]:
    return [("scopes", (None, "archive,share_team")), ("given_on", (None, "2024-05-01"))]


def own_token(w: World, actor: str) -> str:
    return str(w.apis[actor].post("/tokens", json={"name": "matrix"}).json()["id"])


def someone_elses_token(w: World, actor: str) -> str:
    helper = "own" if actor != "own" else "other"
    return str(w.apis[helper].post("/tokens", json={"name": "theirs"}).json()["id"])


MATRIX: dict[tuple[str, str], list[Case]] = {
    ("POST", "/api/v1/sources"): [Case(own_site(201), multipart=upload_parts)],
    ("GET", "/api/v1/sources"): [Case(every(200))],
    ("GET", "/api/v1/sources/{source_id}"): [Case(every(200), SOURCE)],
    ("DELETE", "/api/v1/sources/{source_id}"): [
        Case(admins(204), {"source_id": lambda w, a: w.fresh_source()})
    ],
    ("POST", "/api/v1/sources/{source_id}/files"): [
        # The new file's text needs review again: attach to the source that is in review.
        Case(own_site(201), REVIEW, multipart=attach_parts)
    ],
    ("GET", "/api/v1/sources/{source_id}/text"): [
        Case(every(200), SOURCE),  # de-identified: approved, and the consent allows sharing
        Case(every(409), REVIEW),  # still in review
        Case(own_site(200), SOURCE, {"form": "identifiable"}),
        Case(own_site(200), SOURCE, {"form": "identifiable", "format": "json"}),
    ],
    ("GET", "/api/v1/sources/{source_id}/files/{file_id}/content"): [Case(own_site(200), FILE)],
    ("PUT", "/api/v1/sources/{source_id}/participants"): [
        Case(
            own_site(200),
            SOURCE,
            json=lambda w: {"participants": [{"code": "P-017", "speaker_label": "Interviewee"}]},
        )
    ],
    ("POST", "/api/v1/sites"): [
        Case(admins(201), json=lambda w: {"code": f"S{next(counter)}", "name": "Another"})
    ],
    ("GET", "/api/v1/sites"): [Case(every(200))],
    ("POST", "/api/v1/participants"): [
        Case(
            own_site(201),
            json=lambda w: {"code": f"P-{next(counter)}", "site": "RXA", "role": "vendor"},
        )
    ],
    ("GET", "/api/v1/participants"): [Case(every(200))],
    ("GET", "/api/v1/participants/{participant_id}"): [
        Case(every(200), PARTICIPANT),
        Case(own_site(200), PARTICIPANT, {"identity": "true"}),
    ],
    ("PATCH", "/api/v1/participants/{participant_id}"): [
        Case(own_site(200), PARTICIPANT, json=lambda w: {"role_detail": "charge nurse"})
    ],
    ("POST", "/api/v1/participants/{participant_id}/consents"): [
        Case(own_site(201), PARTICIPANT, multipart=consent_parts)
    ],
    ("GET", "/api/v1/participants/{participant_id}/consents"): [Case(every(200), PARTICIPANT)],
    ("POST", "/api/v1/participants/{participant_id}/withdraw"): [
        Case(
            admins(200),
            {"participant_id": lambda w, a: w.fresh_participant()},
            json=lambda w: {"mode": "retain_deidentified"},
        )
    ],
    ("POST", "/api/v1/participants/{participant_id}/withdrawal-requests"): [
        Case(
            own_site(201),
            {"participant_id": lambda w, a: w.fresh_participant()},
            json=lambda w: {"mode": "erase", "note": "Asked by phone."},
        )
    ],
    ("GET", "/api/v1/withdrawal-requests"): [Case(admins(200))],
    # The world's source is not held: an admin is told so; nobody else may ask.
    ("POST", "/api/v1/sources/{source_id}/withdrawal-hold"): [
        Case(
            {"admin": 409, "own": 403, "other": 403, "analyst": 403},
            SOURCE,
            json=lambda w: {"decision": "release"},
        )
    ],
    ("GET", "/api/v1/jobs/{job_id}"): [Case(every(200), {"job_id": lambda w, a: w.job_id})],
    ("POST", "/api/v1/users"): [
        Case(
            admins(201),
            json=lambda w: {"email": f"x{next(counter)}@example.org", "role": "analyst"},
        )
    ],
    ("GET", "/api/v1/users"): [Case(admins(200))],
    ("GET", "/api/v1/users/me"): [Case(every(200))],
    ("PUT", "/api/v1/users/{user_id}/sites"): [
        Case(
            admins(200), {"user_id": lambda w, a: w.fresh_user()}, json=lambda w: {"sites": ["RXB"]}
        )
    ],
    ("POST", "/api/v1/users/{user_id}/disable"): [
        Case(admins(200), {"user_id": lambda w, a: w.fresh_user()})
    ],
    ("POST", "/api/v1/tokens"): [Case(every(201), json=lambda w: {"name": "matrix"})],
    ("GET", "/api/v1/tokens"): [Case(every(200))],
    ("DELETE", "/api/v1/tokens/{token_id}"): [
        Case(every(204), {"token_id": own_token}),
        Case(
            {"admin": 204, "own": 404, "other": 404, "analyst": 404},
            {"token_id": someone_elses_token},
        ),
    ],
    ("GET", "/api/v1/audit"): [Case(admins(200))],
    ("GET", "/api/v1/audit/anchor"): [Case(admins(200))],
    ("GET", "/api/v1/audit.csv"): [Case(admins(200))],
    ("GET", "/api/v1/sources/{source_id}/redactions"): [Case(own_site(200), REVIEW)],
    ("POST", "/api/v1/sources/{source_id}/redactions"): [
        Case(
            own_site(201),
            REVIEW,
            json=lambda w: {
                "file_id": w.review["files"][0]["id"],
                "start": (n := 15 + next(counter) % 2),
                "end": n + 1,
                "entity_type": "DATE",
            },
        )
    ],
    ("PATCH", "/api/v1/sources/{source_id}/redactions/{redaction_id}"): [
        Case(
            own_site(200),
            REVIEW | {"redaction_id": lambda w, a: w.fresh_redaction()},
            json=lambda w: {"status": "rejected"},
        )
    ],
    ("POST", "/api/v1/sources/{source_id}/redactions/approve"): [
        Case(own_site(200), {"source_id": lambda w, a: w.fresh_reviewed_source()})
    ],
    ("GET", "/api/v1/sources/{source_id}/anonymisation-log.csv"): [Case(own_site(200), SOURCE)],
    ("GET", "/api/v1/anonymisation-log.csv"): [Case(admins(200))],
    ("GET", "/api/v1/pseudonyms"): [Case(admins(200))],
    ("PATCH", "/api/v1/pseudonyms/{pseudonym_id}"): [
        Case(
            admins(200),
            {"pseudonym_id": lambda w, a: w.pseudonym_id},
            json=lambda w: {"replacement": "[Person Z]"},
        )
    ],
    ("GET", "/api/v1/deid-terms"): [Case(admins(200))],
    ("POST", "/api/v1/deid-terms"): [
        Case(
            admins(201),
            json=lambda w: {"text": f"Trust {next(counter)}", "entity_type": "HOSPITAL"},
        )
    ],
    ("DELETE", "/api/v1/deid-terms/{term_id}"): [
        Case(admins(204), {"term_id": lambda w, a: w.fresh_term()})
    ],
    ("GET", "/api/v1/deid-allow-terms"): [Case(admins(200))],
    ("POST", "/api/v1/deid-allow-terms"): [
        Case(admins(201), json=lambda w: {"text": f"Programme {next(counter)}"})
    ],
    ("DELETE", "/api/v1/deid-allow-terms/{term_id}"): [
        Case(admins(204), {"term_id": lambda w, a: w.fresh_allow_term()})
    ],
    ("PATCH", "/api/v1/sources/{source_id}/segments"): [
        Case(
            own_site(200),
            REVIEW,
            json=lambda w: {
                "file_id": w.review["files"][0]["id"],
                "first": 0,
                "last": 1,
                "speaker": "Interviewer",
            },
        )
    ],
    # The world's file is not a recording: everyone allowed to ask is told so.
    ("GET", "/api/v1/sources/{source_id}/files/{file_id}/deidentified-audio"): [
        Case(every(404), FILE)
    ],
    ("GET", "/healthz"): [Case(every(200))],
    ("GET", "/readyz"): [Case(every(200))],
}


@pytest.fixture
def world(admin: Api, clean: Runtime, server: LiveServer) -> World:
    for code in ("RXA", "RXB"):
        assert admin.post("/sites", json={"code": code, "name": code}).status_code == 201
    apis = {
        "admin": admin,
        "own": Api(
            server.url, make_user(clean, Role.researcher, "own@example.org", ["RXA"]), clean
        ),
        "other": Api(
            server.url, make_user(clean, Role.researcher, "other@example.org", ["RXB"]), clean
        ),
        "analyst": Api(server.url, make_user(clean, Role.analyst, "analyst@example.org"), clean),
    }
    participant = admin.post(
        "/participants",
        json={"code": "P-017", "site": "RXA", "role": "clinical", "identity": {"name": "Ida Nym"}},
    ).json()
    parts = [("scopes", (None, "archive,share_team")), ("given_on", (None, "2024-01-01"))]
    assert admin.http.post(f"/participants/{participant['id']}/consents", files=parts).is_success
    made = []
    transcript = files.make_vtt(
        [(0.0, 2.0, "Interviewer", "A second interview, in review."), (2.0, 4.0, None, "Yes.")]
    )
    for name, content in (
        ("i.txt", b"The interview with Ida Nym itself.\n"),
        ("r.vtt", transcript),
    ):
        response = admin.upload([(name, content)], site="RXA", participants="P-017")
        assert response.status_code == 201, response.text
        made.append(deid_ready(admin, response.json()["id"]))
    source, review = made
    for r in admin.get(f"/sources/{source['id']}/redactions").json()["items"]:
        if r["status"] == "suggested":
            url = f"/sources/{source['id']}/redactions/{r['id']}"
            assert admin.patch(url, json={"status": "accepted"}).is_success
    assert admin.post(f"/sources/{source['id']}/redactions/approve").status_code == 200
    [pseudonym] = [p for p in admin.get("/pseudonyms").json() if p["term"] == "ida nym"]
    return World(apis, source, review, participant, source["files"][0]["job_id"], pseudonym["id"])


def test_every_route_has_an_entry_and_every_entry_holds(world: World, server: LiveServer) -> None:
    spec = httpx.get(f"{server.url}/api/v1/openapi.json").json()
    routes = {(m.upper(), p) for p, methods in spec["paths"].items() for m in methods}
    missing = sorted(routes - set(MATRIX))
    assert not missing, f"routes without an entry in the access matrix: {missing}"
    stale = sorted(set(MATRIX) - routes)
    assert not stale, f"matrix entries for routes that no longer exist: {stale}"

    failures = []
    for (method, template), cases in MATRIX.items():
        for case in cases:
            for actor in ACTORS:
                path = template
                for name, make in case.path.items():
                    path = path.replace("{" + name + "}", make(world, actor))
                api = world.apis[actor]
                url = path.removeprefix("/api/v1")
                if not path.startswith("/api/v1"):
                    url = f"{server.url}{path}"
                response = api.http.request(
                    method,
                    url,
                    params=case.query,
                    json=case.json(world) if case.json else None,
                    files=case.multipart(world) if case.multipart else None,
                )
                expected = case.expect[actor]
                if response.status_code != expected:
                    failures.append(
                        f"{method} {template} {case.query} as {actor}: "
                        f"{response.status_code} (expected {expected}) {response.text[:200]}"
                    )
                leaked = "Ida Nym" in response.text
                if leaked and actor in ("other", "analyst"):
                    failures.append(f"{method} {template} leaked an identity to {actor}")
    assert not failures, "\n".join(failures)


def test_route_template_placeholders_are_known() -> None:
    names = {n for (_, p) in MATRIX for n in re.findall(r"\{(\w+)\}", p)}
    assert names == {
        "source_id",
        "file_id",
        "participant_id",
        "job_id",
        "user_id",
        "token_id",
        "redaction_id",
        "pseudonym_id",
        "term_id",
    }


# -- sources a viewer cannot see ------------------------------------------------------------


def hidden_sources(w: World) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Two sources hidden from some viewers, each with the actors it is hidden from: one whose
    participant has no consent to archiving (for RXA's researchers and admins only), and one
    held after a withdrawal (for admins only)."""
    admin = w.admin
    for code in ("P-050", "P-051", "P-052"):
        body = {"code": code, "site": "RXA", "role": "clinical"}
        assert admin.post("/participants", json=body).status_code == 201
    unconsented = admin.upload(
        [("u.txt", b"Not yet consented.\n")], site="RXA", participants="P-050"
    )
    assert unconsented.status_code == 201, unconsented.text
    held = admin.upload(
        [("o.txt", b"Observation of a huddle.\n")],
        source_type="observation",
        site="RXA",
        participants="P-051,P-052",
    )
    assert held.status_code == 201, held.text
    admin.wait(held.json()["id"])
    [leaving] = [p for p in admin.get("/participants").json()["items"] if p["code"] == "P-051"]
    withdrawn = admin.post(f"/participants/{leaving['id']}/withdraw", json={"mode": "erase"})
    assert withdrawn.status_code == 200, withdrawn.text
    assert admin.get(f"/sources/{held.json()['id']}").json()["withdrawal_hold"] is not None
    return {
        "unconsented": (unconsented.json()["id"], ("other", "analyst")),
        "held": (held.json()["id"], ("own", "other", "analyst")),
    }


def test_a_source_a_viewer_cannot_see_is_answered_like_an_unknown_one(
    world: World, server: LiveServer
) -> None:
    """Every route that takes a source id, for every case of the matrix: a hidden source gets
    the very answer an unknown id gets, so neither its existence nor its consent or withdrawal
    state can be probed; and each such answer is audited as a refusal."""
    hidden = hidden_sources(world)
    unknown = "0190a0b0-0000-7000-8000-000000000000"
    failures = []
    routes = 0
    for (method, template), cases in MATRIX.items():
        if "{source_id}" not in template:
            continue
        routes += 1
        for case in cases:
            for kind, (source_id, actors) in hidden.items():
                for actor in actors:
                    answers = []
                    for target in (source_id, unknown):
                        path = template.replace("{source_id}", target)
                        for name, make in case.path.items():
                            if name != "source_id":
                                path = path.replace("{" + name + "}", make(world, actor))
                        response = world.apis[actor].http.request(
                            method,
                            path.removeprefix("/api/v1"),
                            params=case.query,
                            json=case.json(world) if case.json else None,
                            files=case.multipart(world) if case.multipart else None,
                        )
                        answers.append((response.status_code, response.text))
                    if answers[0] != answers[1]:
                        failures.append(
                            f"{method} {template} {case.query} on the {kind} source as {actor}: "
                            f"{answers[0]} but an unknown id gets {answers[1]}"
                        )
    assert routes >= 14
    assert not failures, "\n".join(failures)
    for source_id, actors in hidden.values():
        for actor in actors:
            response = world.apis[actor].get(f"/sources/{source_id}")
            assert response.status_code == 404
            assert response.json() == {"error": "NotFound", "detail": "No source with that id."}
    refusals = world.admin.get("/audit", params={"target": hidden["held"][0], "limit": 500}).json()[
        "items"
    ]
    refused = [e for e in refusals if e["outcome"] == "refused"]
    assert refused and all(e["detail"]["status"] in (403, 404) for e in refused)
    assert any("withdrawal" in e["detail"]["reason"] for e in refused)
