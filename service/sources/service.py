"""Sources and their originals: receiving uploads, listing, reading, deleting."""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from minio.error import S3Error
from pydantic import ValidationError
from sqlalchemy import delete, exists, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar
from starlette.requests import ClientDisconnect, Request
from urllib3.exceptions import HTTPError as Urllib3Error

from schemas.sources import (
    FileRead,
    ParticipantRef,
    SiteRef,
    SourceCreate,
    SourceFilters,
    SourceRead,
    WithdrawalHold,
)
from service.access.service import (
    NO_SOURCE,
    Use,
    ensure_may_write_sources,
    identifiable_closed_ids,
    may_read_identifiable,
    may_read_identifiable_everywhere,
    participants_lacking,
)
from service.audit.service import Recorder
from service.auth.service import Principal
from service.config import Settings
from service.db import after_commit, new_id, on_rollback, utcnow
from service.deid import disclosure
from service.deid import service as deid_service
from service.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unprocessable,
    UnsupportedMediaType,
)
from service.extraction import sniff
from service.jobs import service as jobs_service
from service.jobs.models import JobKind
from service.jobs.service import Superseded
from service.participants import service as participants_service
from service.participants.identity import IdentityCipher
from service.sites import service as sites_service
from service.sites.models import Site
from service.sources.models import (
    DeidStatus,
    ExtractionStatus,
    File,
    FileKind,
    Level,
    Source,
    SourceRole,
    SourceStatus,
    SourceType,
)
from service.sources.upload import MultipartReader, Part, request_chunks
from service.storage.service import ObjectStore, StoredObject, StoreUnavailable

if TYPE_CHECKING:
    from service.runtime import Runtime

log = logging.getLogger(__name__)

MAX_FILES_PER_REQUEST = 20
# Recordings: transcribed rather than extracted.
RECORDING_PREFIXES = ("audio/", "video/")


@dataclass
class IncomingFile:
    id: uuid.UUID
    key: str
    stored: StoredObject
    media_type: str
    filename: str | None


@dataclass
class Upload:
    fields: dict[str, list[str]]
    files: list[IncomingFile]


# -- receiving ---------------------------------------------------------------------------


def receive(
    *,
    reader: MultipartReader,
    store: ObjectStore,
    settings: Settings,
    key_prefix: str,
    check_fields: Callable[[dict[str, list[str]]], object] | None = None,
) -> Upload:
    """Stream every file part of an upload into the originals bucket; collect the fields.

    ``check_fields`` sees the fields sent before the first file, so that bad metadata is refused
    before gigabytes are uploaded. If anything fails (a refusal, the client going away, the
    store failing), every object this upload stored is removed before the error propagates.
    """
    fields: dict[str, list[str]] = {}
    files: list[IncomingFile] = []
    try:
        for part in reader.parts():
            if not part.is_file:
                fields.setdefault(part.name, []).append(part.text())
                continue
            if part.name != "file":
                raise Unprocessable(f"File parts must be named 'file', not {part.name!r}.")
            if len(files) >= MAX_FILES_PER_REQUEST:
                raise Unprocessable(f"Send at most {MAX_FILES_PER_REQUEST} files per request.")
            if not files and fields and check_fields is not None:
                check_fields(fields)
            files.append(_store_part(part, store=store, settings=settings, key_prefix=key_prefix))
    except BaseException:
        remove_objects(store, [f.key for f in files])
        raise
    return Upload(fields=fields, files=files)


