"""Office documents, web pages, e-mail and tables, through unstructured's partitioners.

unstructured does the parsing (styles, headings, lists, tables, slide notes, e-mail bodies);
its elements are mapped to ours here, their text cleaned, and tables given one line per row.
Its per-paragraph classification is made cheap by `nlp.configure_unstructured()`.

Choices that differ from calling `unstructured.partition.auto.partition` on the file:
* .doc is converted to .docx by LibreOffice here, not inside unstructured, so that each
  conversion has its own LibreOffice profile (unstructured's shares one and, finding another
  soffice running, waits for it), a timeout, and a profile with macros and link updates off.
* E-mail attachments are not partitioned: unstructured would dispatch each one to any
  partitioner by its declared type, past the checks made here on top-level files. Their names
  are listed instead.
* Spreadsheets become one Table per sheet (`find_subtable=False`): the sub-table search drops
  cells it cannot place (a lone heading above a table, for one).
"""

from __future__ import annotations

import email.parser
import email.policy
import functools
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from service.extraction import nlp, transcripts
from service.extraction.containers import check_zip
from service.extraction.engine import (
    Block,
    Extraction,
    ExtractionFailed,
    Limits,
    OcrConfig,
    assemble,
    format_name,
    package_versions,
    timeout_reason,
)
from service.extraction.paragraphs import clean

# Element categories that carry no text a reader would miss.
_DROPPED = frozenset({"PageBreak"})
# Settings for the private LibreOffice profile: no macros, no fetching of linked content.
_SOFFICE_SETTINGS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop
 oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop
 oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop
 oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Writer/Content/Update"><prop
 oor:name="Link" oor:op="fuse"><value>2</value></prop></item>
</oor:items>
"""


@functools.cache
def _partitioner(name: str) -> Callable[..., list[Any]]:
    """unstructured's `partition_<name>`, imported on first use with our NLP in place."""
    import importlib

    nlp.configure_unstructured()
    module = importlib.import_module(f"unstructured.partition.{name}")
    partition: Callable[..., list[Any]] = getattr(module, f"partition_{name}")
    return partition


def load_partitioners() -> None:
    """Import every partitioner used here now rather than on first use (~2 s in all)."""
    for name in ("docx", "odt", "rtf", "md", "html", "email", "msg", "pptx", "xlsx", "csv"):
        _partitioner(name)


def _partition(name: str, path: Path, **options: Any) -> list[Any]:
    # languages=["eng"] skips langdetect over the whole text; the language only labels metadata
    # we do not keep.
    return _partitioner(name)(filename=str(path), languages=["eng"], **options)


def read_docx(path: Path, media_type: str, *, ocr: OcrConfig, limits: Limits) -> Extraction:
    check_zip(path, limits=limits, name=format_name(media_type))
    elements = _partition("docx", path, include_page_breaks=False)
    # A transcript typed in Word ("Interviewer: ...") gets speaker turns, as in plain text.
    return assemble(
        transcripts.label_turns(_blocks(elements)),
        engine="unstructured.partition_docx",
        engine_version=package_versions("unstructured", "python-docx"),
    )


def read_odt(path: Path, media_type: str, *, ocr: OcrConfig, limits: Limits) -> Extraction:
    check_zip(path, limits=limits, name=format_name(media_type))
    elements = _partition("odt", path, include_page_breaks=False)
    return _extraction(
        elements,
        engine="pandoc+unstructured.partition_odt",
        packages=("unstructured", "python-docx", "pypandoc-binary"),
    )


def read_doc(path: Path, media_type: str, *, ocr: OcrConfig, limits: Limits) -> Extraction:
    soffice = shutil.which("soffice")
    if soffice is None:
        raise ExtractionFailed(
            "Word 97-2003 (.doc) files need LibreOffice, which is not installed on this server. "
            "Save the document as .docx or PDF and upload that, or ask an administrator to "
            "install LibreOffice (Debian package libreoffice-writer-nogui)."
        )
    deadline = time.monotonic() + limits.timeout_seconds
    with tempfile.TemporaryDirectory(prefix="qualarchive-doc-") as work:
        try:
            converted = _convert_with_soffice(soffice, path, Path(work), deadline=deadline)
        except subprocess.TimeoutExpired as exc:
            raise ExtractionFailed(timeout_reason(limits)) from exc
        check_zip(converted, limits=limits, name=format_name(media_type))
        elements = _partition("docx", converted, include_page_breaks=False)
    return _extraction(
        elements,
        engine="soffice+unstructured.partition_docx",
        packages=("unstructured", "python-docx"),
        extra_version=_soffice_version(soffice),
    )


