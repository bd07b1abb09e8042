"""PDF: the text layer through pypdfium2, Tesseract for pages that have none.

unstructured's own PDF partitioner needs unstructured-inference (and so torch), and classifying
its output with spaCy costs ~6 s per 100 pages; pypdfium2 reads a text layer a hundred times
faster. Paragraphs are rebuilt from line geometry: pdfium reports the text with a line break
after each line, and the bounding box of each line tells where a paragraph ends (a larger gap,
a change of type size, a bullet) and which lines are headings (larger type).

A page with nothing drawn on it is blank: it is neither read with OCR nor reported in
`pages_without_text`, which lists pages whose content may hold text we could not read.

Running headers and footers (the same line at the top or bottom of most pages, page numbers
aside) are kept, as elements of type Header and Footer: they are part of what the document
says, names in them must reach de-identification, and a reader can filter them by type.
"""

from __future__ import annotations

import ctypes
import logging
import re
import subprocess
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from service.extraction import ocr as ocr_
from service.extraction.engine import (
    Block,
    Extraction,
    ExtractionFailed,
    Limits,
    OcrConfig,
    assemble,
    package_versions,
    timeout_reason,
)
from service.extraction.paragraphs import classify, clean, strip_bullet

logger = logging.getLogger(__name__)

# Renders bigger than this (about A2 at 200 dpi) are scaled down before OCR: a page can claim
# any size, and a bitmap of a 200-inch page would take gigabytes.
_MAX_RENDER_PIXELS = 40_000_000
# A page with fewer letters than this in its text layer, and mostly covered by an image, is a
# scan (perhaps with a stamped page number) and is read with OCR.
_SCAN_MAX_LETTERS = 20

_LINE = re.compile(r"[^\r\n]+")
_BULLET_START = re.compile(r"^\s*(?:[•◦▪▫‣⁃●○■□–\-*]\s|\(?\d{1,3}[.)]\s|\(?[a-z][.)]\s)")
_ENDS_SENTENCE = re.compile(r"[.!?:;\"”’)]\s*$")
_DIGITS = re.compile(r"\d+")
_LETTER = re.compile(r"[^\W\d_]")

_OPEN_ERRORS = {
    pdfium_c.FPDF_ERR_PASSWORD: (
        "The PDF is password-protected; upload a copy without a password (open it with the "
        "password and save or print it to a new PDF)."
    ),
    pdfium_c.FPDF_ERR_SECURITY: (
        "The PDF is protected by a security handler we cannot open (for example rights "
        "management); upload an unprotected copy."
    ),
    pdfium_c.FPDF_ERR_FORMAT: (
        "The PDF is damaged or incomplete (perhaps the upload or download was cut short) and "
        "could not be opened; upload the file again, or re-save it from the program that made "
        "it."
    ),
    pdfium_c.FPDF_ERR_FILE: "The PDF could not be read from storage; try the upload again.",
}


@dataclass(slots=True)
class _Line:
    text: str
    left: float  # PDF points, y upwards; all zero when the page's geometry is unavailable
    right: float
    baseline: float
    size: float  # font size of the line's first character


@dataclass(slots=True)
class _Page:
    number: int
    lines: list[_Line]
    needs_ocr: bool
    blank: bool = False  # nothing drawn on it at all: no text to find, none missing


def read_pdf(path: Path, media_type: str, *, ocr: OcrConfig, limits: Limits) -> Extraction:
    deadline = time.monotonic() + limits.timeout_seconds
    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        reason = _OPEN_ERRORS.get(
            getattr(exc, "err_code", None),
            "The PDF could not be opened; it may be damaged. Re-save it and upload it again.",
        )
        raise ExtractionFailed(reason) from exc
    try:
        page_count = len(document)
        if page_count > limits.max_pages:
            raise ExtractionFailed(
                f"The PDF has {page_count:,} pages, more than the {limits.max_pages:,} we "
                "extract from one file; split it into smaller files."
            )
        pages = [_read_page(document, number) for number in range(1, page_count + 1)]
        blocks, pages_without_text, ocr_pages, engines = _page_blocks(
            document, pages, ocr=ocr, deadline=deadline
        )
    except subprocess.TimeoutExpired as exc:  # Tesseract, out of time
        raise ExtractionFailed(timeout_reason(limits)) from exc
    finally:
        document.close()
    return assemble(
        blocks,
        engine="+".join(engines),
        engine_version=package_versions("pypdfium2", "unstructured")
        + "".join(f"; {ocr_.tesseract_version(e)}" for e in engines if e != "pypdfium2"),
        page_count=page_count,
        pages_without_text=pages_without_text,
        ocr_pages=ocr_pages,
    )