def receive_request(
    request: Request,
    *,
    runtime: Runtime,
    key_prefix: str,
    check_fields: Callable[[dict[str, list[str]]], object],
) -> Upload:
    """Stream a multipart request's files into the object store under ``key_prefix``."""
    # A request can carry several files; refuse at once only what no valid request could be.
    declared = request.headers.get("content-length")
    limit = runtime.settings.max_upload_bytes * MAX_FILES_PER_REQUEST + 1024**2
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request is larger than the limit of {limit:,} bytes.")
    reader = MultipartReader(request_chunks(request), request.headers.get("content-type"))
    try:
        return receive(
            reader=reader,
            store=runtime.store,
            settings=runtime.settings,
            key_prefix=key_prefix,
            check_fields=check_fields,
        )
    except ClientDisconnect:
        raise BadRequest("The client disconnected before the upload finished.") from None


def _limited(chunks: Iterator[bytes], limit: int, filename: str | None) -> Iterator[bytes]:
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > limit:
            name = f" {filename!r}" if filename else ""
            raise PayloadTooLarge(
                f"The file{name} is larger than the limit of {limit:,} bytes; nothing was stored."
            )
        yield chunk


def _refuse_early(head: bytes, filename: str | None) -> None:
    """Refuse what the first bytes already rule out, before the rest is uploaded."""
    try:
        sniff.sniff(head, filename=filename, open_seekable=None, size=None)
    except sniff.UnsupportedMediaType as exc:
        # ZIP and OLE2 containers (DOCX, DOC, MSG...) are judged once their directory is
        # readable from the stored object.
        if not sniff.needs_container_look(head):
            raise UnsupportedMediaType(exc.reason) from exc


def _store_part(
    part: Part, *, store: ObjectStore, settings: Settings, key_prefix: str
) -> IncomingFile:
    file_id = new_id()
    # Keys are ours alone: a prefix we choose and a fresh id, never anything the client sent.
    key = f"{key_prefix}/{file_id}"
    filename = sniff.sanitise_filename(part.filename)
    try:
        stored = store.put_stream(
            store.originals,
            key,
            _limited(part.chunks(), settings.max_upload_bytes, filename),
            on_head=lambda head: _refuse_early(head, filename),
        )
    except (S3Error, Urllib3Error, StoreUnavailable, OSError) as exc:
        log.warning("object store failed during upload: %s", type(exc).__name__)
        raise ServiceUnavailable(
            "The object store is unavailable; nothing was stored. Try again shortly."
        ) from exc
    try:
        if stored.size == 0:
            raise UnsupportedMediaType(f"The file{_named(filename)} is empty; nothing was stored.")

        def open_seekable() -> Any:
            return store.open_seekable(store.originals, key, stored.size)

        try:
            media_type = sniff.sniff(
                stored.head, filename=filename, open_seekable=open_seekable, size=stored.size
            )
        except sniff.UnsupportedMediaType as exc:
            raise UnsupportedMediaType(exc.reason) from exc
        except (S3Error, Urllib3Error, StoreUnavailable, OSError) as exc:
            raise ServiceUnavailable(
                "The object store stopped answering while the file was checked; nothing was "
                "stored. Try again shortly."
            ) from exc
    except BaseException:
        remove_objects(store, [key])
        raise
    return IncomingFile(
        id=file_id, key=key, stored=stored, media_type=media_type, filename=filename
    )


def _named(filename: str | None) -> str:
    return f" {filename!r}" if filename else ""


def remove_objects(store: ObjectStore, keys: list[str]) -> None:
    for key in keys:
        try:
            store.remove(store.originals, key)
        except Exception:  # noqa: BLE001  (cleanup of a failed upload: log and go on)
            log.error("could not remove object %s after a failed upload", key)


# -- creating ----------------------------------------------------------------------------


def parse_metadata(fields: dict[str, list[str]]) -> SourceCreate:
    """Form fields to validated metadata; repeated or comma-separated lists for tags and roles."""
    allowed = set(SourceCreate.model_fields) | {"file_kind"}
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise Unprocessable(f"Unknown field(s): {', '.join(unknown)}.")
    data: dict[str, Any] = {}
    for name, values in fields.items():
        if name == "file_kind":
            continue
        if name in ("tags", "roles", "participants"):
            data[name] = [v.strip() for value in values for v in value.split(",") if v.strip()]
        elif len(values) > 1:
            raise Unprocessable(f"The field {name!r} was sent {len(values)} times.")
        else:
            data[name] = values[0].strip() or None
    try:
        return SourceCreate.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise Unprocessable(problems) from exc


