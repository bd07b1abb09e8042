"""De-identification through the API: detection after extraction, review, approval, consistent
pseudonyms across sources, offset maps, the anonymisation log and the registry."""

from __future__ import annotations

import csv
import io
import time

from service.auth.models import Role
from service.runtime import Runtime
from tests import files
from tests.conftest import Api, LiveServer, make_user
from tests.test_participants import consent, world

TRANSCRIPT = [
    (0.0, 4.0, "Interviewer", "Thanks for meeting me at St Elsewhere Hospital today."),
    (
        4.0,
        12.0,
        "Nurse A",
        "I'm Rosalind Quarrington, most people call me Ros. Dr Kenneth Oduya started the "
        "pilot with me; his NHS number is 943 476 5919 if you need it for the records.",
    ),
    (12.0, 18.0, "Nurse A", "You can ring me on 07700 900123 or email ros.q@example.org."),
]


def deid_ready(api: Api, source_id: str, timeout: float = 120) -> dict:
    """Wait until detection has run (the source leaves ``pending``)."""
    deadline = time.monotonic() + timeout
    while True:
        body = api.get(f"/sources/{source_id}").json()
        if body["status"] == "ready" and body["deid_status"] != "pending":
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


def setup(admin: Api, clean: Runtime, server: LiveServer) -> tuple[Api, Api, dict]:
    alice, _ = world(admin, clean, server)
    analyst = Api(server.url, make_user(clean, Role.analyst), clean)
    p17 = alice.post(
        "/participants",
        json={
            "code": "P-017",
            "site": "RXA",
            "role": "clinical",
            "identity": {"name": "Rosalind Quarrington", "aliases": ["Ros"]},
        },
    ).json()
    assert consent(alice, p17["id"], "archive,share_team", "2024-01-10").status_code == 201
    assert (
        admin.post(
            "/deid-terms", json={"text": "St Elsewhere Hospital", "entity_type": "HOSPITAL"}
        ).status_code
        == 201
    )
    response = alice.upload(
        [("interview.vtt", files.make_vtt(TRANSCRIPT))], site="RXA", participants="P-017=Nurse A"
    )
    assert response.status_code == 201, response.text
    source = deid_ready(alice, response.json()["id"])
    return alice, analyst, source


def decide_all(api: Api, source_id: str) -> list[dict]:
    items = api.get(f"/sources/{source_id}/redactions").json()["items"]
    for r in items:
        if r["status"] == "suggested":
            response = api.patch(
                f"/sources/{source_id}/redactions/{r['id']}", json={"status": "accepted"}
            )
            assert response.status_code == 200, response.text
    return api.get(f"/sources/{source_id}/redactions").json()["items"]


