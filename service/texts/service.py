"""Extracting text from originals, and serving it."""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from schemas.sources import TextPart
from service.access.service import identifiable_closed
from service.db import after_commit, new_id, on_rollback, transaction, utcnow
from service.deid import service as deid_service
from service.deid.models import Redaction
from service.errors import Conflict, NotFound, Unprocessable
from service.extraction.engine import (
    SEPARATOR,
    Block,
    Extraction,
    ExtractionFailed,
    Limits,
    OcrConfig,
    assemble,
)
from service.jobs import service as jobs_service
from service.jobs.models import JobKind
from service.jobs.service import Claim, Superseded
from service.runtime import Runtime
from service.sources import service as sources_service
from service.sources.models import ExtractionStatus, File, FileKind, Source, SourceStatus
from service.storage.service import ObjectStore
from service.texts.models import ExtractedText

if TYPE_CHECKING:
    from service.extraction.sandbox import Sandbox
    from service.transcription.engine import Transcriber, Transcript
    from service.transcription.probe import AudioInfo

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


def new_elements_key(source_id: uuid.UUID, file_id: uuid.UUID) -> str:
    """A fresh key for each version of a file's elements: a writer that loses a race removes
    only its own object, never the winner's."""
    return f"{source_id}/{file_id}/elements-{new_id()}.json"


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
        if file is None or file.erased_at is not None:  # deleted or withdrawn meanwhile
            claim.succeed(session)
            return
        source = sources_service.lock(session=session, source_id=file.source_id)
        assert source is not None
        generation = source.generation
        file.extraction_status = ExtractionStatus.running
        file.extraction_reason = None
        session.add(file)
        session.flush()
        sources_service.refresh_status(session=session, source_id=file.source_id)
        session.expunge(file)
    clock.lap("start")

    with _original(runtime.store, file) as path:
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

    _store_result(runtime, claim, file, extraction, clock, generation)


@contextmanager
def _original(store: ObjectStore, file: File) -> Iterator[Path]:
    """The file's original, downloaded into a temporary directory that goes afterwards."""
    with tempfile.TemporaryDirectory(prefix="qa-job-") as tmp:
        path = Path(tmp) / "original"
        store.download(store.originals, file.object_key, path)
        yield path


def transcribe(*, runtime: Runtime, claim: Claim, transcriber: Callable[[], Transcriber]) -> None:
    """The ``transcribe`` job: a recording in, a machine transcript out (segments with times,
    words with times and confidence). Runs only while every linked participant's consent
    includes transcription; a file that cannot be decoded ends ``failed`` with a reason.

    `transcriber` gives the loaded model; it is asked for only once the recording has been
    probed, so a server without its model fails the job with a reason instead of crashing."""
    from service.access.service import Use, participants_lacking
    from service.transcription.engine import TranscriptionFailed
    from service.transcription.probe import ProbeFailed, probe

    file_id = claim.job.file_id
    assert file_id is not None
    clock = _Clock()
    with transaction(runtime.engine) as session:
        file = session.get(File, file_id)
        if file is None or file.erased_at is not None:
            claim.succeed(session)
            return
        source = sources_service.lock(session=session, source_id=file.source_id)
        assert source is not None
        generation = source.generation
        lacking = participants_lacking(session, source, Use.transcribe)
        if lacking:
            # Consent changed since the job was queued: hold until it is given again.
            file.extraction_status = ExtractionStatus.held
            file.extraction_reason = sources_service.held_reason(lacking)
            session.add(file)
            session.flush()
            sources_service.refresh_status(session=session, source_id=file.source_id)
            claim.succeed(session)
            return
        file.extraction_status = ExtractionStatus.running
        file.extraction_reason = None
        session.add(file)
        session.flush()
        sources_service.refresh_status(session=session, source_id=file.source_id)
        language = source.language.split("-")[0] if source.language else None
        session.expunge(file)

    with _original(runtime.store, file) as path:
        clock.lap("download")
        try:
            info = probe(path)
            _record_media(runtime, file, info)
            transcript = transcriber().transcribe(
                path,
                language=language,
                max_seconds=runtime.settings.transcription_max_seconds,
                probed=info,
            )
        except (ProbeFailed, TranscriptionFailed) as failure:
            _record_failure(runtime, claim, file, failure.reason)
            return
        clock.lap("transcribe")
    extraction = transcript_extraction(transcript)
    _store_result(runtime, claim, file, extraction, clock, generation)


def _record_media(runtime: Runtime, file: File, info: AudioInfo) -> None:
    with transaction(runtime.engine) as session:
        stored = session.get(File, file.id)
        if stored is not None:
            stored.media = {
                "duration_seconds": round(info.duration_seconds, 3),
                "codec": info.codec,
                "channels": info.channels,
                "sample_rate": info.sample_rate,
                "container": info.container,
                "has_video": info.has_video,
            }
            session.add(stored)