def _read_page(document: pdfium.PdfDocument, number: int) -> _Page:
    """One page's lines; a page pdfium cannot parse counts as a page without text (and is
    tried with OCR), so one damaged page does not cost the rest of the document."""
    try:
        page = document[number - 1]
    except pdfium.PdfiumError:
        logger.warning("Page %d could not be loaded", number)
        return _Page(number=number, lines=[], needs_ocr=True)
    try:
        textpage = page.get_textpage()
        try:
            lines = _lines(textpage)
        finally:
            textpage.close()
        letters = _count_letters(lines, enough=_SCAN_MAX_LETTERS)
        if letters == 0 and pdfium_c.FPDFPage_CountObjects(page.raw) == 0:
            return _Page(number=number, lines=[], needs_ocr=False, blank=True)
        needs_ocr = letters == 0 or (letters < _SCAN_MAX_LETTERS and _mostly_image(page))
        return _Page(number=number, lines=lines, needs_ocr=needs_ocr)
    except pdfium.PdfiumError:
        logger.warning("The text of page %d could not be read", number)
        return _Page(number=number, lines=[], needs_ocr=True)
    finally:
        page.close()


def _count_letters(lines: list[_Line], *, enough: int) -> int:
    """Letters in `lines`, counting no further than `enough`."""
    count = 0
    for line in lines:
        count += len(_LETTER.findall(line.text))
        if count >= enough:
            break
    return count


def _lines(textpage: pdfium.PdfTextPage) -> list[_Line]:
    """The page's lines of text, each with its extent, baseline and type size."""
    text = textpage.get_text_range()
    # Character indices and string offsets agree unless the page has characters outside the
    # Basic Multilingual Plane (pdfium counts UTF-16 units); then geometry is skipped.
    geometry = len(text) == textpage.count_chars()
    x, y = ctypes.c_double(), ctypes.c_double()
    lines = []
    for match in _LINE.finditer(text):
        line_text = match.group()
        if not line_text.strip():
            continue
        if not geometry:
            lines.append(_Line(line_text, 0.0, 0.0, 0.0, 0.0))
            continue
        first = match.start() + (len(line_text) - len(line_text.lstrip()))
        count = textpage.count_rects(match.start(), len(line_text))
        rects = [textpage.get_rect(i) for i in range(count)]
        pdfium_c.FPDFText_GetCharOrigin(textpage.raw, first, x, y)
        lines.append(
            _Line(
                line_text,
                left=min((r[0] for r in rects), default=x.value),
                right=max((r[2] for r in rects), default=x.value),
                baseline=y.value,
                size=pdfium_c.FPDFText_GetFontSize(textpage.raw, first),
            )
        )
    return lines


def _mostly_image(page: pdfium.PdfPage) -> bool:
    """Whether images cover at least half the page, as on a scanned page."""
    width, height = page.get_size()
    covered = 0.0
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2):
        left, bottom, right, top = obj.get_pos()
        covered += max(0.0, right - left) * max(0.0, top - bottom)
    return covered >= 0.5 * width * height


