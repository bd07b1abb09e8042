"""Extracts cleaned text, and elements with offsets into it, from one original file.

`extract()` runs in the calling process; `service.extraction.sandbox.Sandbox` runs it in a child
process with memory and time limits, which is how the service calls it. Importing this module is
cheap: the readers (and unstructured, spaCy, pypdfium2 behind them) are imported on first use.
"""

from __future__ import annotations

import functools
import importlib
import logging
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

logger = logging.getLogger(__name__)

MIB = 1024 * 1024

# The text between two elements in `Extraction.text`.
SEPARATOR = "\n\n"


@dataclass
class Element:
    """One piece of the extracted text, in document order."""

    type: str  # unstructured's category names, and "Segment" for a transcript cue or turn
    text: str  # exactly Extraction.text[start:end]
    start: int
    end: int
    page: int | None = None  # 1-based page (PDF) or slide (PPTX)
    speaker: str | None = None
    start_time: float | None = None  # seconds from the start of the recording
    end_time: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Extraction:
    """The text of a file and how it was obtained."""

    text: str  # the element texts joined by SEPARATOR
    elements: list[Element]
    engine: str
    engine_version: str
    page_count: int | None
    pages_without_text: list[int]  # 1-based pages with no text layer that OCR did not read
    ocr_pages: list[int]
    language: str | None = None  # detected by speech recognition ("en"; "und": no speech)