def transcript_extraction(transcript: Transcript) -> Extraction:
    """A machine transcript as elements: one Segment per Whisper segment, with its words'
    times, confidence and character positions (relative to the segment) in its metadata."""
    blocks = []
    for segment in transcript.segments:
        text = ""
        words = []
        for word in segment.words:
            token = word.text if text else word.text.lstrip()
            first = len(text) + len(token) - len(token.lstrip())
            text += token
            words.append(
                {
                    "start": round(word.start, 3),
                    "end": round(word.end, 3),
                    "p": round(word.probability, 3),
                    "chars": [first, len(text)],
                }
            )
        text = text.rstrip() or segment.text.strip()
        blocks.append(
            Block(
                "Segment",
                text,
                start_time=round(segment.start, 3),
                end_time=round(segment.end, 3),
                metadata={
                    "words": words,
                    "low_confidence": segment.low_confidence,
                    "avg_logprob": round(segment.avg_logprob, 3),
                },
            )
        )
    extraction = assemble(
        blocks,
        engine=f"faster-whisper ({transcript.model})",
        engine_version=transcript.engine_version,
    )
    extraction.language = transcript.language
    return extraction


def _store_result(
    runtime: Runtime,
    claim: Claim,
    file: File,
    extraction: Extraction,
    clock: _Clock,
    generation: int,
) -> None:
    """Write the elements, then the text and status; queue de-identification when the source's
    every text is in.

    The write happens only if the source is still at the generation the job began with: if it
    was deleted, or a participant in it withdrew, meanwhile, ``Superseded`` is raised and the
    elements just stored are removed, so nothing erased comes back."""
    store = runtime.store
    key = new_elements_key(file.source_id, file.id)
    store.put_bytes(store.derived, key, _elements_json(file, extraction), "application/json")
    clock.lap("elements")
    try:
        with transaction(runtime.engine) as session:
            sources_service.hold_generation(
                session=session, source_id=file.source_id, generation=generation
            )
            source, replaced = _record_text(session, file, extraction, key)
            if replaced is not None:
                after_commit(session, lambda: _remove_quietly(store, replaced))
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
    except BaseException:
        # No committed row refers to this key (it is new): it must not stay behind.
        _remove_quietly(store, key)
        raise
    clock.lap("record")
    log.info("text of file %s (%s) stored: %s", file.id, file.media_type, clock)


def _remove_quietly(store: ObjectStore, key: str) -> None:
    try:
        store.remove(store.derived, key)
    except Exception:  # noqa: BLE001  (an orphan is logged; the row never points at it)
        log.warning("could not remove derived object of %s", key.split("/")[0])


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
    return _encode(document)


def _encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _read_document(store: ObjectStore, text: ExtractedText) -> dict[str, Any]:
    """The elements document of a text, as stored."""
    document: dict[str, Any] = json.loads(store.get_bytes(store.derived, text.elements_key))
    return document


def _replace_document(
    session: Session,
    store: ObjectStore,
    text: ExtractedText,
    document: dict[str, Any],
    *,
    content: str | None = None,
    keep_detection: bool = False,
) -> None:
    """Store a changed elements document (and content, if it changed) as the text's next
    version, compared and set against the version that was read: of two writers that read the
    same version, one wins and the other gets a 409 and leaves no object behind. The source's
    de-identified form goes back to review."""
    replaced, version = text.elements_key, text.version
    key = new_elements_key(text.source_id, text.file_id)
    store.put_bytes(store.derived, key, _encode(document), "application/json")
    on_rollback(session, lambda: _remove_quietly(store, key))
    now = utcnow()
    values: dict[str, Any] = {"elements_key": key, "version": version + 1, "changed_at": now}
    if content is not None:
        values |= {
            "content": content,
            "char_count": len(content),
            "element_count": len(document["elements"]),
            "detected_version": None,
        }
    if (content is None or keep_detection) and text.detected_version == version:
        # Only the elements changed (a speaker named), or only whole segments went: detection
        # of the words that remain still holds.
        values["detected_version"] = version + 1
    written = session.execute(
        update(ExtractedText)
        .where(col(ExtractedText.id) == text.id, col(ExtractedText.version) == version)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if written.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("The text changed while this change was made; read it again and retry.")
    after_commit(session, lambda: _remove_quietly(store, replaced))
    session.expire(text)


def _record_text(
    session: Session, file: File, extraction: Extraction, key: str
) -> tuple[Source, str | None]:
    """Record the file's new text; return its source and the elements key it replaced."""
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
        .where(col(File.id) == file.id, col(File.erased_at).is_(None))
        .values(
            extraction_status=status,
            extraction_reason=reason,
            pages_without_text=extraction.pages_without_text or None,
        )
    )
    if updated.rowcount != 1:  # type: ignore[attr-defined]
        raise Superseded(str(file.id))
    text = session.exec(select(ExtractedText).where(ExtractedText.file_id == file.id)).first()
    replaced = None
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
    else:
        # A new version: the old redactions' offsets described the old text.
        replaced = text.elements_key
        text.version += 1
        session.execute(delete(Redaction).where(col(Redaction.text_id) == text.id))
    text.engine = extraction.engine
    text.engine_version = extraction.engine_version
    text.content = extraction.text
    text.char_count = len(extraction.text)
    text.element_count = len(extraction.elements)
    text.language = extraction.language
    text.page_count = extraction.page_count
    text.ocr_pages = list(extraction.ocr_pages)
    text.elements_key = key
    text.detected_version = None
    text.changed_at = text.created_at = utcnow()
    session.add(text)
    session.flush()
    source = sources_service.refresh_status(session=session, source_id=file.source_id)
    deid_service.reopen(session=session, source=source)
    return source, replaced