def file_kinds(fields: dict[str, list[str]], files: list[IncomingFile]) -> list[FileKind]:
    """Pair ``file_kind`` values with file parts in order; infer them when none are given."""
    given = fields.get("file_kind", [])
    if not given:
        return [_infer_kind(f.media_type) for f in files]
    if len(given) != len(files):
        raise Unprocessable(
            f"Send one file_kind per file part, in the same order: got {len(given)} file_kind "
            f"value(s) for {len(files)} file(s)."
        )
    kinds = []
    for value in given:
        try:
            kinds.append(FileKind(value.strip()))
        except ValueError:
            choices = ", ".join(k.value for k in FileKind)
            raise Unprocessable(f"file_kind {value!r} is not one of: {choices}.") from None
    return kinds


def _infer_kind(media_type: str) -> FileKind:
    if media_type.startswith(RECORDING_PREFIXES):
        return FileKind.recording
    if media_type in ("text/vtt", "application/x-subrip"):
        return FileKind.transcript
    return FileKind.document


@contextmanager
def undo_on_failure(session: Session, store: ObjectStore, upload: Upload) -> Iterator[None]:
    """Remove the upload's objects if this block raises or the transaction never commits."""
    keys = [f.key for f in upload.files]
    on_rollback(session, lambda: remove_objects(store, keys))
    try:
        yield
    except BaseException:
        remove_objects(store, keys)
        raise


def create(
    *,
    session: Session,
    principal: Principal,
    metadata: SourceCreate,
    upload: Upload,
    settings: Settings,
    source_id: uuid.UUID,
    submit: Any,
    cipher: IdentityCipher,
) -> Source:
    """Create a source with the originals just stored; queue their extraction."""
    if not upload.files:
        raise Unprocessable("Attach at least one original as a 'file' part.")
    kinds = file_kinds(upload.fields, upload.files)
    site = _resolve_site(session, metadata.site)
    ensure_may_write_sources(principal, site_id=site.id if site else None)
    links = participants_service.parse_links(metadata.participants)
    if deid_service.names_a_known_person(
        session=session,
        cipher=cipher,
        texts=[metadata.title, *metadata.tags],
        labels=[link.speaker_label for link in links if link.speaker_label],
    ):
        # Titles and tags are metadata: every user sees them, and nothing de-identifies them.
        raise Unprocessable(
            "The title or a tag names a person the archive knows (a participant, a speaker, or "
            "a name a reviewer confirmed). Every user sees titles and tags: describe the source "
            "with participant codes such as P-017 instead; nothing was stored."
        )
    source = Source(
        id=source_id,
        title=metadata.title,
        source_type=metadata.source_type,
        level=metadata.level,
        site_id=site.id if site else None,
        occurred_on=metadata.occurred_on,
        wave=metadata.wave,
        language=metadata.language,
        tags=metadata.tags,
        created_by=principal.user_id,
    )
    session.add(source)
    for role in metadata.roles:
        session.add(SourceRole(source_id=source.id, role=role))
    session.flush()
    if metadata.participants:
        participants_service.link(
            session=session,
            principal=principal,
            source=source,
            links=participants_service.parse_links(metadata.participants),
        )
    _add_files(session, source, upload.files, kinds, principal, settings, submit)
    refresh_status(session=session, source_id=source.id)
    return source


