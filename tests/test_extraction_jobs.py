"""Extraction through the API: every format ends ready with its text; every bad file ends failed
with a reason a person can act on, and the worker goes on to the next file."""

from __future__ import annotations

import pytest

from service.auth.models import Role
from service.runtime import Runtime
from tests import files
from tests.conftest import Api, make_user

PHRASE = "The discharge team trialled the shared care record"
CUES = [
    (0.0, 3.5, "Interviewer", "Can you tell me how the rollout went?"),
    (3.5, 9.25, "P-017", f"{PHRASE} for three months."),
]

FORMATS = {
    "pdf": lambda: files.make_pdf([f"{PHRASE} on ward 7.", "Page two of the minutes."]),
    "docx": lambda: files.make_docx(["Minutes", f"{PHRASE} in March."]),
    "doc": lambda: files.make_doc(["Minutes", f"{PHRASE} in March."]),
    "odt": lambda: files.make_odt(["Minutes", f"{PHRASE} in March."]),
    "rtf": lambda: files.make_rtf(["Minutes", f"{PHRASE} in March."]),
    "txt-cp1252": lambda: files.make_text(f"Café notes. {PHRASE} – again.\n", encoding="cp1252"),
    "txt-utf16": lambda: files.make_text(f"{PHRASE}.\n", encoding="utf-16", bom=True),
    "md": lambda: files.make_markdown(title="Notes", paragraphs=[f"{PHRASE}."], bullets=["one"]),
    "html": lambda: files.make_html(title="Bulletin", paragraphs=[f"{PHRASE}."]),
    "eml": lambda: files.make_eml(
        subject="Rollout", body=f"{PHRASE}.", sender="a@example.org", to="b@example.org"
    ),
    "msg": lambda: files.make_msg(
        subject="Rollout", body=f"{PHRASE}.", sender="a@example.org", to="b@example.org"
    ),
    "pptx": lambda: files.make_pptx([("Rollout", [f"{PHRASE}."])]),
    "xlsx": lambda: files.make_xlsx({"Log": [["Date", "Note"], ["2024-01-02", f"{PHRASE}"]]}),
    "csv": lambda: files.make_csv([["date", "note"], ["2024-01-02", PHRASE]]),
    "vtt": lambda: files.make_vtt(CUES),
    "srt": lambda: files.make_srt(CUES),
}

SUFFIX = {"txt-cp1252": "txt", "txt-utf16": "txt"}


def identifiable_text(api: Api, source_id: str) -> str:
    response = api.get(f"/sources/{source_id}/text", params={"form": "identifiable"})
    assert response.status_code == 200, response.text
    return response.text


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_each_format_is_extracted(researcher: Api, fmt: str) -> None:
    name = f"file.{SUFFIX.get(fmt, fmt)}"
    response = researcher.upload([(name, FORMATS[fmt]())], source_type="document")
    assert response.status_code == 201, response.text
    body = researcher.wait(response.json()["id"])
    assert body["status"] == "ready", body
    assert body["files"][0]["extraction_status"] == "complete"
    assert PHRASE in " ".join(identifiable_text(researcher, body["id"]).split())


def test_transcript_segments_keep_speaker_and_times(researcher: Api) -> None:
    body = researcher.upload([("interview.vtt", files.make_vtt(CUES))]).json()
    researcher.wait(body["id"])
    doc = researcher.get(
        f"/sources/{body['id']}/text", params={"form": "identifiable", "format": "json"}
    ).json()
    [part] = doc["parts"]
    segments = [e for e in part["elements"] if e["type"] == "Segment"]
    assert [(s["speaker"], s["start_time"], s["end_time"]) for s in segments] == [
        ("Interviewer", 0.0, 3.5),
        ("P-017", 3.5, 9.25),
    ]
    assert "-->" not in part["text"]
    assert part["text"][segments[1]["start"] : segments[1]["end"]] == segments[1]["text"]


BAD_FILES = {
    "encrypted.pdf": (files.make_encrypted_pdf, "password"),
    "truncated.pdf": (files.make_truncated_pdf, "damaged"),
    "bomb.docx": (files.make_zip_bomb_docx, "zip bomb"),
    "entities.docx": (files.make_xml_bomb_docx, "entit"),
    "traversal.docx": (files.make_traversal_docx, "outside"),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_bad_files_fail_with_a_reason_and_the_worker_goes_on(researcher: Api, name: str) -> None:
    make, phrase = BAD_FILES[name]
    body = researcher.upload([(name, make())], source_type="document").json()
    done = researcher.wait(body["id"])
    assert done["status"] == "failed"
    [file] = done["files"]
    assert file["extraction_status"] == "failed"
    assert phrase in file["extraction_reason"].lower(), file["extraction_reason"]
    assert f"File {file['id']}" in done["status_reason"]
    assert name not in done["status_reason"]  # filenames can name people
    job = researcher.get(f"/jobs/{file['job_id']}").json()
    assert job["status"] == "failed"
    assert job["attempts"] == 1  # a bad file is a result, not something to retry
    text = researcher.get(f"/sources/{body['id']}/text", params={"form": "identifiable"})
    assert text.status_code == 409
    # The worker is alive and well.
    after = researcher.upload([("ok.txt", b"Still working after that.\n")]).json()
    assert researcher.wait(after["id"])["status"] == "ready"


def test_scanned_pages_are_read_by_ocr(researcher: Api) -> None:
    pdf = files.make_scanned_pdf("Ward round notes", extra_text_page="A page with a text layer.")
    body = researcher.upload([("scan.pdf", pdf)], source_type="document").json()
    done = researcher.wait(body["id"], timeout=180)
    assert done["status"] == "ready", done
    assert done["files"][0]["extraction_status"] == "complete"
    text = identifiable_text(researcher, body["id"])
    assert "Ward round" in text
    assert "text layer" in text
    doc = researcher.get(
        f"/sources/{body['id']}/text", params={"form": "identifiable", "format": "json"}
    ).json()
    assert doc["parts"][0]["ocr_pages"] == [1]


def test_without_ocr_scanned_pages_are_listed(clean: Runtime, make_server) -> None:
    live, _ = make_server(tesseract_cmd="/nonexistent/tesseract")
    api = Api(live.url, make_user(clean, Role.researcher), clean)
    pdf = files.make_scanned_pdf("Ward round notes", extra_text_page="A page with a text layer.")
    body = api.upload([("scan.pdf", pdf)], source_type="document").json()
    done = api.wait(body["id"])
    assert done["status"] == "ready"
    [file] = done["files"]
    assert file["extraction_status"] == "partial"
    assert file["pages_without_text"] == [1]
    assert "page(s) 1" in done["status_reason"]
    assert "text layer" in identifiable_text(api, body["id"])


def test_a_recording_is_transcribed_not_extracted(researcher: Api) -> None:
    response = researcher.upload([("interview.wav", files.make_wav(seconds=1.0))])
    assert response.status_code == 201, response.text
    body = response.json()
    [file] = body["files"]
    assert file["media_type"] == "audio/wav"
    assert file["kind"] == "recording"
    job = researcher.get(f"/jobs/{file['job_id']}").json()
    assert job["kind"] == "transcribe"
    done = researcher.wait(body["id"], timeout=180)
    assert done["files"][0]["extraction_status"] == "complete"
    # A second of silence: a transcript with nothing in it.
    text = researcher.get(f"/sources/{body['id']}/text", params={"form": "identifiable"})
    assert text.status_code == 200
    assert text.text.strip() == ""
