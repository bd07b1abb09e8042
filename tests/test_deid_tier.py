"""The one rule for the de-identified tier: a source's de-identified text (every format, every
file) is served only when every one of its texts has been through detection and approved after
its newest change; speaker labels are text; work that began before a withdrawal or a deletion
writes nothing after it (issue 9, findings 1, 2 and 6)."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import text, update
from sqlmodel import select

from service.auth.models import Role
from service.db import transaction
from service.errors import Conflict
from service.runtime import Runtime
from service.texts import service as texts_service
from service.texts.models import ExtractedText
from tests import files
from tests.conftest import Api, LiveServer, all_objects, make_user
from tests.test_deid_workflow import decide_all, deid_ready
from tests.test_participants import consent, world
from tests.test_withdrawal import everything_stored

# A group interview: a linked participant (Nurse A), an interviewer, and a speaker whose label
# is a full name nobody linked.
CUES = [
    (0.0, 3.0, "Interviewer", "Thank you for joining the group today."),
    (3.0, 7.0, "Nurse A", "The new rota started in March on our ward."),
    (7.0, 11.0, "Dr Sarah Jones", "I agree, the handover improved a lot."),
    (11.0, 15.0, "Nurse A", "Sarah Jones said the same at the board."),
]


def analyst_of(clean: Runtime, server: LiveServer) -> Api:
    return Api(server.url, make_user(clean, Role.analyst), clean)


def group_source(alice: Api) -> dict:
    p17 = alice.post(
        "/participants",
        json={"code": "P-017", "site": "RXA", "role": "clinical", "identity": {"name": "Ann Bee"}},
    ).json()
    assert consent(alice, p17["id"], "archive,transcribe,share_team", "2024-01-10").status_code
    response = alice.upload(
        [("group.vtt", files.make_vtt(CUES))],
        source_type="group_interview",
        site="RXA",
        participants="P-017=Nurse A",
    )
    assert response.status_code == 201, response.text
    return deid_ready(alice, response.json()["id"])


def approve(api: Api, source_id: str) -> None:
    decide_all(api, source_id)
    response = api.post(f"/sources/{source_id}/redactions/approve")
    assert response.status_code == 200, response.text


def _person(alice: Api, code: str, name: str) -> dict:
    made = alice.post(
        "/participants",
        json={"code": code, "site": "RXA", "role": "clinical", "identity": {"name": name}},
    )
    assert made.status_code == 201, made.text
    assert consent(alice, made.json()["id"], "archive,share_team", "2024-01-10").status_code
    return made.json()


def nurses(alice: Api, cues: list[tuple[float, float, str, str]]) -> tuple[dict, Any]:
    """A group interview of P-017 (Zebedee Quiverfull, "Nurse A") and P-018 (Ann Other,
    "Nurse B") with these cues; the upload's response."""
    p17 = _person(alice, "P-017", "Zebedee Quiverfull")
    _person(alice, "P-018", "Ann Other")
    made = alice.upload(
        [("group.vtt", files.make_vtt(cues))],
        source_type="group_interview",
        site="RXA",
        participants="P-017=Nurse A,P-018=Nurse B",
    )
    assert made.status_code == 201, made.text
    return p17, made


