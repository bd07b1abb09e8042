"""Consent is enforced: material of a participant without the needed scope is not seen or used
beyond what the consent allows."""

from __future__ import annotations

from service.auth.models import Role
from service.runtime import Runtime
from tests.conftest import Api, LiveServer, make_user
from tests.test_participants import consent, register, world


def listed(api: Api) -> list[str]:
    return [s["id"] for s in api.get("/sources").json()["items"]]


def test_unconsented_material_is_seen_by_its_own_site_only(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, bob = world(admin, clean, server)
    analyst = Api(server.url, make_user(clean, Role.analyst), clean)
    p17 = register(alice, "P-017")
    source = alice.upload([("i.txt", b"Interview.\n")], site="RXA", participants="P-017").json()
    plain = alice.upload([("n.txt", b"Notes with no participant.\n")], site="RXA").json()

    assert listed(alice) == [plain["id"], source["id"]]
    assert listed(admin) == [plain["id"], source["id"]]
    assert listed(bob) == [plain["id"]]
    assert listed(analyst) == [plain["id"]]
    # Answered as an unknown id would be: a 403 would confirm the source and its consent state.
    refused = bob.get(f"/sources/{source['id']}")
    assert refused.status_code == 404
    assert refused.json() == {"error": "NotFound", "detail": "No source with that id."}
    assert analyst.get(f"/sources/{source['id']}/text").status_code == 404
    [refusal] = admin.get(
        "/audit", params={"target": source["id"], "actor": "bob@example.org"}
    ).json()["items"]
    assert refusal["outcome"] == "refused"
    assert "consent to archiving is not recorded" in refusal["detail"]["reason"]

    assert consent(alice, p17["id"], "archive", "2024-02-01").status_code == 201
    assert listed(bob) == [plain["id"], source["id"]]
    assert analyst.get(f"/sources/{source['id']}").status_code == 200
    # Archiving alone does not allow sharing the text with the wider team...
    text = analyst.get(f"/sources/{source['id']}/text")
    assert text.status_code == 403
    assert "P-017" in text.json()["detail"] and "share" in text.json()["detail"]
    # ... a consent with share_team does (the text then waits for de-identification).
    assert consent(alice, p17["id"], "archive,share_team", "2024-03-01").status_code == 201
    assert analyst.get(f"/sources/{source['id']}/text").status_code == 409
    # A newer consent without archiving restricts the material again.
    assert consent(alice, p17["id"], "transcribe", "2024-04-01").status_code == 201
    assert listed(analyst) == [plain["id"]]


def test_a_group_interview_needs_every_speakers_consent(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, bob = world(admin, clean, server)
    p17 = register(alice, "P-017")
    register(alice, "P-018")
    group = alice.upload(
        [("g.txt", b"Group interview.\n")],
        source_type="group_interview",
        site="RXA",
        participants="P-017=Nurse A,P-018=Nurse B",
    ).json()
    assert consent(alice, p17["id"], "archive,share_team", "2024-02-01").status_code == 201
    assert group["id"] not in listed(bob)
    assert group["id"] in listed(alice)