def attach(
    *,
    session: Session,
    principal: Principal,
    source: Source,
    upload: Upload,
    settings: Settings,
    submit: Any,
) -> list[File]:
    """Attach further originals to an existing source."""
    lock(session=session, source_id=source.id)
    check_attach_fields(upload.fields)
    if not upload.files:
        raise Unprocessable("Attach at least one original as a 'file' part.")
    kinds = file_kinds(upload.fields, upload.files)
    files = _add_files(session, source, upload.files, kinds, principal, settings, submit)
    if any(f.extraction_status != ExtractionStatus.not_applicable for f in files):
        # New text is coming: what was approved no longer covers the whole source.
        deid_service.reopen(session=session, source=source)
    source.updated_at = utcnow()
    session.add(source)
    refresh_status(session=session, source_id=source.id)
    return files


def check_attach_fields(fields: dict[str, list[str]]) -> None:
    unknown = sorted(set(fields) - {"file_kind"})
    if unknown:
        raise Unprocessable(
            f"Only file_kind fields may accompany the files; got {', '.join(unknown)}."
        )


def _add_files(
    session: Session,
    source: Source,
    incoming: list[IncomingFile],
    kinds: list[FileKind],
    principal: Principal,
    settings: Settings,
    submit: Any,
) -> list[File]:
    seen: dict[str, int] = {}
    for index, item in enumerate(incoming):
        if item.stored.sha256 in seen:
            raise Conflict(
                f"File parts {seen[item.stored.sha256] + 1} and {index + 1} have identical "
                "content; nothing was stored."
            )
        seen[item.stored.sha256] = index
    existing = session.exec(
        select(File).where(File.source_id == source.id, col(File.sha256).in_(list(seen)))
    ).first()
    if existing is not None:
        raise Conflict(
            f"This source already has a file with identical content ({existing.id}); "
            "nothing was stored.",
            existing_file_id=str(existing.id),
        )

    recordings = [item.media_type.startswith(RECORDING_PREFIXES) for item in incoming]
    # Consent is looked up only when a recording comes: documents never wait for it.
    lacking = participants_lacking(session, source, Use.transcribe) if any(recordings) else []
    files = []
    for item, kind, recording in zip(incoming, kinds, recordings, strict=True):
        extractable = kind is not FileKind.consent_form
        held = extractable and recording and bool(lacking)
        file = File(
            id=item.id,
            source_id=source.id,
            kind=kind,
            object_key=item.key,
            size_bytes=item.stored.size,
            sha256=item.stored.sha256,
            media_type=item.media_type,
            original_filename=item.filename,
            extraction_status=(
                ExtractionStatus.held
                if held
                else ExtractionStatus.pending
                if extractable
                else ExtractionStatus.not_applicable
            ),
            extraction_reason=held_reason(lacking) if held else None,
            created_by=principal.user_id,
        )
        session.add(file)
        files.append(file)
    try:
        session.flush()
    except IntegrityError as exc:
        # Two uploads of the same bytes raced; the other one won.
        raise Conflict("This source already has a file with identical content.") from exc
    for file in files:
        if file.extraction_status == ExtractionStatus.pending:
            _enqueue_text_job(session, file, submit, settings)
    return files


def _enqueue_text_job(session: Session, file: File, submit: Any, settings: Settings) -> None:
    """Extraction for documents and transcripts; transcription for recordings."""
    jobs_service.enqueue(
        session=session,
        kind=JobKind.transcribe if is_recording(file) else JobKind.extract,
        submit=submit,
        max_attempts=settings.job_max_attempts,
        source_id=file.source_id,
        file_id=file.id,
    )


def restart_text_job(
    *, session: Session, file_id: uuid.UUID, submit: Any, settings: Settings
) -> bool:
    """Queue the file's extraction or transcription again after a job of it was overtaken by a
    change to its source (its result discarded), so the file is not left ``running``; nothing
    for a file that went or was erased meanwhile. The new job begins at the new generation."""
    file = session.get(File, file_id)
    if file is None or file.erased_at is not None:
        return False
    lock(session=session, source_id=file.source_id)
    session.refresh(file)
    if file.extraction_status != ExtractionStatus.running:
        return False
    file.extraction_status = ExtractionStatus.pending
    file.extraction_reason = None
    session.add(file)
    session.flush()
    _enqueue_text_job(session, file, submit, settings)
    refresh_status(session=session, source_id=file.source_id)
    return True


