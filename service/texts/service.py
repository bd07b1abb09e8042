"""Extracting text from originals, and serving it."""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from service.db import transaction, utcnow
from service.errors import Conflict
from service.extraction.engine import (
    SEPARATOR,
    Extraction,
    ExtractionFailed,
    Limits,
    OcrConfig,
)
from service.jobs import service as jobs_service
from service.jobs.models import JobKind
from service.jobs.service import Claim, LeaseLost
from service.runtime import Runtime
from service.sources import service as sources_service
from service.sources.models import ExtractionStatus, File, Source, SourceStatus
from service.storage.service import ObjectStore
from service.texts.models import ExtractedText

if TYPE_CHECKING:
    from service.extraction.sandbox import Sandbox

log = logging.getLogger(__name__)

ELEMENTS_FORMAT = 1


def limits_from(runtime: Runtime) -> Limits:
    s = runtime.settings
    return Limits(
        timeout_seconds=s.extraction_timeout_seconds,
        memory_bytes=s.extraction_memory_bytes,
        max_unpacked_bytes=s.extraction_max_unpacked_bytes,
        max_pages=s.extraction_max_pages,
    )


def ocr_from(runtime: Runtime) -> OcrConfig:
    s = runtime.settings
    return OcrConfig(tesseract_cmd=s.tesseract_cmd or None, language=s.ocr_language)


def elements_key(file: File) -> str:
    return f"{file.source_id}/{file.id}/elements.json"


def extract(*, runtime: Runtime, claim: Claim, sandbox: Sandbox) -> None:
    """The ``extract`` job: one original in, cleaned text and elements out.

    A file that cannot be read ends ``failed`` with a reason; that is a result, not an error,
    and is not retried. Faults of our own (store or database down) propagate to be retried.
    """
    file_id = claim.job.file_id
    assert file_id is not None
    clock = _Clock()
    with transaction(runtime.engine) as session:
        file = session.get(File, file_id)
        if file is None:  # the source was deleted meanwhile
            claim.succeed(session)
            return
        file.extraction_status = ExtractionStatus.running
        file.extraction_reason = None
        session.add(file)
        session.flush()
        sources_service.refresh_status(session=session, source_id=file.source_id)
        session.expunge(file)
    clock.lap("start")

    store = runtime.store
    with tempfile.TemporaryDirectory(prefix="qa-extract-") as tmp:
        path = Path(tmp) / "original"
        store.download(store.originals, file.object_key, path)
        clock.lap("download")
        try:
            extraction = sandbox.run(
                path, file.media_type, ocr=ocr_from(runtime), limits=limits_from(runtime)
            )
        except ExtractionFailed as failure:
            _record_failure(runtime, claim, file, failure.reason)
            log.info("extraction of file %s failed after %s", file.id, clock)
            return
        clock.lap("extract")

    key = elements_key(file)
    store.put_bytes(store.derived, key, _elements_json(file, extraction), "application/json")
    clock.lap("elements")
    try:
        with transaction(runtime.engine) as session:
            source = _record_text(session, file, extraction, key)
            if source.status == SourceStatus.ready:
                # Every file's text is in: de-identification comes next.
                jobs_service.enqueue(
                    session=session,
                    kind=JobKind.deidentify,
                    submit=runtime.dispatcher.submit,
                    max_attempts=runtime.settings.job_max_attempts,
                    source_id=source.id,
                )
            claim.succeed(session)
        clock.lap("record")
        log.info("extracted file %s (%s): %s", file.id, file.media_type, clock)
    except Exception:
        # The source may have been deleted (or its participant erased) while we worked: then
        # the elements just written have no row to belong to and must not stay behind.
        with transaction(runtime.engine) as session:
            still_there = session.get(File, file.id) is not None
        if not still_there:
            store.remove(store.derived, key)
            log.info("file %s was removed during its extraction; result discarded", file.id)
            return
        raise


class _Clock:
    """Phase durations of one job, for the log (no content, only timings)."""

    def __init__(self) -> None:
        self._last = time.perf_counter()
        self._laps: list[tuple[str, float]] = []

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self._laps.append((name, now - self._last))
        self._last = now

    def __str__(self) -> str:
        return ", ".join(f"{name} {seconds:.3f} s" for name, seconds in self._laps)