def test_review_then_analysts_get_consistent_pseudonyms(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, analyst, source = setup(admin, clean, server)
    assert source["deid_status"] == "in_review"
    waiting = analyst.get(f"/sources/{source['id']}/text")
    assert waiting.status_code == 409
    assert "awaiting review" in waiting.json()["detail"]

    redactions = decide_all(alice, source["id"])
    found = {r["original"]: (r["entity_type"], r["replacement"]) for r in redactions}
    assert found["Rosalind Quarrington"][1] == "[Participant 17]"
    assert found["Ros"][1] == "[Participant 17]"
    assert found["St Elsewhere Hospital"][0] == "HOSPITAL"
    assert found["943 476 5919"] == ("NHS_NUMBER", "[NHS number]")
    assert found["07700 900123"] == ("PHONE", "[Phone number]")
    assert found["ros.q@example.org"] == ("EMAIL", "[Email address]")
    assert any("Oduya" in original for original in found)

    approved = alice.post(f"/sources/{source['id']}/redactions/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["deid_status"] == "approved"
    assert alice.post(f"/sources/{source['id']}/redactions/approve").status_code == 409

    text = analyst.get(f"/sources/{source['id']}/text").text
    for identifier in (
        "Rosalind",
        "Quarrington",
        "Ros ",
        "Oduya",
        "943 476 5919",
        "07700",
        "ros.q@",
    ):
        assert identifier not in text, identifier
    assert "[Participant 17]" in text and "[NHS number]" in text
    # Reading the suggestions settles no pseudonym; the approval does.
    assert found["St Elsewhere Hospital"][1] == "[Trust]"
    settled = {r["original"]: r["replacement"] for r in approved.json()["items"]}
    hospital = settled["St Elsewhere Hospital"]
    assert hospital.startswith("[Trust ")

    doc = analyst.get(f"/sources/{source['id']}/text", params={"format": "json"}).json()
    [part] = doc["parts"]
    for element in part["elements"]:
        assert part["text"][element["start"] : element["end"]] == element["text"]
    assert {e["speaker"] for e in part["elements"]} == {"Interviewer", "[Participant 17]"}

    # The same hospital in another source gets the same pseudonym.
    other = alice.upload(
        [("notes.txt", b"The steering group met at St Elsewhere Hospital in March.\n")],
        site="RXA",
    ).json()
    deid_ready(alice, other["id"])
    decide_all(alice, other["id"])
    assert alice.post(f"/sources/{other['id']}/redactions/approve").status_code == 200
    assert hospital in analyst.get(f"/sources/{other['id']}/text").text


def test_manual_spans_edits_and_their_refusals(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, analyst, source = setup(admin, clean, server)
    decide_all(alice, source["id"])
    assert alice.post(f"/sources/{source['id']}/redactions/approve").status_code == 200
    file_id = source["files"][0]["id"]
    raw = alice.get(f"/sources/{source['id']}/text", params={"form": "identifiable"}).text
    start = raw.index("the pilot")
    url = f"/sources/{source['id']}/redactions"

    added = alice.post(
        url,
        json={
            "file_id": file_id,
            "start": start,
            "end": start + 9,
            "entity_type": "SYSTEM",
            "replacement": "[Project]",
        },
    )
    assert added.status_code == 201, added.text
    assert added.json()["original"] == "the pilot"
    # Editing an approved source takes it back to review.
    assert alice.get(f"/sources/{source['id']}").json()["deid_status"] == "in_review"
    assert analyst.get(f"/sources/{source['id']}/text").status_code == 409

    overlap = alice.post(
        url,
        json={"file_id": file_id, "start": start + 2, "end": start + 12, "entity_type": "SYSTEM"},
    )
    assert overlap.status_code == 409
    assert overlap.json()["redaction_id"] == added.json()["id"]
    outside = alice.post(
        url,
        json={
            "file_id": file_id,
            "start": len(raw) - 1,
            "end": len(raw) + 5,
            "entity_type": "DATE",
        },
    )
    assert outside.status_code == 422
    backwards = alice.post(
        url, json={"file_id": file_id, "start": 9, "end": 3, "entity_type": "DATE"}
    )
    assert backwards.status_code == 422
    unmarked = alice.post(
        url,
        json={"file_id": file_id, "start": 0, "end": 2, "entity_type": "DATE", "replacement": "x"},
    )
    assert unmarked.status_code == 422
    assert alice.patch(f"{url}/{added.json()['id']}", json={}).status_code == 422
    missing = alice.patch(
        f"{url}/01a21000-0000-7000-8000-000000000000", json={"status": "rejected"}
    )
    assert missing.status_code == 404
    assert (
        analyst.post(
            url, json={"file_id": file_id, "start": 0, "end": 2, "entity_type": "DATE"}
        ).status_code
        == 403
    )

    assert alice.post(f"{url}/approve").status_code == 200
    text = analyst.get(f"/sources/{source['id']}/text").text
    assert "[Project]" in text and "the pilot" not in text


def test_anonymisation_log_and_registry(admin: Api, clean: Runtime, server: LiveServer) -> None:
    alice, analyst, source = setup(admin, clean, server)
    decide_all(alice, source["id"])
    assert alice.post(f"/sources/{source['id']}/redactions/approve").status_code == 200

    log = alice.get(f"/sources/{source['id']}/anonymisation-log.csv")
    assert log.status_code == 200
    rows = list(csv.DictReader(io.StringIO(log.text)))
    assert {"Rosalind Quarrington", "07700 900123"} <= {r["original"] for r in rows}
    assert all(r["replacement"].startswith("[") for r in rows)
    assert analyst.get(f"/sources/{source['id']}/anonymisation-log.csv").status_code == 403
    project = admin.get("/anonymisation-log.csv")
    assert project.status_code == 200 and "Rosalind Quarrington" in project.text
    assert alice.get("/anonymisation-log.csv").status_code == 403

    registry = admin.get("/pseudonyms").json()
    hospital = next(p for p in registry if p["term"] == "st elsewhere hospital")
    assert alice.get("/pseudonyms").status_code == 403
    assert (
        admin.patch(f"/pseudonyms/{hospital['id']}", json={"replacement": "Trust Q"}).status_code
        == 422
    )
    renamed = admin.patch(f"/pseudonyms/{hospital['id']}", json={"replacement": "[Trust Q]"})
    assert renamed.status_code == 200
    assert "[Trust Q]" in analyst.get(f"/sources/{source['id']}/text").text
    assert any(e["action"] == "pseudonym.update" for e in admin.get("/audit").json()["items"])


def test_published_national_documents_skip_review(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    analyst = Api(server.url, make_user(clean, Role.analyst), clean)
    policy = b"National guidance. Contact the programme office on 07700 900456 for details.\n"
    body = admin.upload([("guidance.txt", policy)], source_type="document", level="national").json()
    done = deid_ready(admin, body["id"])
    assert done["deid_status"] == "approved"
    text = analyst.get(f"/sources/{body['id']}/text").text
    assert "07700 900456" not in text and "[Phone number]" in text


def test_empty_text_has_nothing_to_redact(admin: Api, clean: Runtime, server: LiveServer) -> None:
    body = admin.upload([("blank.docx", files.make_docx([]))], source_type="document").json()
    done = deid_ready(admin, body["id"])
    file_id = done["files"][0]["id"]
    span = admin.post(
        f"/sources/{body['id']}/redactions",
        json={"file_id": file_id, "start": 0, "end": 1, "entity_type": "DATE"},
    )
    assert span.status_code == 422
    assert "outside the text" in span.json()["detail"]