def is_recording(file: File) -> bool:
    return file.media_type.startswith(RECORDING_PREFIXES)


def held_reason(codes: list[str]) -> str:
    return (
        f"Transcription waits for consent to transcribe from {', '.join(codes)}; it starts "
        "once their consent includes the transcribe scope."
    )


def release_held(*, session: Session, source: Source, submit: Any, settings: Settings) -> int:
    """Start the transcription of recordings held for consent that is now given; hold again
    (or keep holding) those whose participants still lack it. Returns how many started."""
    lock(session=session, source_id=source.id)
    lacking = participants_lacking(session, source, Use.transcribe)
    started = 0
    for file in session.exec(
        select(File).where(
            File.source_id == source.id,
            col(File.extraction_status).in_([ExtractionStatus.held, ExtractionStatus.pending]),
        )
    ):
        if not is_recording(file):
            continue
        if lacking:
            if file.extraction_status == ExtractionStatus.held:
                file.extraction_reason = held_reason(lacking)
                session.add(file)
            continue
        if file.extraction_status == ExtractionStatus.held:
            file.extraction_status = ExtractionStatus.pending
            file.extraction_reason = None
            session.add(file)
            session.flush()
            _enqueue_text_job(session, file, submit, settings)
            started += 1
    session.flush()
    refresh_status(session=session, source_id=source.id)
    return started


def _resolve_site(session: Session, code: str | None) -> Site | None:
    if code is None:
        return None
    site = sites_service.get_by_code(session=session, code=code)
    if site is None:
        raise Unprocessable(f"No site with the code {code!r}; create it first with POST /sites.")
    return site


# -- status ------------------------------------------------------------------------------


def hold_generation(*, session: Session, source_id: uuid.UUID, generation: int) -> Source:
    """Lock the source for the final write of work that began at ``generation``; raise
    ``Superseded`` if it was deleted, or withdrawn, cut or held, since then.

    The comparison is an UPDATE, so it waits for a withdrawal in progress (PostgreSQL's row
    lock, SQLite's single writer) and judges what that withdrawal committed.
    """
    held = session.execute(
        update(Source)
        .where(col(Source.id) == source_id, col(Source.generation) == generation)
        .values(generation=generation)
    )
    if held.rowcount != 1:  # type: ignore[attr-defined]
        raise Superseded(str(source_id))
    source = session.get(Source, source_id)
    assert source is not None
    return source


def bump_generation(*, session: Session, source_id: uuid.UUID) -> None:
    """Fence off work in flight on the source: whatever began before this writes nothing."""
    session.execute(
        update(Source).where(col(Source.id) == source_id).values(generation=Source.generation + 1)
    )


def lock(*, session: Session, source_id: uuid.UUID) -> Source | None:
    """Lock the source's row (PostgreSQL; SQLite has one writer anyway) before touching its
    files, text or jobs. Every transaction that will end in ``refresh_status`` takes this lock
    first, so two of them never each hold a foreign-key share lock the other needs."""
    return session.exec(select(Source).where(Source.id == source_id).with_for_update()).first()


