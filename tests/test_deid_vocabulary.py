"""The project's vocabulary through the API: seeded defaults never suggested, a person in the
same text still is, admins add and remove terms and the next detection follows, others are
refused; wards are wards, not trusts."""

from __future__ import annotations

from service.deid.vocabulary import DEFAULT_VOCABULARY
from service.runtime import Runtime
from tests.conftest import Api, LiveServer
from tests.test_deid_workflow import deid_ready
from tests.test_participants import world

INTERVIEW = (
    "Interviewer: How did the EPR go-live go?\n"
    "P-017: NHS England made us a fast follower, so the go-live came early. Gareth Pritchard "
    "ran the super-user training, and the EPR was on Ward 12 first.\n"
)


def redactions(api: Api, body: bytes, name: str = "interview.txt") -> list[dict]:
    response = api.upload([(name, body)], site="RXA")
    assert response.status_code == 201, response.text
    source = deid_ready(api, response.json()["id"])
    listed = api.get(f"/sources/{source['id']}/redactions")
    assert listed.status_code == 200, listed.text
    return listed.json()["items"]  # type: ignore[no-any-return]


def test_vocabulary_is_not_suggested_and_the_person_is(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, _ = world(admin, clean, server)
    found = {r["original"]: r for r in redactions(alice, INTERVIEW.encode())}
    assert not {"EPR", "go-live", "NHS England", "fast follower", "super-user"} & set(found)
    assert not any(
        word in original for original in found for word in ("EPR", "NHS England", "go-live")
    )
    assert found["Gareth Pritchard"]["entity_type"] == "PERSON"
    # A ward is a ward: described, not given a trust's pseudonym, and left to the reviewer.
    ward = found["Ward 12"]
    assert (ward["entity_type"], ward["replacement"], ward["status"]) == (
        "WARD",
        "[Ward]",
        "suggested",
    )


def test_admins_add_and_remove_terms_and_detection_follows(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, _ = world(admin, clean, server)
    listed = admin.get("/deid-allow-terms")
    assert listed.status_code == 200
    terms = {t["text"]: t for t in listed.json()}
    assert set(DEFAULT_VOCABULARY) == set(terms)
    assert terms["EPR"]["created_by"] is None

    text = b"P-017: The PIFU form moved into the EPR in the spring, after the go-live.\n"
    assert [r["original"] for r in redactions(alice, text)] == ["PIFU"]

    # An admin adds a term: the next detection leaves it alone.
    added = admin.post("/deid-allow-terms", json={"text": "  PIFU "})
    assert added.status_code == 201, added.text
    assert added.json()["text"] == "PIFU" and added.json()["created_by"] is not None
    assert redactions(alice, text, "second.txt") == []

    # An admin removes a default: the next detection suggests it again.
    removed = admin.delete(f"/deid-allow-terms/{terms['EPR']['id']}")
    assert removed.status_code == 204
    after = redactions(alice, INTERVIEW.encode(), "third.txt")
    assert "EPR" in [r["original"] for r in after]
    assert "EPR" not in {t["text"] for t in admin.get("/deid-allow-terms").json()}

    actions = [e["action"] for e in admin.get("/audit").json()["items"]]
    assert {"deid_allow_term.add", "deid_allow_term.remove"} <= set(actions)


def test_allow_list_refusals(admin: Api, clean: Runtime, server: LiveServer) -> None:
    alice, _ = world(admin, clean, server)
    for call in (
        alice.get("/deid-allow-terms"),
        alice.post("/deid-allow-terms", json={"text": "PIFU"}),
        alice.delete(f"/deid-allow-terms/{admin.get('/deid-allow-terms').json()[0]['id']}"),
    ):
        assert call.status_code == 403, call.text
        assert call.json()["error"] == "Forbidden"

    duplicate = admin.post("/deid-allow-terms", json={"text": "nhs  ENGLAND"})
    assert duplicate.status_code == 409 and duplicate.json()["error"] == "Conflict"
    assert (
        admin.post(
            "/deid-terms", json={"text": "Northgate Systems", "entity_type": "SYSTEM"}
        ).status_code
        == 201
    )
    denied = admin.post("/deid-allow-terms", json={"text": "northgate systems"})
    assert denied.status_code == 409 and "deny list" in denied.json()["detail"]
    assert admin.post("/deid-allow-terms", json={"text": " x  "}).status_code == 422
    assert admin.post("/deid-allow-terms", json={"text": "EPR", "kind": "x"}).status_code == 422
    missing = admin.delete("/deid-allow-terms/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404 and missing.json()["error"] == "NotFound"

    operations = admin.get("/openapi.json").json()["paths"]["/api/v1/deid-allow-terms"]
    assert {"403", "409", "422"} <= set(operations["post"]["responses"])
