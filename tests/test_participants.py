"""Participants: pseudonymous codes, encrypted identities for those entitled, consent history,
and their links to sources."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import text

from service.auth.models import Role
from service.runtime import Runtime
from tests import files
from tests.conftest import Api, LiveServer, all_objects, make_user

IDENTITY = {"name": "Rosalind Quarrington", "aliases": ["Ros Q"], "contact": "07700 900123"}


def world(admin: Api, clean: Runtime, server: LiveServer) -> tuple[Api, Api]:
    """Sites RXA and RXB, with a researcher at each."""
    for code in ("RXA", "RXB"):
        assert admin.post("/sites", json={"code": code, "name": code}).status_code == 201
    alice = Api(server.url, make_user(clean, Role.researcher, "alice@example.org", ["RXA"]), clean)
    bob = Api(server.url, make_user(clean, Role.researcher, "bob@example.org", ["RXB"]), clean)
    return alice, bob


def register(api: Api, code: str = "P-017", site: str = "RXA", **extra) -> dict:
    body = {"code": code, "site": site, "role": "clinical", "identity": IDENTITY} | extra
    response = api.post("/participants", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_identity_is_encrypted_and_shown_only_to_those_entitled(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, bob = world(admin, clean, server)
    created = register(alice, role_detail="ward sister")
    assert created["identity"] is None
    assert created["role_detail"] == "ward sister"
    with clean.engine.connect() as conn:
        stored = " ".join(str(r) for r in conn.execute(text("SELECT * FROM participant")))
    assert "Rosalind" not in stored and "07700" not in stored

    url = f"/participants/{created['id']}"
    mine = alice.get(url, params={"identity": "true"})
    assert mine.status_code == 200
    assert mine.json()["identity"] == IDENTITY
    assert alice.get(url).json()["identity"] is None  # not unless asked
    assert bob.get(url).status_code == 200  # the code and role are metadata
    assert bob.get(url, params={"identity": "true"}).status_code == 403
    analyst = Api(server.url, make_user(clean, Role.analyst), clean)
    assert analyst.get(url, params={"identity": "true"}).status_code == 403
    assert admin.get(url, params={"identity": "true"}).json()["identity"] == IDENTITY

    reads = admin.get("/audit", params={"action": "participant.read_identity"}).json()["items"]
    assert {e["actor"] for e in reads} == {"alice@example.org", admin_email(admin)}
    refusals = admin.get("/audit", params={"target": created["id"]}).json()["items"]
    assert sum(e["outcome"] == "refused" for e in refusals) == 2
    listed = alice.get("/participants").json()["items"]
    assert [p["code"] for p in listed] == ["P-017"]
    assert listed[0]["identity"] is None


def admin_email(admin: Api) -> str:
    return admin.get("/users/me").json()["email"]


def test_bad_participants_are_refused(admin: Api, clean: Runtime, server: LiveServer) -> None:
    alice, bob = world(admin, clean, server)
    register(alice)
    for body, status in [
        ({"code": "p17", "site": "RXA", "role": "clinical"}, 422),
        ({"code": "P-017", "site": "RXA", "role": "clinical"}, 409),
        ({"code": "P-018", "site": "NOPE", "role": "clinical"}, 422),
        ({"code": "P-019", "site": "RXA", "role": "surgeon"}, 422),
        ({"code": "P-020", "site": "RXA", "role": "clinical", "identity": {"name": ""}}, 422),
        ({"code": "P-021", "site": "RXB", "role": "clinical"}, 403),
    ]:
        response = alice.post("/participants", json=body)
        assert response.status_code == status, (body, response.text)
    assert [p["code"] for p in admin.get("/participants").json()["items"]] == ["P-017"]


def test_update_changes_fields_and_the_audit_names_only_fields(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, bob = world(admin, clean, server)
    created = register(alice)
    url = f"/participants/{created['id']}"
    new_identity = {"name": "Rosalind Q. Smith", "aliases": [], "contact": None}
    response = alice.patch(url, json={"role": "managerial", "identity": new_identity})
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "managerial"
    assert alice.get(url, params={"identity": "true"}).json()["identity"] == new_identity
    assert bob.patch(url, json={"role": "other"}).status_code == 403
    assert alice.patch(url, json={"site": "RXB"}).status_code == 403
    assert alice.patch(url, json={"colour": "red"}).status_code == 422
    [event] = admin.get("/audit", params={"action": "participant.update"}).json()["items"]
    assert event["detail"] == {"fields": ["role", "identity"]}


def consent(api: Api, participant_id: str, scopes: str, given_on: str, form: bytes | None = None):
    # Always multipart, with or without the form (fields without a filename are plain fields).
    parts = [("scopes", (None, scopes)), ("given_on", (None, given_on))]
    if form:
        parts.append(("file", ("consent.pdf", form, "application/pdf")))
    return api.http.post(f"/participants/{participant_id}/consents", files=parts)


def test_consent_history_is_kept_and_the_form_is_an_original(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, _ = world(admin, clean, server)
    created = register(alice)
    form = files.make_pdf(["I agree to take part. Signed: R. Quarrington"])
    first = consent(alice, created["id"], "archive,transcribe,share_team", "2024-01-10", form)
    assert first.status_code == 201, first.text
    scopes = first.json()["consent"]["scopes"]
    assert scopes == {
        "archive": True,
        "transcribe": True,
        "share_team": True,
        "quote": False,
        "deposit": False,
    }
    assert first.json()["consent"]["form"]["media_type"] == "application/pdf"
    second = consent(alice, created["id"], "archive", "2024-06-01")
    assert second.status_code == 201
    assert second.json()["consent"]["scopes"]["share_team"] is False
    history = alice.get(f"/participants/{created['id']}/consents").json()
    assert [c["given_on"] for c in history] == ["2024-06-01", "2024-01-10"]
    forms = [k for k in all_objects(clean.store) if f"participants/{created['id']}/" in k]
    assert len(forms) == 1


def test_showing_role_detail_or_consent_dates_is_an_audited_read(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    """Role detail and consent dates are the identifiable tier of the participant's site: each
    response that shows any of them is one event, with ids and counts, never the values."""
    alice, bob = world(admin, clean, server)
    analyst = Api(server.url, make_user(clean, Role.analyst), clean)
    detailed = register(admin, role_detail="ward sister on the night shift")
    plain = register(admin, "P-018")  # no role detail and no consent: nothing to show
    assert consent(admin, detailed["id"], "archive", "2024-01-10").status_code == 201
    assert consent(admin, detailed["id"], "archive,quote", "2024-02-10").status_code == 201
    url = f"/participants/{detailed['id']}"

    listed = alice.get("/participants").json()["items"]
    assert [p["role_detail"] for p in listed] == ["ward sister on the night shift", None]
    assert alice.get(url).json()["consent"]["given_on"] == "2024-02-10"
    assert [c["given_on"] for c in alice.get(f"{url}/consents").json()] == [
        "2024-02-10",
        "2024-01-10",
    ]
    assert alice.get(f"/participants/{plain['id']}").json()["role_detail"] is None
    assert alice.get(f"/participants/{plain['id']}/consents").json() == []
    # Others see the metadata only, and nothing identifiable is recorded as read by them.
    for api in (bob, analyst):
        assert api.get("/participants").json()["items"][0]["role_detail"] is None
        assert api.get(url).json()["consent"]["given_on"] is None
        assert api.get(f"{url}/consents").json()[0]["given_on"] is None

    shown = admin.get("/audit", params={"action": "participants.identifiable_fields_read"}).json()[
        "items"
    ]
    shown = [e for e in reversed(shown) if e["actor"] != admin_email(admin)]
    assert {e["actor"] for e in shown} == {"alice@example.org"}
    assert [(e["target_type"], e["target_id"]) for e in shown] == [
        ("participant", detailed["id"])
    ] * 3
    assert [e["detail"] for e in shown] == [
        {"participants": [detailed["id"]], "role_details": 1, "consent_dates": 1},
        {"participants": [detailed["id"]], "role_details": 1, "consent_dates": 1},
        {"participants": [detailed["id"]], "role_details": 0, "consent_dates": 2},
    ]
    with clean.engine.connect() as conn:
        dump = " ".join(str(r) for r in conn.execute(text("SELECT * FROM audit_event")))
    assert "night shift" not in dump


def test_bad_consents_are_refused_and_leave_nothing(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, bob = world(admin, clean, server)
    created = register(alice)
    form = files.make_pdf(["Signed consent form"])
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    for scopes, given_on, status, phrase in [
        ("archive", tomorrow, 422, "future"),
        ("archive,telepathy", "2024-01-01", 422, "telepathy"),
        ("archive", "01/02/2024", 422, "not a date"),
    ]:
        response = consent(alice, created["id"], scopes, given_on, form)
        assert response.status_code == status, response.text
        assert phrase in response.json()["detail"]
    assert consent(bob, created["id"], "archive", "2024-01-01", form).status_code == 403
    assert all_objects(clean.store) == []
    assert alice.get(f"/participants/{created['id']}/consents").json() == []


def test_sources_link_participants_with_speaker_labels(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, _ = world(admin, clean, server)
    register(alice, "P-017")
    register(alice, "P-018", role="technical")
    vtt = files.make_vtt([(0.0, 2.0, "Nurse A", "Hello."), (2.0, 4.0, "Analyst B", "Hi.")])
    response = alice.upload(
        [("group.vtt", vtt)],
        source_type="group_interview",
        site="RXA",
        participants="P-017=Nurse A,P-018=Analyst B",
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["participants"] == [
        {"code": "P-017", "speaker_label": "Nurse A"},
        {"code": "P-018", "speaker_label": "Analyst B"},
    ]
    assert set(body["roles"]) == {"clinical", "technical"}
    solo = alice.upload([("solo.txt", b"One to one.\n")], site="RXA", participants="P-018").json()
    listed = alice.get("/sources", params={"participant": "P-017"}).json()["items"]
    assert [s["id"] for s in listed] == [body["id"]]
    both = alice.get("/sources", params={"participant": "p-018"}).json()["items"]
    assert [s["id"] for s in both] == [solo["id"], body["id"]]

    relinked = alice.put(
        f"/sources/{solo['id']}/participants",
        json={"participants": [{"code": "P-017", "speaker_label": "Interviewee"}]},
    )
    assert relinked.status_code == 200, relinked.text
    assert relinked.json()["participants"] == [{"code": "P-017", "speaker_label": "Interviewee"}]

    unknown = alice.upload([("x.txt", b"Notes.\n")], site="RXA", participants="P-999")
    assert unknown.status_code == 422
    assert "P-999" in unknown.json()["detail"]
    clash = alice.put(
        f"/sources/{solo['id']}/participants",
        json={
            "participants": [
                {"code": "P-017", "speaker_label": "Same"},
                {"code": "P-018", "speaker_label": "Same"},
            ]
        },
    )
    assert clash.status_code == 422
    malformed = alice.upload([("y.txt", b"Notes.\n")], site="RXA", participants="seventeen")
    assert malformed.status_code == 422