def refresh_status(*, session: Session, source_id: uuid.UUID) -> Source:
    """Derive the source's status from its files' extraction.

    The caller has already written to the file row, so on SQLite this runs under the write
    lock; on PostgreSQL the source row is locked, so two jobs finishing at once cannot both
    miss each other's result.
    """
    source = session.exec(select(Source).where(Source.id == source_id).with_for_update()).one()
    files = list(
        session.exec(select(File).where(File.source_id == source_id).order_by(col(File.id)))
    )
    relevant = [f for f in files if f.extraction_status != ExtractionStatus.not_applicable]
    states = {f.extraction_status for f in relevant}
    reason = None
    if ExtractionStatus.running in states:
        status = SourceStatus.extracting
    elif ExtractionStatus.pending in states:
        status = SourceStatus.extracting if len(states) > 1 else SourceStatus.received
    elif ExtractionStatus.failed in states:
        status = SourceStatus.failed
        reason = " ".join(
            f"File {f.id}: {f.extraction_reason}"
            for f in relevant
            if f.extraction_status == ExtractionStatus.failed
        )
    else:
        status = SourceStatus.ready
        noted = [
            f
            for f in relevant
            if f.extraction_status in (ExtractionStatus.partial, ExtractionStatus.held)
        ]
        if noted:
            reason = " ".join(f"File {f.id}: {f.extraction_reason}" for f in noted)
    if source.status != status or source.status_reason != reason:
        source.status = status
        source.status_reason = reason
        source.updated_at = utcnow()
        session.add(source)
    return source


# -- reading -----------------------------------------------------------------------------


def get_or_raise(*, session: Session, source_id: uuid.UUID) -> Source:
    source = session.get(Source, source_id)
    if source is None:
        raise NotFound(NO_SOURCE)
    return source


def get_file_or_raise(*, session: Session, source_id: uuid.UUID, file_id: uuid.UUID) -> File:
    file = session.get(File, file_id)
    if file is None or file.source_id != source_id:
        raise NotFound("No file with that id in this source.")
    return file


def files_of(*, session: Session, source_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[File]]:
    result: dict[uuid.UUID, list[File]] = {sid: [] for sid in source_ids}
    if source_ids:
        for file in session.exec(
            select(File).where(col(File.source_id).in_(source_ids)).order_by(col(File.id))
        ):
            result[file.source_id].append(file)
    return result