def read_rtf(path: Path, media_type: str, *, ocr: OcrConfig, limits: Limits) -> Extraction:
    elements = _partition("rtf", path)
    return _extraction(
        elements,
        engine="pandoc+unstructured.partition_rtf",
        packages=("unstructured", "pypandoc-binary"),
    )


def read_markdown(path: Path, media_type: str, *, ocr: OcrConfig, limits: Limits) -> Extraction:
    elements = _partition("md", path)
    return _extraction(
        elements, engine="unstructured.partition_md", packages=("unstructured", "markdown")
    )


def read_html(path: Path, media_type: str, *, ocr: OcrConfig, limits: Limits) -> Extraction:
    elements = _partition("html", path)
    return _extraction(
        elements, engine="unstructured.partition_html", packages=("unstructured", "lxml")
    )


def read_pptx(path: Path, media_type: str, *, ocr: OcrConfig, limits: Limits) -> Extraction:
    check_zip(path, limits=limits, name=format_name(media_type))
    elements = _partition("pptx", path, include_page_breaks=False, include_slide_notes=True)
    return _extraction(
        elements,
        engine="unstructured.partition_pptx",
        packages=("unstructured", "python-pptx"),
        page_count=_slide_count(path),
    )


def read_xlsx(path: Path, media_type: str, *, ocr: OcrConfig, limits: Limits) -> Extraction:
    check_zip(path, limits=limits, name=format_name(media_type))
    elements = _partition("xlsx", path, find_subtable=False, include_header=True)
    return _extraction(
        elements, engine="unstructured.partition_xlsx", packages=("unstructured", "openpyxl")
    )


def read_csv(path: Path, media_type: str, *, ocr: OcrConfig, limits: Limits) -> Extraction:
    from service.extraction.plaintext import detect_encoding

    with path.open("rb") as stream:
        sample = stream.read(1024 * 1024)
    elements = _partition("csv", path, include_header=True, encoding=detect_encoding(sample))
    return _extraction(
        elements, engine="unstructured.partition_csv", packages=("unstructured", "pandas")
    )


def read_eml(path: Path, media_type: str, *, ocr: OcrConfig, limits: Limits) -> Extraction:
    with path.open("rb") as stream:
        message = email.parser.BytesParser(policy=email.policy.default).parse(stream)
    headers = [(field, str(message[field])) for field in _HEADERS if message[field] is not None]
    attachments = [
        part.get_filename() or "(unnamed)"
        for part in message.walk()
        if part.get_content_disposition() == "attachment"
    ]
    elements = _partition("email", path, process_attachments=False)
    return _extraction(
        elements,
        engine="unstructured.partition_email",
        packages=("unstructured", "python-dateutil"),
        before=_header_blocks(headers),
        after=_attachment_blocks(attachments),
    )


def read_msg(path: Path, media_type: str, *, ocr: OcrConfig, limits: Limits) -> Extraction:
    from oxmsg import Message

    message = Message.load(str(path))
    transport = {field.lower(): value for field, value in message.message_headers.items()}
    recipients = "; ".join(r.email_address for r in message.recipients if r.email_address)
    sent = message.sent_date
    headers = [
        ("Subject", message.subject),
        ("From", message.sender or ""),
        ("To", transport.get("to") or recipients),
        ("Cc", transport.get("cc") or ""),
        ("Date", sent.isoformat() if sent else transport.get("date") or ""),
    ]
    attachments = [a.file_name or "(unnamed)" for a in message.attachments]
    elements = _partition("msg", path, process_attachments=False)
    return _extraction(
        elements,
        engine="unstructured.partition_msg",
        packages=("unstructured", "python-oxmsg"),
        before=_header_blocks([(field, value) for field, value in headers if value]),
        after=_attachment_blocks(attachments),
    )


_HEADERS = ("Subject", "From", "To", "Cc", "Date")