def _page_blocks(
    document: pdfium.PdfDocument, pages: list[_Page], *, ocr: OcrConfig, deadline: float
) -> tuple[list[Block], list[int], list[int], list[str]]:
    body_size, spacing = _body_metrics(pages)
    headers, footers = _running_lines(pages, body_size=body_size)
    executable = ocr_.tesseract_path(ocr)
    blocks: list[Block] = []
    pages_without_text: list[int] = []
    ocr_pages: list[int] = []
    for page in pages:
        if page.blank:
            continue
        if not page.needs_ocr:
            blocks += _layer_blocks(
                page, body_size=body_size, spacing=spacing, headers=headers, footers=footers
            )
            continue
        text = None
        if executable is not None:
            text = _ocr_page(document, page.number, executable, ocr, deadline)
        found = _ocr_blocks(page.number, text) if text is not None else []
        if found:
            ocr_pages.append(page.number)
            blocks += found
        else:  # OCR unavailable, failed, or found nothing (a blank page)
            pages_without_text.append(page.number)
    engines = ["pypdfium2"] + (["tesseract"] if ocr_pages and executable else [])
    return blocks, pages_without_text, ocr_pages, engines


def _layer_blocks(
    page: _Page,
    *,
    body_size: float,
    spacing: dict[float, float],
    headers: set[str],
    footers: set[str],
) -> list[Block]:
    """Blocks from a page's text layer: its running header, paragraphs, running footer."""
    lines = page.lines
    top = bottom = None
    if lines and _pattern(lines[0].text) in headers:
        top, lines = lines[0], lines[1:]
    if lines and _pattern(lines[-1].text) in footers:
        bottom, lines = lines[-1], lines[:-1]
    blocks = []
    if top is not None:
        blocks.append(Block("Header", clean(top.text), page=page.number))
    for paragraph in _paragraphs(lines, spacing=spacing):
        text = clean(" ".join(_joined(line.text for line in paragraph)))
        larger = max(line.size for line in paragraph) > 1.15 * body_size > 0
        kind = classify(text, larger_type=larger)
        blocks.append(Block(kind, strip_bullet(text) if kind == "ListItem" else text, page.number))
    if bottom is not None:
        blocks.append(Block("Footer", clean(bottom.text), page=page.number))
    return blocks


def _ocr_blocks(number: int, text: str) -> list[Block]:
    """Blocks from Tesseract's text for page `number`, which separates paragraphs with blank
    lines and keeps the page's wrapped lines within one."""
    blocks = []
    for chunk in re.split(r"\n\s*\n", text):
        lines = [line for line in chunk.splitlines() if line.strip()]
        cleaned = clean(" ".join(_joined(lines)))
        if cleaned:
            kind = classify(cleaned)
            blocks.append(
                Block(
                    kind,
                    strip_bullet(cleaned) if kind == "ListItem" else cleaned,
                    page=number,
                    metadata={"ocr": True},
                )
            )
    return blocks


def _body_metrics(pages: list[_Page]) -> tuple[float, dict[float, float]]:
    """The type size of the body text (the most common size, counted in characters), and for
    each type size the usual distance between the baselines of two lines of one paragraph."""
    sizes: Counter[float] = Counter()
    distances: dict[float, list[float]] = {}
    for page in pages:
        for line in page.lines:
            sizes[round(line.size, 1)] += len(line.text)
        for previous, line in zip(page.lines, page.lines[1:], strict=False):
            distance = previous.baseline - line.baseline
            if previous.size == line.size and 0.8 * line.size <= distance <= 3 * line.size:
                distances.setdefault(round(line.size, 1), []).append(distance)
    body_size = sizes.most_common(1)[0][0] if sizes else 0.0
    # Gaps between paragraphs are in the sample too, and can outnumber wrapped lines; the
    # spacing of wrapped lines is the smallest common distance, so take a low quantile.
    return body_size, {size: _low_quantile(found) for size, found in distances.items()}


def _low_quantile(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 5]


def _pattern(text: str) -> str:
    """A line with its numbers masked, so "Page 3 of 9" and "Page 4 of 9" match."""
    return _DIGITS.sub("#", " ".join(text.lower().split()))