def test_speaker_labels_never_reach_the_deidentified_tier(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, _ = world(admin, clean, server)
    analyst = analyst_of(clean, server)
    source = group_source(alice)
    sid = source["id"]

    # A label is text: the same name in the body is found, not allowed through.
    originals = [r["original"] for r in alice.get(f"/sources/{sid}/redactions").json()["items"]]
    assert any("Sarah Jones" in o for o in originals), originals
    approve(alice, sid)

    doc = analyst.get(f"/sources/{sid}/text", params={"format": "json"})
    assert doc.status_code == 200, doc.text
    speakers = [e["speaker"] for e in doc.json()["parts"][0]["elements"]]
    assert speakers == ["Interviewer", "[Participant 17]", "Speaker 1", "[Participant 17]"]
    vtt = analyst.get(f"/sources/{sid}/text", params={"format": "vtt"}).text
    plain = analyst.get(f"/sources/{sid}/text").text
    for shown in (doc.text, vtt, plain):
        assert "Sarah" not in shown and "Jones" not in shown and "Nurse A" not in shown
    assert "<v Speaker 1>" in vtt and "<v [Participant 17]>" in vtt

    # Which label is which participant is identifiable: analysts do not see it; the site does.
    seen = analyst.get(f"/sources/{sid}").json()
    assert "Nurse A" not in str(seen)
    assert all(link["speaker_label"] is None for link in seen["participants"])
    [link] = alice.get(f"/sources/{sid}").json()["participants"]
    assert link["speaker_label"] == "Nurse A"

    # Naming a speaker changes the text: back to review, and the name is never shown.
    named = alice.patch(
        f"/sources/{sid}/segments",
        json={"file_id": source["files"][0]["id"], "first": 0, "last": 0, "speaker": "Dr Who Else"},
    )
    assert named.status_code == 200, named.text
    assert alice.get(f"/sources/{sid}").json()["deid_status"] == "in_review"
    refused = analyst.get(f"/sources/{sid}/text", params={"format": "vtt"})
    assert refused.status_code == 409 and "review" in refused.json()["detail"]
    assert alice.post(f"/sources/{sid}/redactions/approve").status_code == 200
    vtt = analyst.get(f"/sources/{sid}/text", params={"format": "vtt"}).text
    assert "Who Else" not in vtt and "<v Speaker 1>" in vtt and "<v Speaker 2>" in vtt


def test_new_text_after_approval_waits_for_detection_and_review(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, _ = world(admin, clean, server)
    analyst = analyst_of(clean, server)
    source = group_source(alice)
    sid = source["id"]
    approve(alice, sid)
    assert analyst.get(f"/sources/{sid}/text").status_code == 200

    notes = b"Field notes. Afterwards Margaret Thompson rang from the ward office.\n"
    attached = alice.post(
        f"/sources/{sid}/files",
        files=[("file", ("notes.txt", notes, "text/plain"))],
        data={"file_kind": "notes"},
    )
    assert attached.status_code == 201, attached.text
    # From the attach on, nothing is served until the new text is detected and approved.
    for fmt in ("text", "json", "vtt"):
        response = analyst.get(f"/sources/{sid}/text", params={"format": fmt})
        assert response.status_code == 409, (fmt, response.text)
    for part in source["files"]:
        single = analyst.get(f"/sources/{sid}/text", params={"file_id": part["id"]})
        assert single.status_code == 409
    body = deid_ready(alice, sid)
    assert body["deid_status"] == "in_review"
    assert analyst.get(f"/sources/{sid}/text").status_code == 409
    approve(alice, sid)
    shown = analyst.get(f"/sources/{sid}/text")
    assert shown.status_code == 200
    assert "Thompson" not in shown.text and "Field notes" in shown.text


def test_a_text_detection_never_covered_is_not_served(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    """Whatever the source's flag says (a failed deidentify job, a restore from an old backup),
    a text whose current version detection has not covered is not served."""
    alice, _ = world(admin, clean, server)
    analyst = analyst_of(clean, server)
    source = group_source(alice)
    approve(alice, source["id"])
    with clean.engine.begin() as conn:
        conn.execute(update(ExtractedText).values(detected_version=None))
    response = analyst.get(f"/sources/{source['id']}/text")
    assert response.status_code == 409
    assert "detection" in response.json()["detail"]


class Gate:
    """Holds the first job that reaches its write, so a test can act in between, and notes what
    was stored right after that job's write was refused or done."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, store: Any) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()
        self.objects_after: list[str] = []
        original = texts_service._store_result

        def gated(*args: Any, **kwargs: Any) -> None:
            if self.reached.is_set():
                return original(*args, **kwargs)
            self.reached.set()
            assert self.release.wait(60)
            try:
                original(*args, **kwargs)
            finally:
                self.objects_after = all_objects(store)
                self.finished.set()

        monkeypatch.setattr(texts_service, "_store_result", gated)


def _wait_jobs_idle(clean: Runtime, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with clean.engine.connect() as conn:
            busy = conn.execute(
                text("SELECT count(*) FROM job WHERE status IN ('queued', 'running')")
            ).scalar_one()
        if not busy:
            return
        assert time.monotonic() < deadline, f"{busy} job(s) still busy"
        time.sleep(0.1)


def test_extraction_racing_an_erasure_writes_nothing(
    admin: Api, clean: Runtime, server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, _ = world(admin, clean, server)
    gate = Gate(monkeypatch, clean.store)
    p17, created = nurses(
        alice,
        [
            (0.0, 3.0, "Nurse A", "Zebedee here: quiverfull rotas are my doing."),
            (3.0, 6.0, "Nurse B", "The pharmacy team agreed to the new rota."),
        ],
    )
    assert gate.reached.wait(60)
    withdrawn = admin.post(f"/participants/{p17['id']}/withdraw", json={"mode": "erase"})
    assert withdrawn.status_code == 200, withdrawn.text
    gate.release.set()
    assert gate.finished.wait(60)
    # The job that began before the withdrawal wrote no text and left no object.
    assert not [o for o in gate.objects_after if "elements" in o]
    _wait_jobs_idle(clean)
    # Its words cannot be told apart yet: the source is held for an admin, who deletes it.
    sid = created.json()["id"]
    assert alice.get(f"/sources/{sid}").status_code == 404
    decided = admin.post(f"/sources/{sid}/withdrawal-hold", json={"decision": "delete"})
    assert decided.status_code in (200, 204), decided.text
    _wait_jobs_idle(clean)
    stored = everything_stored(clean)
    assert "zebedee" not in stored and "quiverfull" not in stored
    assert all_objects(clean.store) == []


def test_extraction_racing_a_deletion_leaves_no_object(
    admin: Api, clean: Runtime, server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = Gate(monkeypatch, clean.store)
    created = admin.upload([("notes.txt", b"Notes of a meeting about the rota.\n")])
    assert created.status_code == 201, created.text
    assert gate.reached.wait(60)
    assert admin.delete(f"/sources/{created.json()['id']}").status_code == 204
    gate.release.set()
    assert gate.finished.wait(60)
    _wait_jobs_idle(clean)
    assert all_objects(clean.store) == []


def test_two_writers_of_one_text_cannot_both_win(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    """A change computed from an old version of a text (a speaker named while a withdrawal cut
    segments) is refused and leaves no object, instead of restoring what was cut."""
    alice, _ = world(admin, clean, server)
    source = group_source(alice)
    with transaction(clean.engine) as session:
        stale_text = session.exec(
            select(ExtractedText).where(ExtractedText.source_id == uuid.UUID(source["id"]))
        ).one()
        session.expunge(stale_text)
    document = texts_service._read_document(clean.store, stale_text)
    # Someone else writes first.
    named = alice.patch(
        f"/sources/{source['id']}/segments",
        json={"file_id": source["files"][0]["id"], "first": 0, "last": 0, "speaker": "Chair"},
    )
    assert named.status_code == 200
    before = set(all_objects(clean.store))
    with pytest.raises(Conflict), transaction(clean.engine) as session:
        texts_service._replace_document(session, clean.store, stale_text, document)
    assert set(all_objects(clean.store)) == before
    doc = alice.get(
        f"/sources/{source['id']}/text", params={"form": "identifiable", "format": "json"}
    ).json()
    assert doc["parts"][0]["elements"][0]["speaker"] == "Chair"


@pytest.mark.slow
def test_a_recording_released_after_approval_returns_the_source_to_review(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    """Notes approved and published; the interview's recording, held for consent, is released
    and transcribed later: its transcript is new text, so analysts wait again."""
    from tests.test_recordings import SPEECH, participant, speak, wait_file

    alice, _ = world(admin, clean, server)
    analyst = analyst_of(clean, server)
    p17 = participant(alice, "archive,share_team")
    notes = b"Interview notes: the discharge team liked the shared care record.\n"
    created = alice.upload(
        [("interview.wav", speak(SPEECH)), ("notes.txt", notes)],
        file_kinds=["recording", "notes"],
        site="RXA",
        participants="P-017=Nurse A",
    )
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    wait_file(alice, sid, {"held"})
    deid_ready(alice, sid)
    approve(alice, sid)
    assert analyst.get(f"/sources/{sid}/text").status_code == 200

    given = consent(alice, p17["id"], "archive,transcribe,share_team", "2024-02-01")
    assert given.status_code == 201
    wait_file(alice, sid, {"complete"})
    refused = analyst.get(f"/sources/{sid}/text")
    assert refused.status_code == 409, refused.text
    assert deid_ready(alice, sid)["deid_status"] == "in_review"
    approve(alice, sid)
    shown = analyst.get(f"/sources/{sid}/text", params={"format": "json"}).json()
    assert len(shown["parts"]) == 2
    assert "943 476 5919" not in str(shown)


def test_parts_of_a_linked_speakers_name_are_found_in_the_body(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    """A label names its speaker, and so do its words alone: a surname said later in the
    interview, a first name another speaker uses."""
    alice, _ = world(admin, clean, server)
    _person(alice, "P-003", "Zoe Q")
    _person(alice, "P-008", "Bea Hollingsworth-Snape")
    vtt = files.make_vtt(
        [
            (0.0, 3.0, "Merrin Pennywhistle", "Pennywhistle is my surname, as I said."),
            (3.0, 6.0, "Interviewer", "Bea said the rota was fine, didn't she?"),
            (6.0, 9.0, "Bea", "I did, and Hollingsworth-Snape helped."),
        ]
    )
    made = alice.upload(
        [("group.vtt", vtt)],
        source_type="group_interview",
        site="RXA",
        participants="P-003=Merrin Pennywhistle,P-008=Bea",
    )
    assert made.status_code == 201, made.text
    sid = deid_ready(alice, made.json()["id"])["id"]
    found = {r["original"] for r in alice.get(f"/sources/{sid}/redactions").json()["items"]}
    assert {"Pennywhistle", "Bea", "Hollingsworth-Snape"} <= found, found
    approve(alice, sid)
    analyst = analyst_of(clean, server)
    shown = analyst.get(f"/sources/{sid}/text", params={"format": "vtt"}).text
    for word in ("Pennywhistle", "Merrin", "Hollingsworth", "Bea"):
        assert word not in shown, shown


def test_a_retained_sources_redactions_cannot_be_undone(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    """Retention closes the identifiable tier for everyone: rejecting a redaction would publish
    the words under it, and new material would be reviewed blind beside theirs."""
    alice, _ = world(admin, clean, server)
    analyst = analyst_of(clean, server)
    p17 = _person(alice, "P-017", "Zebedee Quiverfull")
    made = alice.upload(
        [("interview.txt", b"Zebedee Quiverfull said the rota was unworkable on the ward.\n")],
        site="RXA",
        participants="P-017",
    )
    sid = deid_ready(alice, made.json()["id"])["id"]
    approve(alice, sid)
    retained = admin.post(
        f"/participants/{p17['id']}/withdraw", json={"mode": "retain_deidentified"}
    )
    assert retained.status_code == 200, retained.text
    redactions = alice.get(f"/sources/{sid}/redactions").json()["items"]
    person = next(r for r in redactions if r["entity_type"] == "PERSON")
    for api in (alice, admin):
        undo = api.patch(f"/sources/{sid}/redactions/{person['id']}", json={"status": "rejected"})
        assert undo.status_code == 403, undo.text
        more = api.http.post(
            f"/sources/{sid}/files", files=[("file", ("more.txt", b"More notes.\n", "text/plain"))]
        )
        assert more.status_code == 403, more.text
    shown = analyst.get(f"/sources/{sid}/text")
    assert shown.status_code == 200 and "Quiverfull" not in shown.text


def test_erasure_keeps_the_redactions_of_the_others_words(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    """Cutting a withdrawn participant's segments keeps what reviewers decided about the rest:
    their name in another speaker's turn stays redacted, although their identity is gone."""
    alice, _ = world(admin, clean, server)
    analyst = analyst_of(clean, server)
    p17, made = nurses(
        alice,
        [
            (0.0, 3.0, "Nurse A", "I ran the ward rota for a year."),
            (3.0, 6.0, "Nurse B", "Zebedee Quiverfull is right about the rota."),
        ],
    )
    sid = deid_ready(alice, made.json()["id"])["id"]
    approve(alice, sid)
    erased = admin.post(f"/participants/{p17['id']}/withdraw", json={"mode": "erase"})
    assert erased.status_code == 200, erased.text
    body = alice.get(f"/sources/{sid}").json()
    assert body["deid_status"] == "in_review"
    assert analyst.get(f"/sources/{sid}/text").status_code == 409
    kept = alice.get(f"/sources/{sid}/redactions").json()["items"]
    assert [r["original"] for r in kept if r["status"] == "accepted"] == ["Zebedee Quiverfull"]
    assert alice.post(f"/sources/{sid}/redactions/approve").status_code == 200
    shown = analyst.get(f"/sources/{sid}/text").text
    assert shown.endswith("is right about the rota.")
    assert "Zebedee" not in shown and "Quiverfull" not in shown and "ward rota" not in shown


def test_titles_and_tags_may_not_name_a_known_person(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    """Titles and tags are metadata every user sees and nothing de-identifies: a careless title
    naming a participant, a speaker or a person a reviewer confirmed is refused, and nothing is
    stored."""
    alice, _ = world(admin, clean, server)
    _person(alice, "P-017", "Rosalind Quarrington")
    note = [("notes.txt", b"Notes of the meeting about the rota.\n")]
    for fields in (
        {"title": "Interview with Rosalind Quarrington"},
        {"title": "quarrington follow-up"},
        {"title": "Interview 4", "tags": "pilot,Rosalind"},
        {"title": "Interview with Merrin", "participants": "P-017=Merrin Pennywhistle"},
    ):
        refused = alice.upload(note, site="RXA", **fields)
        assert refused.status_code == 422, (fields, refused.text)
        assert "Quarrington" not in refused.text and "Merrin" not in refused.text
    assert all_objects(clean.store) == []
    assert alice.get("/sources").json()["items"] == []

    # A name a reviewer confirmed anywhere in the project is known too.
    made = alice.upload(
        [("notes.txt", b"Notes: Cornelius Fairweather chaired the meeting.\n")], site="RXA"
    )
    sid = deid_ready(alice, made.json()["id"])["id"]
    approve(alice, sid)
    again = alice.upload(note, site="RXA", title="Follow-up with Cornelius Fairweather")
    assert again.status_code == 422
    fine = alice.upload(note, site="RXA", title="Interview 17", tags="pilot,EPR")
    assert fine.status_code == 201, fine.text
