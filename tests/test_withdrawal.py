"""Withdrawal: erasure cascades through every table and bucket; retention closes the identifiable
tier; both leave an erasure report in the audit log."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import SQLModel

from service.audit import service as audit_service
from service.auth.models import Role
from service.runtime import Runtime
from tests import files
from tests.conftest import Api, LiveServer, make_user
from tests.test_participants import consent, world

MARKS = ("zebedee", "quiverfull")


def register(api: Api, code: str, name: str) -> dict:
    body = {"code": code, "site": "RXA", "role": "clinical", "identity": {"name": name}}
    response = api.post("/participants", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def consent_with_form(api: Api, participant_id: str, form: bytes) -> None:
    parts = [
        ("scopes", (None, "archive,transcribe,share_team")),
        ("given_on", (None, "2024-01-10")),
        ("file", ("consent.txt", form, "text/plain")),
    ]
    response = api.http.post(f"/participants/{participant_id}/consents", files=parts)
    assert response.status_code == 201, response.text


def everything_stored(runtime: Runtime) -> str:
    """Every row of every table and every object in both buckets, as one lower-case text."""
    found = []
    with runtime.engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            found += [str(row) for row in conn.execute(text(f"SELECT * FROM {table.name}"))]
    store = runtime.store
    for bucket in (store.originals, store.derived):
        for obj in store.client.list_objects(bucket, recursive=True):
            assert obj.object_name is not None
            found.append(obj.object_name)
            found.append(store.get_bytes(bucket, obj.object_name).decode("utf-8", "replace"))
    return "\n".join(found).lower()


def planted_world(admin: Api, clean: Runtime, server: LiveServer) -> tuple[Api, dict, dict, dict]:
    alice, _ = world(admin, clean, server)
    p17 = register(alice, "P-017", "Zebedee Quiverfull")
    p18 = register(alice, "P-018", "Ann Other")
    consent_with_form(alice, p17["id"], b"Consent form signed by Zebedee Quiverfull.\n")
    consent_with_form(alice, p18["id"], b"Consent form signed by A. Other.\n")
    solo = alice.upload(
        [("interview-17.txt", b"Zebedee Quiverfull said the rota was unworkable.\n")],
        site="RXA",
        participants="P-017",
    ).json()
    vtt = files.make_vtt(
        [
            (0.0, 3.0, "Nurse A", "My name is Zebedee Quiverfull and I run the ward."),
            (3.0, 6.0, "Nurse B", "The pharmacy team agreed to the new rota."),
            (6.0, 9.0, "Nurse A", "Quiverfull is my surname, as I said."),
        ]
    )
    group = alice.upload(
        [("group.vtt", vtt)],
        source_type="group_interview",
        site="RXA",
        participants="P-017=Nurse A,P-018=Nurse B",
    ).json()
    for source in (solo, group):
        assert alice.wait(source["id"])["status"] == "ready"
    assert all(mark in everything_stored(clean) for mark in MARKS)  # the plant took
    return alice, p17, solo, group


def test_erasure_leaves_no_trace_and_keeps_the_others_words(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, p17, solo, group = planted_world(admin, clean, server)
    response = alice.post(f"/participants/{p17['id']}/withdraw", json={"mode": "erase"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["withdrawal_mode"] == "erase" and body["withdrawn_at"]

    stored = everything_stored(clean)
    for mark in MARKS:
        assert mark not in stored, f"{mark!r} survived the erasure"

    assert alice.get(f"/sources/{solo['id']}").status_code == 404
    kept = alice.get(f"/sources/{group['id']}/text", params={"form": "identifiable"}).text
    assert kept == "The pharmacy team agreed to the new rota."
    doc = alice.get(
        f"/sources/{group['id']}/text", params={"form": "identifiable", "format": "json"}
    ).json()
    [segment] = doc["parts"][0]["elements"]
    assert (segment["speaker"], segment["start"], segment["start_time"]) == ("Nurse B", 0, 3.0)
    source = alice.get(f"/sources/{group['id']}").json()
    assert [p["code"] for p in source["participants"]] == ["P-018"]
    [original] = source["files"]
    assert original["erased_at"] and original["original_filename"] is None
    gone = alice.get(f"/sources/{group['id']}/files/{original['id']}/content")
    assert gone.status_code == 410
    assert (
        alice.get(f"/participants/{p17['id']}", params={"identity": "true"}).json()["identity"]
        is None
    )

    [event] = admin.get("/audit", params={"action": "participant.withdraw"}).json()["items"]
    report = event["detail"]
    assert event["actor"] == "alice@example.org"
    assert report["mode"] == "erase"
    assert [d["source_id"] for d in report["sources_deleted"]] == [solo["id"]]
    assert report["sources_deleted"][0]["files"][0]["sha256"] == solo["files"][0]["sha256"]
    [cut] = report["group_sources_cut"]
    assert (cut["source_id"], cut["segments_removed"]) == (group["id"], 2)
    assert cut["files"][0]["sha256"] == group["files"][0]["sha256"]
    assert len(report["consent_forms_removed"]) == 1
    assert report["identity_erased"] is True
    assert audit_service.verify(engine=clean.engine, key=clean.audit_key).ok

    again = alice.post(f"/participants/{p17['id']}/withdraw", json={"mode": "erase"})
    assert again.status_code == 409
    assert "already withdrew" in again.json()["detail"]
    relink = alice.put(
        f"/sources/{group['id']}/participants", json={"participants": [{"code": "P-017"}]}
    )
    assert relink.status_code == 409


def test_retaining_deidentified_material_closes_the_identifiable_tier(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, p17, solo, group = planted_world(admin, clean, server)
    analyst = Api(server.url, make_user(clean, Role.analyst), clean)
    assert analyst.get(f"/sources/{solo['id']}").status_code == 200
    response = alice.post(
        f"/participants/{p17['id']}/withdraw", json={"mode": "retain_deidentified"}
    )
    assert response.status_code == 200, response.text
    stored = everything_stored(clean)
    assert "consent form signed by zebedee" not in stored  # the form is gone
    assert alice.get(f"/sources/{solo['id']}").status_code == 200  # the material stays
    assert analyst.get(f"/sources/{solo['id']}").status_code == 403  # but not for sharing
    [event] = admin.get("/audit", params={"action": "participant.withdraw"}).json()["items"]
    assert event["detail"]["mode"] == "retain_deidentified"
    assert "sources_deleted" not in event["detail"]


def test_bad_withdrawals_are_refused(admin: Api, clean: Runtime, server: LiveServer) -> None:
    alice, bob = world(admin, clean, server)
    p17 = register(alice, "P-017", "Someone")
    url = f"/participants/{p17['id']}/withdraw"
    assert alice.post(url, json={"mode": "forget"}).status_code == 422
    assert alice.post(url, json={}).status_code == 422
    assert bob.post(url, json={"mode": "erase"}).status_code == 403
    missing = "/participants/01a21000-0000-7000-8000-000000000000/withdraw"
    assert alice.post(missing, json={"mode": "erase"}).status_code == 404
    assert alice.get(f"/participants/{p17['id']}").json()["withdrawn_at"] is None
    assert consent(alice, p17["id"], "archive", "2024-01-01").status_code == 201
