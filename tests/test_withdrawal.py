"""Withdrawal: erasure cascades through every table and bucket; retention closes the identifiable
tier; both leave an erasure report in the audit log."""

from __future__ import annotations

import csv
import io
import logging
import shutil
import time

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

from service.audit import service as audit_service
from service.auth.models import Role
from service.participants.identity import IdentityCipher
from service.runtime import Runtime
from tests import files
from tests.conftest import TEST_IDENTITY_KEY, Api, LiveServer, make_user
from tests.test_deid_workflow import decide_all, deid_ready
from tests.test_participants import admin_email, consent, world

MARKS = ("zebedee", "quiverfull")


def register(api: Api, code: str, name: str, site: str = "RXA") -> dict:
    body = {
        "code": code,
        "site": site,
        "role": "clinical",
        "role_detail": f"ward sister, known as {name}",
        "identity": {"name": name},
    }
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
    """Every row of every table, with every encrypted column decrypted, and every object in
    both buckets (name and bytes), as one lower-case text."""
    cipher = IdentityCipher([TEST_IDENTITY_KEY])
    found = []
    with runtime.engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in conn.execute(text(f"SELECT * FROM {table.name}")).mappings():
                found.append(str(dict(row)))
                found += [
                    cipher.decrypt_text(value)
                    for name, value in row.items()
                    if name.endswith("_ciphertext") and value
                ]
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
    admin: Api, clean: Runtime, server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="service")
    caplog.set_level(logging.DEBUG, logger="workers")
    alice, p17, solo, group = planted_world(admin, clean, server)
    renderings = [
        f"{source['id']}/{source['files'][0]['id']}/deidentified-{ms}.ogg"
        for source in (solo, group)
        for ms in (1700000000000, 1700000999000)  # an old approval's rendering, and the latest
    ]
    for key in renderings:
        clean.store.put_bytes(clean.store.derived, key, b"OggS their voice", "audio/ogg")
    note = "Zebedee Quiverfull phoned the ward on 2 May and asked to leave."
    asked = alice.post(
        f"/participants/{p17['id']}/withdrawal-requests", json={"mode": "erase", "note": note}
    )
    assert asked.status_code == 201, asked.text
    assert asked.json()["note"] is None  # shown to admins only
    assert alice.get(f"/participants/{p17['id']}").json()["withdrawal_request"]["mode"] == "erase"
    assert alice.get("/withdrawal-requests").status_code == 403
    [pending] = admin.get("/withdrawal-requests").json()["items"]
    assert (pending["participant_code"], pending["note"]) == ("P-017", note)
    refused = alice.post(f"/participants/{p17['id']}/withdraw", json={"mode": "erase"})
    assert refused.status_code == 403  # only admins destroy

    response = admin.post(f"/participants/{p17['id']}/withdraw", json={"mode": "erase"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["withdrawal_mode"] == "erase" and body["withdrawn_at"]
    assert body["withdrawal_request"] is None and body["role_detail"] is None
    assert admin.get("/withdrawal-requests").json()["items"] == []
    [closed] = admin.get("/withdrawal-requests", params={"state": "closed"}).json()["items"]
    assert closed["closed_at"] and closed["note"] is None

    stored = everything_stored(clean)
    for mark in MARKS:
        assert mark not in stored, f"{mark!r} survived the erasure"
        assert mark not in caplog.text.lower(), f"{mark!r} was logged"
    assert not any(clean.store.exists(clean.store.derived, key) for key in renderings)

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
    assert event["actor"] == admin_email(admin)
    assert report["mode"] == "erase"
    assert [d["source_id"] for d in report["sources_deleted"]] == [solo["id"]]
    assert report["sources_deleted"][0]["files"][0]["sha256"] == solo["files"][0]["sha256"]
    [cut] = report["group_sources_cut"]
    assert (cut["source_id"], cut["segments_removed"]) == (group["id"], 2)
    assert cut["files"][0]["sha256"] == group["files"][0]["sha256"]
    assert len(report["consent_forms_removed"]) == 1
    assert report["identity_erased"] is True and report["role_detail_erased"] is True
    assert report["requests_closed"] == [pending["id"]]
    assert report["sources_held"] == []
    assert audit_service.verify(engine=clean.engine, key=clean.audit_key).ok

    again = admin.post(f"/participants/{p17['id']}/withdraw", json={"mode": "erase"})
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
    response = admin.post(
        f"/participants/{p17['id']}/withdraw", json={"mode": "retain_deidentified"}
    )
    assert response.status_code == 200, response.text
    stored = everything_stored(clean)
    assert "consent form signed by zebedee" not in stored  # the form is gone
    assert alice.get(f"/sources/{solo['id']}").status_code == 200  # the material stays
    # ... for de-identified use under the consent they gave (archive, share_team).
    assert analyst.get(f"/sources/{solo['id']}").status_code == 200
    [event] = admin.get("/audit", params={"action": "participant.withdraw"}).json()["items"]
    assert event["detail"]["mode"] == "retain_deidentified"
    assert "sources_deleted" not in event["detail"]


def test_bad_withdrawals_are_refused(admin: Api, clean: Runtime, server: LiveServer) -> None:
    alice, bob = world(admin, clean, server)
    p17 = register(alice, "P-017", "Someone")
    url = f"/participants/{p17['id']}/withdraw"
    assert admin.post(url, json={"mode": "forget"}).status_code == 422
    assert admin.post(url, json={}).status_code == 422
    assert bob.post(url, json={"mode": "erase"}).status_code == 403
    assert alice.post(url, json={"mode": "erase"}).status_code == 403
    missing = "/participants/01a21000-0000-7000-8000-000000000000/withdraw"
    assert admin.post(missing, json={"mode": "erase"}).status_code == 404
    requests = f"/participants/{p17['id']}/withdrawal-requests"
    assert bob.post(requests, json={"mode": "erase"}).status_code == 403
    assert alice.post(requests, json={"mode": "forget"}).status_code == 422
    assert alice.post(requests, json={"mode": "erase"}).status_code == 201
    assert alice.post(requests, json={"mode": "erase"}).status_code == 409  # one open at a time
    assert alice.get(f"/participants/{p17['id']}").json()["withdrawn_at"] is None
    assert consent(alice, p17["id"], "archive", "2024-01-01").status_code == 201


# -- finding 3: a researcher could destroy any source by withdrawing a dummy ------------------


def test_a_researcher_cannot_destroy_a_source_through_a_dummy_participant(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, _ = world(admin, clean, server)
    national = admin.upload(
        [("n.txt", b"National policy notes.\n")], title="Policy", level="national"
    ).json()
    local = admin.upload([("l.txt", b"Local notes.\n")], site="RXA").json()
    for number, source in enumerate((national, local)):
        dummy = register(alice, f"P-09{number}", "Nobody At All")
        links = {"participants": [{"code": dummy["code"]}]}
        assert alice.put(f"/sources/{source['id']}/participants", json=links).status_code == 200
        refused = alice.post(f"/participants/{dummy['id']}/withdraw", json={"mode": "erase"})
        assert refused.status_code == 403, refused.text
        assert admin.get(f"/sources/{source['id']}").status_code == 200
        assert alice.get(f"/participants/{dummy['id']}").json()["withdrawn_at"] is None


# -- finding 4: retain_deidentified was inverted ---------------------------------------------


def test_retaining_closes_every_identifiable_route_and_keeps_the_deidentified_text(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, p17, solo, group = planted_world(admin, clean, server)
    analyst = Api(server.url, make_user(clean, Role.analyst), clean)
    for source in (solo, group):
        deid_ready(alice, source["id"])
        decide_all(alice, source["id"])
        assert alice.post(f"/sources/{source['id']}/redactions/approve").status_code == 200
    [recording_like] = solo["files"]
    rendering = f"{solo['id']}/{recording_like['id']}/deidentified-1700000000000.ogg"
    clean.store.put_bytes(clean.store.derived, rendering, b"OggS voice", "audio/ogg")

    response = admin.post(
        f"/participants/{p17['id']}/withdraw", json={"mode": "retain_deidentified"}
    )
    assert response.status_code == 200, response.text

    for api in (alice, admin):
        for source in (solo, group):
            url = f"/sources/{source['id']}"
            file_id = source["files"][0]["id"]
            assert api.get(f"{url}/files/{file_id}/content").status_code == 403
            for params in ({"form": "identifiable"}, {"form": "identifiable", "format": "json"}):
                assert api.get(f"{url}/text", params=params).status_code == 403
            segments = {"file_id": file_id, "first": 0, "last": 0, "speaker": "X"}
            assert api.patch(f"{url}/segments", json=segments).status_code == 403
            audio = api.get(f"{url}/files/{file_id}/deidentified-audio")
            assert audio.status_code == 403, audio.text
            described = api.get(url).json()
            assert all(f["original_filename"] is None for f in described["files"])
            listed = api.get(f"{url}/redactions").json()["items"]
            assert listed and all(r["original"] is None for r in listed)
            log = api.get(f"{url}/anonymisation-log.csv")
            assert log.status_code == 200
            assert all(not row["original"] for row in csv.DictReader(io.StringIO(log.text)))
    project = admin.get("/anonymisation-log.csv").text
    assert "quiverfull" not in project.lower()
    assert not clean.store.exists(clean.store.derived, rendering)  # their voice is gone

    # The de-identified text stays available under the consent they gave.
    for api in (analyst, alice, admin):
        shared = api.get(f"/sources/{solo['id']}/text")
        assert shared.status_code == 200, shared.text
        assert "[Participant 17]" in shared.text and "Quiverfull" not in shared.text
    assert analyst.get("/sources").json()["items"]


# -- finding 5: erasure left the participant behind ------------------------------------------


def test_erasure_holds_what_cannot_be_separated_until_an_admin_decides(
    admin: Api, clean: Runtime, server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="service")
    caplog.set_level(logging.DEBUG, logger="workers")
    alice, _ = world(admin, clean, server)
    analyst = Api(server.url, make_user(clean, Role.analyst), clean)
    p17 = register(alice, "P-017", "Zebedee Quiverfull")
    p18 = register(alice, "P-018", "Ann Other")
    for participant in (p17, p18):
        consent_with_form(alice, participant["id"], b"Signed.\n")
    # A transcript whose segments carry no speaker: whose words are whose is unknown.
    unlabelled = files.make_vtt(
        [
            (0.0, 3.0, None, "My name is Zebedee Quiverfull and I run the ward."),
            (3.0, 6.0, None, "The pharmacy team agreed to the new rota."),
            (6.0, 9.0, None, "Thank you, Zebedee."),
        ]
    )
    group = alice.upload(
        [("group.vtt", unlabelled)],
        source_type="group_interview",
        site="RXA",
        participants="P-017=Nurse A,P-018=Nurse B",
    ).json()
    assert alice.wait(group["id"])["status"] == "ready"
    deid_ready(alice, group["id"])
    # The first name alone, marked by the detector or by a person: the registry then holds
    # "zebedee" as a PERSON term of its own.
    text = alice.get(f"/sources/{group['id']}/text", params={"form": "identifiable"}).text
    start = text.index("Zebedee.")
    covered = [
        r
        for r in alice.get(f"/sources/{group['id']}/redactions").json()["items"]
        if r["start"] <= start < r["end"]
    ]
    if not covered:
        marked = alice.post(
            f"/sources/{group['id']}/redactions",
            json={
                "file_id": group["files"][0]["id"],
                "start": start,
                "end": start + 7,
                "entity_type": "PERSON",
            },
        )
        assert marked.status_code == 201, marked.text
    decide_all(alice, group["id"])
    assert alice.post(f"/sources/{group['id']}/redactions/approve").status_code == 200
    rendering = f"{group['id']}/{group['files'][0]['id']}/deidentified-1700000000000.ogg"
    clean.store.put_bytes(clean.store.derived, rendering, b"OggS voice", "audio/ogg")

    response = admin.post(f"/participants/{p17['id']}/withdraw", json={"mode": "erase"})
    assert response.status_code == 200, response.text
    [event] = admin.get("/audit", params={"action": "participant.withdraw"}).json()["items"]
    [held] = event["detail"]["sources_held"]
    assert held["source_id"] == group["id"]
    assert event["detail"]["group_sources_cut"] == []
    # Hidden from everyone but admins, in every route.
    for api in (alice, analyst):
        assert api.get(f"/sources/{group['id']}").status_code == 404
        assert group["id"] not in [s["id"] for s in api.get("/sources").json()["items"]]
    shown = admin.get(f"/sources/{group['id']}").json()
    assert shown["withdrawal_hold"]["reason"]
    assert not clean.store.exists(clean.store.derived, rendering)  # their voice is gone
    assert (
        alice.post(
            f"/sources/{group['id']}/withdrawal-hold", json={"decision": "delete"}
        ).status_code
        == 403
    )
    decided = admin.post(f"/sources/{group['id']}/withdrawal-hold", json={"decision": "delete"})
    assert decided.status_code == 200, decided.text
    assert admin.get(f"/sources/{group['id']}").status_code == 404

    stored = everything_stored(clean)
    for mark in MARKS:
        assert mark not in stored, f"{mark!r} survived the erasure"
        assert mark not in caplog.text.lower(), f"{mark!r} was logged"


def test_listing_redactions_creates_no_registry_rows(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, _ = world(admin, clean, server)
    source = alice.upload([("n.txt", b"Notes on the rota, by the ward clerk.\n")], site="RXA")
    source_id = source.json()["id"]
    deid_ready(alice, source_id)
    file_id = source.json()["files"][0]["id"]
    text = alice.get(f"/sources/{source_id}/text", params={"form": "identifiable"}).text
    start = text.index("ward clerk")
    body = {"file_id": file_id, "start": start, "end": start + 10, "entity_type": "PERSON"}
    added = alice.post(f"/sources/{source_id}/redactions", json=body)
    assert added.status_code == 201, added.text
    assert alice.patch(
        f"/sources/{source_id}/redactions/{added.json()['id']}", json={"status": "rejected"}
    ).is_success
    for _ in range(2):
        assert alice.get(f"/sources/{source_id}/redactions").status_code == 200
        assert alice.get(f"/sources/{source_id}/anonymisation-log.csv").status_code == 200
    assert [p for p in admin.get("/pseudonyms").json() if p["term"] == "ward clerk"] == []


def test_a_link_s_participant_belongs_to_the_source_s_site(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, bob = world(admin, clean, server)
    register(alice, "P-017", "Ann Alpha")
    register(bob, "P-018", "Bea Beta", site="RXB")
    mine = alice.upload([("a.txt", b"Notes at RXA.\n")], site="RXA").json()
    national = alice.upload(
        [("n.txt", b"National notes.\n")], title="National", level="national"
    ).json()
    url = f"/sources/{mine['id']}/participants"
    foreign = {"participants": [{"code": "P-018"}]}
    refused = alice.put(url, json=foreign)
    assert refused.status_code == 403, refused.text
    assert "P-018" in refused.json()["detail"]
    upload = alice.upload([("b.txt", b"More notes.\n")], site="RXA", participants="P-018")
    assert upload.status_code == 403
    # A source of no site takes the researcher's own participants, not another site's.
    assert alice.put(f"/sources/{national['id']}/participants", json=foreign).status_code == 403
    own = {"participants": [{"code": "P-017"}]}
    assert alice.put(f"/sources/{national['id']}/participants", json=own).status_code == 200
    # An admin may link across sites; a researcher may not then unlink that participant.
    both = {"participants": [{"code": "P-017"}, {"code": "P-018"}]}
    assert admin.put(url, json=both).status_code == 200
    assert alice.put(url, json=own).status_code == 403
    relabel = {"participants": [{"code": "P-017", "speaker_label": "Nurse A"}, {"code": "P-018"}]}
    assert alice.put(url, json=relabel).status_code == 200


def test_a_retained_participant_s_links_cannot_be_undone_to_reopen_the_tier(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, p17, solo, _ = planted_world(admin, clean, server)
    withdrawn = admin.post(
        f"/participants/{p17['id']}/withdraw", json={"mode": "retain_deidentified"}
    )
    assert withdrawn.status_code == 200, withdrawn.text
    url = f"/sources/{solo['id']}/participants"
    for api in (alice, admin):
        assert api.put(url, json={"participants": []}).status_code == 409
    file_id = solo["files"][0]["id"]
    assert alice.get(f"/sources/{solo['id']}/files/{file_id}/content").status_code == 403


def test_erasure_forgets_forms_of_their_name_and_others_text_does_not_change(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, _ = world(admin, clean, server)
    p17 = register(alice, "P-017", "Zebedee Quiverfull")
    consent_with_form(alice, p17["id"], b"Signed.\n")
    # Someone else's notes that mention the participant by title and surname.
    notes = alice.upload([("n.txt", b"Ms Quiverfull chaired the meeting.\n")], site="RXA").json()
    deid_ready(alice, notes["id"])
    for r in alice.get(f"/sources/{notes['id']}/redactions").json()["items"]:
        url = f"/sources/{notes['id']}/redactions/{r['id']}"
        assert alice.patch(url, json={"status": "rejected"}).is_success
    marked = alice.post(
        f"/sources/{notes['id']}/redactions",
        json={"file_id": notes["files"][0]["id"], "start": 0, "end": 14, "entity_type": "PERSON"},
    )
    assert marked.status_code == 201, marked.text
    assert alice.post(f"/sources/{notes['id']}/redactions/approve").status_code == 200
    before = alice.get(f"/sources/{notes['id']}/text").text
    assert "Quiverfull" not in before and before.startswith("[Person ")
    terms = {p["term"] for p in admin.get("/pseudonyms").json()}
    assert "ms quiverfull" in terms

    assert admin.post(f"/participants/{p17['id']}/withdraw", json={"mode": "erase"}).is_success
    terms = {p["term"] for p in admin.get("/pseudonyms").json()}
    assert not any("quiverfull" in term or "zebedee" in term for term in terms), terms
    assert alice.get(f"/sources/{notes['id']}/text").text == before
    # The notes are not theirs: they stay, with their words.
    assert (
        "Ms Quiverfull"
        in alice.get(f"/sources/{notes['id']}/text", params={"form": "identifiable"}).text
    )


def test_a_held_source_can_be_released_by_an_admin(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, _ = world(admin, clean, server)
    p17 = register(alice, "P-017", "Zebedee Quiverfull")
    register(alice, "P-018", "Ann Other")
    notes = alice.upload(
        [("o.txt", b"Observation of the ward huddle.\n")],
        source_type="observation",
        site="RXA",
        participants="P-017,P-018",
    ).json()
    assert alice.wait(notes["id"])["status"] == "ready"
    assert admin.post(f"/participants/{p17['id']}/withdraw", json={"mode": "erase"}).is_success
    assert alice.get(f"/sources/{notes['id']}").status_code == 404
    url = f"/sources/{notes['id']}/withdrawal-hold"
    assert admin.post(url, json={"decision": "keep"}).status_code == 422
    released = admin.post(url, json={"decision": "release"})
    assert released.status_code == 200, released.text
    assert released.json()["withdrawal_hold"] is None
    assert [p["code"] for p in released.json()["participants"]] == ["P-018"]
    assert alice.get(f"/sources/{notes['id']}").status_code == 200
    assert admin.post(url, json={"decision": "release"}).status_code == 409
    [event] = admin.get("/audit", params={"action": "source.withdrawal_hold"}).json()["items"]
    assert event["detail"] == {"decision": "release"}


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("ffmpeg") is None,
    reason="needs espeak-ng and ffmpeg (make test installs them)",
)
def test_erasure_removes_the_rendered_voice_of_a_group_recording(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    """A machine transcript names no speaker: the recording is held, and its de-identified
    audio, rendered by the real job, goes at once."""
    from tests.test_recordings import speak

    alice, _ = world(admin, clean, server)
    for code, name in (("P-017", "Zebedee Quiverfull"), ("P-018", "Ann Other")):
        participant = register(alice, code, name)
        consent_with_form(alice, participant["id"], b"Signed.\n")
    group = alice.upload(
        [("group.wav", speak("The pharmacy team agreed to the new rota on the ward."))],
        source_type="group_interview",
        site="RXA",
        participants="P-017=Nurse A,P-018=Nurse B",
    ).json()
    deid_ready(alice, group["id"], timeout=240)
    decide_all(alice, group["id"])
    assert alice.post(f"/sources/{group['id']}/redactions/approve").status_code == 200
    url = f"/sources/{group['id']}/files/{group['files'][0]['id']}/deidentified-audio"
    deadline = time.monotonic() + 120
    while (audio := alice.get(url)).status_code == 409:
        assert time.monotonic() < deadline, audio.text
        time.sleep(0.3)
    assert audio.status_code == 200, audio.text
    assert any("deidentified-" in k for k in clean.store.list_keys(clean.store.derived, ""))

    p17 = admin.get("/participants").json()["items"][0]
    assert admin.post(f"/participants/{p17['id']}/withdraw", json={"mode": "erase"}).is_success
    assert not any("deidentified-" in k for k in clean.store.list_keys(clean.store.derived, ""))
    assert alice.get(url).status_code == 404  # held: hidden from all but admins
    assert admin.get(url).status_code == 409  # and nothing to serve
    [event] = admin.get("/audit", params={"action": "participant.withdraw"}).json()["items"]
    [held] = event["detail"]["sources_held"]
    assert held["audio_renderings_removed"] == 1