class ExtractionFailed(Exception):
    """The file's text could not be extracted; `reason` says why in words a researcher can act
    on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class OcrConfig:
    """How to read pages that have no text layer. `tesseract_cmd=None`, or a command that is not
    installed, means OCR is unavailable and such pages are reported as unread."""

    tesseract_cmd: str | None = "tesseract"
    language: str = "eng"  # Tesseract language codes, e.g. "eng+fra"
    dpi: int = 200


@dataclass(frozen=True)
class Limits:
    """Bounds on the work one file may cause."""

    timeout_seconds: float = 600
    memory_bytes: int = 2 * 1024 * MIB
    max_unpacked_bytes: int = 1024 * MIB  # total uncompressed size of a ZIP-based document
    max_compression_ratio: float = 200  # for any one large member of a ZIP-based document
    max_pages: int = 20_000


@dataclass
class Block:
    """An element before its place in the joined text is known; readers produce these."""

    type: str
    text: str
    page: int | None = None
    speaker: str | None = None
    start_time: float | None = None
    end_time: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class Reader(Protocol):
    def __call__(
        self, path: Path, media_type: str, *, ocr: OcrConfig, limits: Limits
    ) -> Extraction: ...


# Media type -> (module in this package, function, how a researcher would name the format).
_READERS: dict[str, tuple[str, str, str]] = {
    "application/pdf": ("pdf", "read_pdf", "PDF"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (
        "documents",
        "read_docx",
        "Word document (.docx)",
    ),
    "application/msword": ("documents", "read_doc", "Word 97-2003 document (.doc)"),
    "application/vnd.oasis.opendocument.text": ("documents", "read_odt", "OpenDocument text"),
    "application/rtf": ("documents", "read_rtf", "RTF document"),
    "text/markdown": ("documents", "read_markdown", "Markdown file"),
    "text/html": ("documents", "read_html", "web page (HTML)"),
    "message/rfc822": ("documents", "read_eml", "e-mail (.eml)"),
    "application/vnd.ms-outlook": ("documents", "read_msg", "Outlook message (.msg)"),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (
        "documents",
        "read_pptx",
        "PowerPoint presentation (.pptx)",
    ),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (
        "documents",
        "read_xlsx",
        "Excel workbook (.xlsx)",
    ),
    "text/csv": ("documents", "read_csv", "CSV file"),
    "text/plain": ("plaintext", "read_text", "text file"),
    "text/vtt": ("transcripts", "read_vtt", "WebVTT subtitle file"),
    "application/x-subrip": ("transcripts", "read_srt", "SRT subtitle file"),
}

SUPPORTED_MEDIA_TYPES = frozenset(_READERS)


def format_name(media_type: str) -> str:
    """The format as a researcher would name it, e.g. "Word document (.docx)"."""
    return _READERS[media_type][2] if media_type in _READERS else media_type


def _with_article(name: str) -> str:
    # Letters read aloud as a vowel sound too: "an RTF document", "an SRT subtitle file".
    return f"an {name}" if name[:1] in "AEIOUaeiou" or name[:3] in ("RTF", "SRT") else f"a {name}"


def extract(path: Path, media_type: str, *, ocr: OcrConfig, limits: Limits) -> Extraction:
    """Extract the text of `path`, whose (sniffed) media type is `media_type`.

    Raises ExtractionFailed for every file whose text cannot be had; other exceptions from the
    parsers are logged and turned into one, so the caller handles a single failure type.
    """
    if media_type not in _READERS:
        raise ExtractionFailed(
            f"Files of type {media_type} are not a format we can extract text from. Supported: "
            "PDF, Word (.docx, .doc), OpenDocument text, RTF, Markdown, HTML, e-mail (.eml, "
            ".msg), PowerPoint (.pptx), Excel (.xlsx), CSV, plain text, WebVTT and SRT."
        )
    if path.stat().st_size == 0:
        raise ExtractionFailed("The file is empty (0 bytes); upload it again.")
    module_name, function_name, name = _READERS[media_type]
    module = importlib.import_module(f"{__package__}.{module_name}")
    reader: Reader = getattr(module, function_name)
    try:
        return reader(path, media_type, ocr=ocr, limits=limits)
    except ExtractionFailed:
        raise
    except MemoryError as exc:
        raise ExtractionFailed(memory_reason(limits)) from exc
    except RecursionError as exc:
        raise ExtractionFailed(
            f"The {name} is nested too deeply to read; it may be damaged or built to break readers."
        ) from exc
    except Exception as exc:
        logger.warning("Extracting %s as %s failed", path, media_type, exc_info=True)
        raise ExtractionFailed(
            f"The file could not be read as {_with_article(name)}; it may be damaged, or not "
            f"really {_with_article(name)}. Open and re-save it (or export it to PDF) and upload "
            f"it again. (Reader error: {type(exc).__name__}.)"
        ) from exc


def memory_reason(limits: Limits) -> str:
    return (
        f"Extracting text from this file needed more than {limits.memory_bytes // MIB} MiB of "
        "memory, the limit for one file, and was stopped. The file may be built to exhaust "
        "memory (a decompression bomb), or far larger than usual: split it into smaller files."
    )


def timeout_reason(limits: Limits) -> str:
    return (
        f"Extracting text took longer than {limits.timeout_seconds:g} s, the limit for one file, "
        "and was stopped. Very long or scanned documents can take this long: split the file "
        "into smaller parts, or ask an administrator to raise the limit."
    )


def assemble(
    blocks: list[Block],
    *,
    engine: str,
    engine_version: str,
    page_count: int | None = None,
    pages_without_text: list[int] | None = None,
    ocr_pages: list[int] | None = None,
) -> Extraction:
    """Join the (already cleaned) block texts into one text and give each element its offsets.

    Blocks with no text are dropped: they would be zero-length elements no one can see.
    """
    elements: list[Element] = []
    parts: list[str] = []
    position = 0
    for block in blocks:
        if not block.text:
            continue
        if parts:
            position += len(SEPARATOR)
        parts.append(block.text)
        end = position + len(block.text)
        elements.append(
            Element(
                type=block.type,
                text=block.text,
                start=position,
                end=end,
                page=block.page,
                speaker=block.speaker,
                start_time=block.start_time,
                end_time=block.end_time,
                metadata=block.metadata,
            )
        )
        position = end
    return Extraction(
        text=SEPARATOR.join(parts),
        elements=elements,
        engine=engine,
        engine_version=engine_version,
        page_count=page_count,
        pages_without_text=pages_without_text or [],
        ocr_pages=ocr_pages or [],
    )


@functools.cache
def package_versions(*distributions: str) -> str:
    """E.g. "unstructured 0.27.35; pypdfium2 5.15.2" for the installed distributions."""
    found = []
    for distribution in distributions:
        try:
            found.append(f"{distribution} {metadata.version(distribution)}")
        except metadata.PackageNotFoundError:
            found.append(f"{distribution} (not installed)")
    return "; ".join(found)