def _header_blocks(headers: Iterable[tuple[str, str]]) -> list[Block]:
    """The message's headers as the first elements, so names and addresses in them are part of
    the text (and reach de-identification)."""
    blocks = []
    for field, value in headers:
        if field == "Subject":
            kind, text = "Title", value
        else:
            kind = "UncategorizedText" if field == "Date" else "EmailAddress"
            text = f"{field}: {value}"
        blocks.append(Block(kind, clean(text), metadata={"header": field}))
    return blocks


def _attachment_blocks(names: list[str]) -> list[Block]:
    if not names:
        return []
    text = clean("Attachments (not extracted): " + "; ".join(names))
    return [Block("UncategorizedText", text, metadata={"attachments": names})]


def _extraction(
    elements: list[Any],
    *,
    engine: str,
    packages: tuple[str, ...],
    extra_version: str = "",
    page_count: int | None = None,
    before: list[Block] | None = None,
    after: list[Block] | None = None,
) -> Extraction:
    blocks = [*(before or []), *_blocks(elements), *(after or [])]
    version = package_versions(*packages) + (f"; {extra_version}" if extra_version else "")
    return assemble(blocks, engine=engine, engine_version=version, page_count=page_count)


def _blocks(elements: Iterable[Any]) -> list[Block]:
    """unstructured elements as our blocks: cleaned text, tables one row per line."""
    blocks = []
    for element in elements:
        category = element.category
        if category in _DROPPED:
            continue
        metadata: dict[str, Any] = {}
        page = element.metadata.page_number
        if category == "Table":
            text = _table_text(element.metadata.text_as_html) or clean(element.text)
        else:
            text = clean(element.text)
        if element.metadata.page_name:  # spreadsheets: the sheet's name, its index as "page"
            metadata["sheet"] = element.metadata.page_name
            page = None
        if category in ("Title", "ListItem") and element.metadata.category_depth:
            metadata["depth"] = element.metadata.category_depth  # heading or list level, 0-based
        blocks.append(Block(category, text, page=page, metadata=metadata))
    return blocks


def _table_text(html: str | None) -> str:
    """A table as text: one line per row, cells separated by tabs."""
    if not html:
        return ""
    from lxml import html as lxml_html

    rows = []
    for row in lxml_html.fragment_fromstring(html, create_parent="div").iter("tr"):
        cells = [clean(cell.text_content()) for cell in row if cell.tag in ("td", "th")]
        if any(cells):
            rows.append("\t".join(cells).rstrip("\t"))
    return "\n".join(rows)


def _slide_count(path: Path) -> int | None:
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return sum(
            1
            for member in archive.namelist()
            if member.startswith("ppt/slides/slide") and member.endswith(".xml")
        )


def _convert_with_soffice(soffice: str, source: Path, work: Path, *, deadline: float) -> Path:
    """`source` (.doc) converted to .docx in `work` by LibreOffice, with a private profile."""
    profile = work / "profile"
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(_SOFFICE_SETTINGS)
    # LibreOffice detects the format partly by extension, and the upload's temporary file may
    # have none.
    document = work / "document.doc"
    shutil.copyfile(source, document)
    command = [
        soffice,
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless",
        "--norestore",
        "--nolockcheck",
        "--convert-to",
        "docx:MS Word 2007 XML",
        "--outdir",
        str(work / "out"),
        str(document),
    ]
    _run_tree(command, timeout=max(1.0, deadline - time.monotonic()), cwd=work)
    converted = work / "out" / "document.docx"
    if not converted.exists():
        raise ExtractionFailed(
            "LibreOffice could not convert this .doc file; it may be damaged, protected by a "
            "password, or not really a Word document. Save it as .docx or PDF and upload that."
        )
    return converted


def _run_tree(command: list[str], *, timeout: float, cwd: Path) -> None:
    """Run `command`; on timeout kill it and every process it started (soffice is a script
    that starts oosplash, which starts soffice.bin)."""
    import psutil

    environment = dict(os.environ, HOME=str(cwd))  # LibreOffice writes caches under $HOME
    process = subprocess.Popen(  # noqa: S603 - fixed program, arguments built here
        command,
        cwd=cwd,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            tree = psutil.Process(process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            tree = []
        for child in tree:
            child.kill()
        process.kill()
        process.wait()
        raise


@functools.cache
def _soffice_version(soffice: str) -> str:
    try:
        completed = subprocess.run(  # noqa: S603 - fixed program
            [soffice, "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "LibreOffice"
    words = completed.stdout.split()
    return " ".join(words[:2]) if words else "LibreOffice"