def _running_lines(pages: list[_Page], *, body_size: float) -> tuple[set[str], set[str]]:
    """First and last lines that repeat (numbers aside) on at least half the pages with text,
    and at least three of them: the running headers and footers. Lines in larger type than the
    body are headings that happen to open each page, not running headers."""
    with_text = [page for page in pages if len(page.lines) > 1 and not page.needs_ocr]
    if len(with_text) < 3:
        return set(), set()
    needed = max(3, len(with_text) // 2)

    def repeated(lines: list[_Line]) -> set[str]:
        counts = Counter(_pattern(line.text) for line in lines if line.size <= 1.05 * body_size)
        return {pattern for pattern, count in counts.items() if count >= needed}

    return repeated([p.lines[0] for p in with_text]), repeated([p.lines[-1] for p in with_text])


def _paragraphs(lines: list[_Line], *, spacing: dict[float, float]) -> list[list[_Line]]:
    """Lines grouped into paragraphs by the spacing, type sizes, bullets and indents between
    them."""
    paragraphs: list[list[_Line]] = []
    width = max((line.right for line in lines), default=0) - min(
        (line.left for line in lines), default=0
    )
    for line in lines:
        if paragraphs and not _starts_paragraph(paragraphs[-1], line, spacing=spacing, width=width):
            paragraphs[-1].append(line)
        else:
            paragraphs.append([line])
    return paragraphs


def _starts_paragraph(
    paragraph: list[_Line], line: _Line, *, spacing: dict[float, float], width: float
) -> bool:
    """Whether `line` starts a new paragraph after `paragraph`; `width` is the width of the
    page's text."""
    previous = paragraph[-1]
    if line.size <= 0 or previous.size <= 0:  # no geometry: keep pdfium's lines
        return True
    if _BULLET_START.match(line.text):
        return True
    if abs(line.size - previous.size) > 0.1 * max(line.size, previous.size):
        return True  # a heading and its body, or body and a footnote
    distance = previous.baseline - line.baseline
    if distance < 0.5 * line.size:  # back up the page: the next column, or a box beside
        return True
    usual = spacing.get(round(line.size, 1), 1.2 * line.size)
    if distance > 1.3 * usual + 0.5:
        return True
    # Without space between paragraphs, a short last line that ends a sentence, or an indented
    # first line, still marks the break.
    if _ENDS_SENTENCE.search(previous.text):
        if previous.right - previous.left < 0.8 * width:
            return True
        if line.left > previous.left + line.size:
            return True
    return False


def _joined(texts: Iterable[str]) -> list[str]:
    """Line texts ready to join with spaces: a line ending in a hyphen is glued to the next one
    (keeping the hyphen, since "well-being" is likelier than a split "inter-view")."""
    out: list[str] = []
    for text in texts:
        text = text.strip()
        if out and out[-1].endswith("-") and out[-1][-2:-1].isalpha():
            out[-1] = out[-1] + text
        else:
            out.append(text)
    return out


def _ocr_page(
    document: pdfium.PdfDocument,
    number: int,
    executable: str,
    config: OcrConfig,
    deadline: float,
) -> str | None:
    """The OCR text of one page, or None if the page cannot be rendered or Tesseract fails."""
    try:
        page = document[number - 1]
    except pdfium.PdfiumError:
        return None
    try:
        width, height = page.get_size()
        scale = config.dpi / 72
        pixels = width * scale * height * scale
        if pixels > _MAX_RENDER_PIXELS:
            scale *= (_MAX_RENDER_PIXELS / pixels) ** 0.5
        bitmap = page.render(scale=scale, grayscale=True)
        image = bitmap.to_pil()  # shares the bitmap's buffer, which must outlive the OCR call
        return ocr_.read_image(
            image,
            executable=executable,
            language=config.language,
            dpi=round(scale * 72),
            timeout=max(1.0, deadline - time.monotonic()),
        )
    except (ocr_.OcrError, pdfium.PdfiumError) as exc:
        logger.warning("OCR of page %d failed: %s", number, exc)
        return None
    finally:
        page.close()