def roles_of(*, session: Session, source_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    result: dict[uuid.UUID, list[str]] = {sid: [] for sid in source_ids}
    if source_ids:
        for row in session.exec(
            select(SourceRole)
            .where(col(SourceRole.source_id).in_(source_ids))
            .order_by(col(SourceRole.role))
        ):
            result[row.source_id].append(row.role)
    return result


def encode_cursor(source_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(source_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str) -> uuid.UUID:
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise Unprocessable("The cursor is not one this service issued.") from None


def list_page(
    *,
    session: Session,
    filters: SourceFilters,
    limit: int,
    cursor: str | None,
    principal: Principal,
    k: int,
    scan_rows: int,
    visible: Any | None = None,
) -> tuple[list[Source], str | None]:
    """Newest first, by keyset on the time-ordered id: each page is an index range scan.

    Filters on role, participant and date answer from the values the viewer is shown
    (``disclosure.answers``). The SQL pre-filter lets through every source that can match;
    rows the shown values rule out are dropped, and further rows fetched so that pages stay
    full. At most ``scan_rows`` rows are examined per request: past that the page is returned
    as it stands (perhaps short) with a cursor to go on from.
    """
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise Unprocessable("date_from is after date_to.")
    site_id = None
    if filters.site is not None:
        site = sites_service.get_by_code(session=session, code=filters.site)
        if site is None:
            raise Unprocessable(f"No site with the code {filters.site!r}.")
        site_id = site.id
    position = decode_cursor(cursor) if cursor is not None else None
    exact = may_read_identifiable_everywhere(principal) or not disclosure.probing(filters)

    def fetch(after: uuid.UUID | None, count: int) -> list[Source]:
        query = keyset_query(
            filters=filters, site_id=site_id, after=after, count=count, widen=not exact
        )
        if visible is not None:
            query = query.where(visible)
        return list(session.exec(query))

    if exact:
        rows = fetch(position, limit + 1)
        next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
        return rows[:limit], next_cursor

    matched: list[Source] = []
    scanned = 0
    while len(matched) <= limit and scanned < scan_rows:
        wanted = min(limit + 1 - len(matched), scan_rows - scanned)
        batch = fetch(position, wanted)
        scanned += len(batch)
        roles = roles_of(session=session, source_ids=[s.id for s in batch])
        for source in batch:
            shown = disclosure.view(
                session=session, principal=principal, source=source, roles=roles[source.id], k=k
            )
            if disclosure.answers(shown, filters):
                matched.append(source)
        if len(batch) < wanted:  # no rows left
            return matched, None
        position = batch[-1].id
    if len(matched) > limit:
        return matched[:limit], encode_cursor(matched[limit - 1].id)
    # Out of budget. Going on from the last row returned, not the last row examined, keeps the
    # id of a dropped row out of the cursor, unless no row at all was returned.
    return matched, encode_cursor(matched[-1].id if matched else position)  # type: ignore[arg-type]


def keyset_query(
    *,
    filters: SourceFilters,
    site_id: uuid.UUID | None,
    after: uuid.UUID | None,
    count: int,
    widen: bool = False,
) -> SelectOfScalar[Source]:
    """``count`` filtered sources older than ``after``, newest first.

    ``widen`` makes the role and date conditions a pre-filter for viewers shown generalised
    values: the role's whole group, the dates' whole quarters (``disclosure.answers`` decides).
    """
    query = select(Source)
    if site_id is not None:
        query = query.where(Source.site_id == site_id)
    if filters.role is not None:
        roles = disclosure.group_roles(filters.role) if widen else [filters.role]
        query = query.where(
            exists().where(SourceRole.source_id == Source.id, col(SourceRole.role).in_(roles))  # type: ignore[arg-type]
        )
    if filters.participant is not None:
        query = query.where(participants_service.has_participant(filters.participant))
    if filters.source_type is not None:
        query = query.where(Source.source_type == filters.source_type)
    if filters.level is not None:
        query = query.where(Source.level == filters.level)
    if filters.status is not None:
        query = query.where(Source.status == filters.status)
    if widen:
        since, before = disclosure.quarter_span(filters.date_from, filters.date_to)
        if since is not None:
            query = query.where(col(Source.occurred_on) >= since)
        if before is not None:
            query = query.where(col(Source.occurred_on) < before)
    else:
        if filters.date_from is not None:
            query = query.where(col(Source.occurred_on) >= filters.date_from)
        if filters.date_to is not None:
            query = query.where(col(Source.occurred_on) <= filters.date_to)
    if after is not None:
        query = query.where(col(Source.id) < after)
    return query.order_by(col(Source.id).desc()).limit(count)


# -- deleting ----------------------------------------------------------------------------


def delete_source(*, session: Session, store: ObjectStore, source: Source) -> dict[str, Any]:
    """Remove a source's objects (originals and derived), then its rows; return what went,
    with checksums, for the audit log.

    Objects go first: should the database step fail, a retry finds no objects and finishes,
    whereas the other order could leave identifiable originals behind with no row to find them.
    """
    files = files_of(session=session, source_ids=[source.id])[source.id]
    prefix = f"{source.id}/"
    try:
        removed = store.remove_prefix(store.originals, prefix)
        removed += store.remove_prefix(store.derived, prefix)
    except (S3Error, Urllib3Error, StoreUnavailable, OSError) as exc:
        raise ServiceUnavailable(
            "The object store is unavailable; the source was not deleted. Try again shortly."
        ) from exc
    session.execute(delete(Source).where(Source.id == source.id))  # type: ignore[arg-type]
    # An extraction that finished between the removal above and this commit may have written
    # its elements meanwhile; sweep the derived prefix once more when the rows are gone.
    after_commit(session, lambda: _sweep_prefix(store, store.derived, prefix))
    return {
        "objects_removed": removed,
        "files": [{"id": str(f.id), "sha256": f.sha256, "size": f.size_bytes} for f in files],
    }


def _sweep_prefix(store: ObjectStore, bucket: str, prefix: str) -> None:
    try:
        store.remove_prefix(bucket, prefix)
    except Exception:  # noqa: BLE001  (best effort; the extraction job cleans up after itself)
        log.warning("could not sweep %s/%s after a deletion", bucket, prefix)


def describe(
    *,
    session: Session,
    sources: list[Source],
    principal: Principal,
    audit: Recorder,
    k: int = 3,
) -> list[SourceRead]:
    """The API view of sources, with files, roles, sites and latest jobs in four queries.

    Original filenames often name a participant, so only those entitled to identifiable
    material see them, and showing them is an identifiable read, as is showing which speaker
    label is which participant: one audit event per call names the sources (never the names).
    The reasons in ``status_reason`` name files by id for the same reason. Date, roles and
    participants are what ``disclosure.view`` allows the principal.
    """
    ids = [s.id for s in sources]
    files = files_of(session=session, source_ids=ids)
    roles = roles_of(session=session, source_ids=ids)
    links = participants_service.links_of(session=session, source_ids=ids)
    jobs = jobs_service.latest_for_files(
        session=session, file_ids=[f.id for fs in files.values() for f in fs]
    )
    closed = identifiable_closed_ids(session=session, source_ids=ids)
    site_ids = {s.site_id for s in sources if s.site_id is not None}
    sites = (
        {site.id: site for site in session.exec(select(Site).where(col(Site.id).in_(site_ids)))}
        if site_ids
        else {}
    )
    result = []
    for source in sources:
        site = sites.get(source.site_id) if source.site_id else None
        identifiable = may_read_identifiable(principal, site_id=source.site_id)
        view = disclosure.view(
            session=session, principal=principal, source=source, roles=roles[source.id], k=k
        )
        result.append(
            SourceRead(
                id=source.id,
                title=source.title,
                source_type=SourceType(source.source_type),
                level=Level(source.level),
                site=SiteRef(id=site.id, code=site.code) if site else None,
                occurred_on=view.occurred_on,
                occurred_period=view.occurred_period,
                disclosure=view.disclosure,
                wave=source.wave,
                language=source.language,
                tags=list(source.tags or []),
                roles=view.roles,
                participants=[
                    # A speaker label is often a name: identifiable tier.
                    ParticipantRef(
                        code=p.code,
                        speaker_label=label if identifiable and source.id not in closed else None,
                    )
                    for p, label in links[source.id]
                    if view.shows_participants
                ],
                status=SourceStatus(source.status),
                status_reason=source.status_reason,
                deid_status=DeidStatus(source.deid_status),
                withdrawal_hold=(
                    WithdrawalHold(
                        at=source.withdrawal_hold_at, reason=source.withdrawal_hold_reason
                    )
                    if source.withdrawal_hold_at is not None
                    else None
                ),
                files=[
                    FileRead.model_validate(f).model_copy(
                        update={
                            "job_id": jobs.get(f.id),
                            "original_filename": (
                                f.original_filename
                                if identifiable and source.id not in closed
                                else None
                            ),
                        }
                    )
                    for f in files[source.id]
                ],
                created_at=source.created_at,
                updated_at=source.updated_at,
            )
        )
    # Judged on what the response shows, so no branch above can show a name unrecorded.
    files_shown = {str(r.id): sum(f.original_filename is not None for f in r.files) for r in result}
    labels_shown = {
        str(r.id): sum(p.speaker_label is not None for p in r.participants) for r in result
    }
    named = [sid for sid in files_shown if files_shown[sid] or labels_shown[sid]]
    if named:
        only = named[0] if len(named) == 1 else None
        detail = {
            "sources": named,
            "files": sum(files_shown.values()),
            "speaker_labels": sum(labels_shown.values()),
        }
        audit.record("source.identifiable_fields_read", "source", only, detail)
    return result