def _record_failure(runtime: Runtime, claim: Claim, file: File, reason: str) -> None:
    with transaction(runtime.engine) as session:
        mark_failed(session=session, file_id=file.id, reason=reason)
        claim.fail(session, reason)


def mark_failed(*, session: Session, file_id: uuid.UUID, reason: str) -> None:
    """Record that a file's text could not be extracted, with a reason for a person."""
    file = session.get(File, file_id)
    if file is None:
        return
    sources_service.lock(session=session, source_id=file.source_id)
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
    return list(_read_document(runtime.store, text)["elements"])


def remove_speaker(
    *, session: Session, store: ObjectStore, source_id: uuid.UUID, label: str
) -> int:
    """Rebuild the source's texts without the segments of the speaker ``label``; return how
    many segments went. The others' segments keep their words, speakers and times; offsets are
    recomputed for the shorter text, and so are the redactions of the segments that stay: what
    reviewers decided about the others' words (the withdrawn participant's name in someone
    else's turn, above all) still holds, and detection's cover of those words too."""
    removed = 0
    for text in session.exec(select(ExtractedText).where(ExtractedText.source_id == source_id)):
        document = _read_document(store, text)
        kept = [e for e in document["elements"] if e.get("speaker") != label]
        gone = len(document["elements"]) - len(kept)
        if not gone:
            continue
        removed += gone
        pieces: list[str] = []
        moved: list[tuple[int, int, int]] = []  # old start, old end, shift
        offset = 0
        for element in kept:
            if pieces:
                offset += len(SEPARATOR)
            moved.append((element["start"], element["end"], offset - element["start"]))
            element["start"], element["end"] = offset, offset + len(element["text"])
            offset = element["end"]
            pieces.append(element["text"])
        for redaction in session.exec(select(Redaction).where(Redaction.text_id == text.id)):
            shift = next(
                (d for a, b, d in moved if a <= redaction.start and redaction.end <= b), None
            )
            if shift is None:  # in a segment that went
                session.delete(redaction)
                continue
            redaction.start += shift
            redaction.end += shift
            session.add(redaction)
        document["elements"] = kept
        _replace_document(
            session, store, text, document, content=SEPARATOR.join(pieces), keep_detection=True
        )
    session.flush()
    return removed


def choose(parts: list[TextPart], file_id: uuid.UUID | None) -> list[TextPart]:
    """The texts that make up the source's text: one file's if asked; otherwise all, except
    that a human transcript supersedes the machine transcript of the recording."""
    if file_id is not None:
        chosen = [p for p in parts if p.file_id == file_id]
        if not chosen:
            raise NotFound("No text for that file in this source.")
        return chosen
    if any(p.file_kind == FileKind.transcript for p in parts):
        return [p for p in parts if p.file_kind != FileKind.recording]
    return parts


def webvtt(parts: list[TextPart]) -> str:
    """Timed segments as WebVTT, with ``<v Speaker>`` voice tags."""
    cues = []
    for part in parts:
        timed = [e for e in part.elements if e.type == "Segment" and e.start_time is not None]
        for index, element in enumerate(timed):
            start = element.start_time or 0.0
            end = element.end_time
            if end is None:
                following = timed[index + 1].start_time if index + 1 < len(timed) else None
                end = following if following is not None and following > start else start + 2.0
            words = " ".join(element.text.split()).replace("&", "&amp;").replace("<", "&lt;")
            words = words.replace(">", "&gt;")  # so no "-->" can end the cue early
            voice = element.speaker.replace(">", "") if element.speaker else None
            cue = f"<v {voice}>{words}" if voice else words
            cues.append(f"{_stamp(start)} --> {_stamp(end)}\n{cue}")
    if not cues:
        raise Conflict("This text has no timed segments; ask for format=text or format=json.")
    return "WEBVTT\n\n" + "\n\n".join(cues) + "\n"


