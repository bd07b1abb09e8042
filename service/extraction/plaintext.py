"""Plain text in whatever encoding it arrives in: field notes, transcripts, exported chats."""

from __future__ import annotations

import codecs
from pathlib import Path

from service.extraction.engine import (
    Extraction,
    ExtractionFailed,
    Limits,
    OcrConfig,
    assemble,
    package_versions,
)
from service.extraction.transcripts import text_blocks

# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]
_SAMPLE_BYTES = 1024 * 1024


def read_text(path: Path, media_type: str, *, ocr: OcrConfig, limits: Limits) -> Extraction:
    text = decode(path.read_bytes())
    return assemble(
        text_blocks(text),
        engine="charset-normalizer+unstructured.cleaners",
        engine_version=package_versions("charset-normalizer", "unstructured"),
    )


def decode(data: bytes) -> str:
    """`data` as text, in the encoding `detect_encoding` finds."""
    encoding = detect_encoding(data)
    return data.decode(encoding, errors="replace")


def detect_encoding(data: bytes) -> str:
    """A Python codec name for `data` (or a sample of it): a byte-order mark decides; then UTF-16
    without a mark (every other byte zero); then UTF-8 if it decodes; else charset-normalizer's
    best guess (Windows-1252, Latin-1, Shift-JIS, ...)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    sample = data[:_SAMPLE_BYTES]
    utf16 = _utf16_without_bom(sample[:4096])
    if utf16:
        return utf16
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=len(data) <= len(sample))
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None:
        raise ExtractionFailed(
            "The file does not look like text in any encoding we recognise (it may be a "
            "binary file given a text file's name); save it as UTF-8 text and upload it again."
        )
    return best.encoding


def _utf16_without_bom(sample: bytes) -> str | None:
    half = len(sample) // 2
    if half < 2:
        return None
    even_zeros, odd_zeros = sample[0::2].count(0), sample[1::2].count(0)
    if odd_zeros > 0.3 * half and even_zeros < 0.05 * half:
        return "utf-16-le"
    if even_zeros > 0.3 * half and odd_zeros < 0.05 * half:
        return "utf-16-be"
    return None