def _elements_json(file: File, extraction: Extraction) -> bytes:
    document = {
        "format": ELEMENTS_FORMAT,
        "file_id": str(file.id),
        "engine": extraction.engine,
        "engine_version": extraction.engine_version,
        "elements": [dataclasses.asdict(e) for e in extraction.elements],
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _record_text(session: Session, file: File, extraction: Extraction, key: str) -> Source:
    status = (
        ExtractionStatus.partial if extraction.pages_without_text else ExtractionStatus.complete
    )
    reason = None
    if extraction.pages_without_text:
        pages = ", ".join(str(p) for p in extraction.pages_without_text)
        reason = (
            f"No text could be read from page(s) {pages}: they have no text layer and OCR "
            "is not available or found nothing. Install Tesseract or upload a text version."
        )
    updated = session.execute(
        update(File)
        .where(col(File.id) == file.id)
        .values(
            extraction_status=status,
            extraction_reason=reason,
            pages_without_text=extraction.pages_without_text or None,
        )
    )
    if updated.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(str(file.id))
    text = session.exec(select(ExtractedText).where(ExtractedText.file_id == file.id)).first()
    if text is None:
        text = ExtractedText(
            source_id=file.source_id,
            file_id=file.id,
            engine="",
            engine_version="",
            content="",
            char_count=0,
            element_count=0,
            elements_key=key,
        )
    text.engine = extraction.engine
    text.engine_version = extraction.engine_version
    text.content = extraction.text
    text.char_count = len(extraction.text)
    text.element_count = len(extraction.elements)
    text.page_count = extraction.page_count
    text.ocr_pages = list(extraction.ocr_pages)
    text.elements_key = key
    text.created_at = utcnow()
    session.add(text)
    session.flush()
    return sources_service.refresh_status(session=session, source_id=file.source_id)


def _record_failure(runtime: Runtime, claim: Claim, file: File, reason: str) -> None:
    with transaction(runtime.engine) as session:
        mark_failed(session=session, file_id=file.id, reason=reason)
        claim.fail(session, reason)


def mark_failed(*, session: Session, file_id: uuid.UUID, reason: str) -> None:
    """Record that a file's text could not be extracted, with a reason for a person."""
    file = session.get(File, file_id)
    if file is None:
        return
    file.extraction_status = ExtractionStatus.failed
    file.extraction_reason = reason
    session.add(file)
    session.flush()
    sources_service.refresh_status(session=session, source_id=file.source_id)


# -- serving -----------------------------------------------------------------------------


def texts_of(*, session: Session, source: Source) -> list[tuple[File, ExtractedText]]:
    rows = session.exec(
        select(File, ExtractedText)
        .join(ExtractedText, col(ExtractedText.file_id) == col(File.id))
        .where(File.source_id == source.id)
        .order_by(col(File.id))
    )
    return [(f, t) for f, t in rows]


def require_text(*, session: Session, source: Source) -> list[tuple[File, ExtractedText]]:
    pairs = texts_of(session=session, source=source)
    if not pairs:
        if source.status in ("received", "extracting"):
            raise Conflict("The text is not ready yet: extraction is still running.")
        if source.status == "failed":
            raise Conflict(f"No text could be extracted: {source.status_reason}")
        raise Conflict("This source has no text: none of its files has text to extract.")
    return pairs


def load_elements(*, runtime: Runtime, text: ExtractedText) -> list[dict[str, Any]]:
    document = json.loads(runtime.store.get_bytes(runtime.store.derived, text.elements_key))
    return list(document["elements"])


def remove_speaker(
    *, session: Session, store: ObjectStore, source_id: uuid.UUID, label: str
) -> int:
    """Rebuild the source's texts without the segments of the speaker ``label``; return how
    many segments went. The others' segments keep their words, speakers and times; offsets are
    recomputed for the shorter text."""
    removed = 0
    for text in session.exec(select(ExtractedText).where(ExtractedText.source_id == source_id)):
        document = json.loads(store.get_bytes(store.derived, text.elements_key))
        kept = [e for e in document["elements"] if e.get("speaker") != label]
        gone = len(document["elements"]) - len(kept)
        if not gone:
            continue
        removed += gone
        pieces: list[str] = []
        offset = 0
        for element in kept:
            if pieces:
                offset += len(SEPARATOR)
            element["start"], element["end"] = offset, offset + len(element["text"])
            offset = element["end"]
            pieces.append(element["text"])
        document["elements"] = kept
        store.put_bytes(
            store.derived,
            text.elements_key,
            json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
            "application/json",
        )
        text.content = SEPARATOR.join(pieces)
        text.char_count = len(text.content)
        text.element_count = len(kept)
        session.add(text)
    session.flush()
    return removed