def _stamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    return f"{hours:02d}:{minutes:02d}:{millis / 1000:06.3f}"


def assign_speaker(
    *,
    session: Session,
    store: ObjectStore,
    source: Source,
    file_id: uuid.UUID,
    first: int,
    last: int,
    speaker: str | None,
) -> int:
    """Set the speaker of the file's segments ``first``..``last`` (0-based, inclusive, counted
    among its Segments); return how many changed."""
    text = session.exec(
        select(ExtractedText).where(
            ExtractedText.source_id == source.id, ExtractedText.file_id == file_id
        )
    ).first()
    if text is None:
        raise NotFound("No text for that file in this source.")
    document = _read_document(store, text)
    segments = [e for e in document["elements"] if e.get("type") == "Segment"]
    if not segments:
        raise Conflict("This text has no segments to assign speakers to.")
    if not 0 <= first <= last < len(segments):
        raise Unprocessable(
            f"Segments {first}-{last} are outside this text, which has segments "
            f"0-{len(segments) - 1}."
        )
    for element in segments[first : last + 1]:
        element["speaker"] = speaker
    _replace_document(session, store, text, document)
    # Speaker labels are text: a renamed speaker is reviewed again before analysts see it.
    deid_service.reopen(session=session, source=source)
    return last - first + 1


def redact_audio(*, runtime: Runtime, claim: Claim) -> None:
    """The ``redact_audio`` job: after approval, the recording with a tone over every accepted
    redaction of its machine transcript, stored as a derived object for the de-identified tier.

    When the recording is its source's only one, the accepted redactions of the source's timed
    human transcripts (WebVTT, SRT, timestamped turns) are toned too, over their whole segment:
    a name the transcriber heard and the machine did not must not stay audible. Untimed
    transcripts cannot be placed in the recording and add nothing."""
    from service.deid.audio import AudioRedactionFailed, bleep, ranges_for

    file_id = claim.job.file_id
    assert file_id is not None
    with transaction(runtime.engine) as session:
        file = session.get(File, file_id)
        source = session.get(Source, file.source_id) if file else None
        text = session.exec(select(ExtractedText).where(ExtractedText.file_id == file_id)).first()
        if (
            file is None
            or source is None
            or text is None
            or source.deid_approved_at is None
            or identifiable_closed(session, source)
        ):
            # Gone, no longer approved, or the voice withdrawn with the identifiable tier.
            claim.succeed(session)
            return
        texts = [text]
        if len(deid_service.recordings_to_redact(session=session, source=source)) == 1:
            texts += session.exec(
                select(ExtractedText)
                .join(File, col(File.id) == col(ExtractedText.file_id))
                .where(
                    ExtractedText.source_id == source.id,
                    File.kind == FileKind.transcript,
                )
            ).all()
        accepted: dict[uuid.UUID, list[tuple[int, int]]] = {t.id: [] for t in texts}
        for redaction in session.exec(
            select(Redaction).where(
                col(Redaction.text_id).in_(list(accepted)), Redaction.status == "accepted"
            )
        ):
            accepted[redaction.text_id].append((redaction.start, redaction.end))
        approved_at = source.deid_approved_at
        generation = source.generation
        key = deid_service.audio_key(file, approved_at)
        session.expunge(file)
        for each in texts:
            session.expunge(each)
    store = runtime.store
    ranges = [
        span
        for each in texts
        if accepted[each.id]
        for span in ranges_for(load_elements(runtime=runtime, text=each), accepted[each.id])
    ]
    with _original(store, file) as original:
        target = original.parent / "deidentified.ogg"
        try:
            bleep(original, target, ranges)
        except AudioRedactionFailed as failure:
            with transaction(runtime.engine) as session:
                claim.fail(session, failure.reason)
            return
        with target.open("rb") as audio:
            chunks = iter(lambda: audio.read(1024 * 1024), b"")
            store.put_stream(store.derived, key, chunks, content_type="audio/ogg")
    try:
        with transaction(runtime.engine) as session:
            # Still the approval it was made for, and nobody withdrew meanwhile: else the
            # rendering (a voice) must not stay.
            current = sources_service.hold_generation(
                session=session, source_id=file.source_id, generation=generation
            )
            if current.deid_approved_at != approved_at:
                raise Superseded(str(file.source_id))
            claim.succeed(session)
    except BaseException:
        _remove_quietly(store, key)
        raise
