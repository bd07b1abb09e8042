"""Routes for sources, their originals and their text."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse
from sqlmodel import Session

from schemas.pages import Page
from schemas.sources import (
    ElementRead,
    SourceListQuery,
    SourceRead,
    SourceText,
    SpeakerAssignment,
    TextPart,
)
from service.access.service import (
    Use,
    ensure_consent_allows,
    ensure_may_delete_sources,
    ensure_may_read_identifiable_source,
    ensure_may_write_sources,
    ensure_source_visible,
    identifiable_closed,
    visible_sources,
)
from service.db import new_id
from service.deid import service as deid_service
from service.deps import AuditDep, CurrentUser, RuntimeDep, SessionDep
from service.errors import (
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    PayloadTooLarge,
    RangeNotSatisfiable,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
    responses,
)
from service.runtime import Runtime
from service.sources import service as sources_service
from service.sources.models import (
    File,
    FileKind,
    Level,
    ParticipantRole,
    Source,
    SourceStatus,
    SourceType,
)
from service.texts import service as texts_service
from service.texts.models import ExtractedText

router = APIRouter(tags=["sources"])

_UPLOAD_ERRORS = responses(
    Unauthorized,
    Forbidden,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    Unprocessable,
    ServiceUnavailable,
)


def _multipart_schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    file_parts = {
        "file": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "description": "One or more originals. Media types are sniffed from the content.",
        },
        "file_kind": {
            "type": "array",
            "items": {"type": "string", "enum": [k.value for k in FileKind]},
            "description": "One per file, in the same order; inferred from the content if none.",
        },
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {**properties, **file_parts},
                        "required": [*required, "file"],
                    }
                }
            },
        }
    }


_SOURCE_FIELDS = {
    "title": {"type": "string", "maxLength": 500},
    "source_type": {"type": "string", "enum": [t.value for t in SourceType]},
    "level": {"type": "string", "enum": [v.value for v in Level], "default": "local"},
    "site": {"type": "string", "description": "The site's code"},
    "occurred_on": {"type": "string", "format": "date"},
    "wave": {"type": "string"},
    "language": {"type": "string", "description": "BCP 47 tag, e.g. en or en-GB"},
    "tags": {"type": "array", "items": {"type": "string"}},
    "participants": {
        "type": "array",
        "items": {"type": "string"},
        "description": "Participant codes, each optionally with =<speaker label>: P-017=Nurse A",
    },
    "roles": {
        "type": "array",
        "items": {"type": "string", "enum": [r.value for r in ParticipantRole]},
    },
}


@router.post(
    "/sources",
    status_code=201,
    response_model=SourceRead,
    responses=_UPLOAD_ERRORS,
    openapi_extra=_multipart_schema(_SOURCE_FIELDS, ["title", "source_type"]),
)
def create_source(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: CurrentUser,
    audit: AuditDep,
) -> SourceRead:
    """Create a source with its originals (multipart: metadata fields and file parts)."""
    ensure_may_write_sources(principal)
    source_id = new_id()
    upload = sources_service.receive_request(
        request,
        runtime=runtime,
        key_prefix=str(source_id),
        check_fields=sources_service.parse_metadata,
    )
    with sources_service.undo_on_failure(session, runtime.store, upload):
        metadata = sources_service.parse_metadata(upload.fields)
        source = sources_service.create(
            session=session,
            principal=principal,
            metadata=metadata,
            upload=upload,
            settings=runtime.settings,
            source_id=source_id,
            submit=runtime.dispatcher.submit,
            cipher=runtime.cipher,
        )
        audit.record("source.create", "source", source.id, _files_detail(upload))
        return sources_service.describe(
            session=session,
            sources=[source],
            principal=principal,
            audit=audit,
            k=runtime.settings.disclosure_k,
        )[0]


@router.post(
    "/sources/{source_id}/files",
    status_code=201,
    response_model=SourceRead,
    responses={**_UPLOAD_ERRORS, **responses(NotFound)},
    openapi_extra=_multipart_schema({}, []),
)
def attach_files(
    source_id: uuid.UUID,
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: CurrentUser,
    audit: AuditDep,
) -> SourceRead:
    """Attach further originals to a source."""
    source = sources_service.get_or_raise(session=session, source_id=source_id)
    ensure_source_visible(session, principal, source)
    ensure_may_write_sources(principal, site_id=source.site_id)
    if identifiable_closed(session, source):
        # New material would be reviewed blind (its originals closed) beside theirs.
        raise Forbidden(
            "A participant in this source withdrew keeping de-identified use only, which "
            "closed it: add new material as a new source."
        )
    # Let go of the read transaction while the upload streams in.
    session.rollback()
    upload = sources_service.receive_request(
        request,
        runtime=runtime,
        key_prefix=str(source_id),
        check_fields=sources_service.check_attach_fields,
    )
    with sources_service.undo_on_failure(session, runtime.store, upload):
        source = sources_service.get_or_raise(session=session, source_id=source_id)
        sources_service.attach(
            session=session,
            principal=principal,
            source=source,
            upload=upload,
            settings=runtime.settings,
            submit=runtime.dispatcher.submit,
        )
        audit.record("source.attach", "source", source.id, _files_detail(upload))
        return sources_service.describe(
            session=session,
            sources=[source],
            principal=principal,
            audit=audit,
            k=runtime.settings.disclosure_k,
        )[0]


def _files_detail(upload: sources_service.Upload) -> dict[str, Any]:
    return {
        "files": [
            {"id": str(f.id), "sha256": f.stored.sha256, "size": f.stored.size}
            for f in upload.files
        ]
    }


@router.get(
    "/sources",
    response_model=Page[SourceRead],
    responses=responses(Unauthorized, Unprocessable),
)
def list_sources(
    runtime: RuntimeDep,
    session: SessionDep,
    principal: CurrentUser,
    audit: AuditDep,
    query: Annotated[SourceListQuery, Query()],
) -> Page[SourceRead]:
    """List sources, newest first, with filters and a cursor.

    Filters answer from the values shown to the caller (a generalised date matches a range
    only by its whole quarter); a page may come back short when many rows had to be examined:
    follow ``next_cursor`` until it is null."""
    rows, next_cursor = sources_service.list_page(
        session=session,
        filters=query,
        limit=query.limit,
        cursor=query.cursor,
        principal=principal,
        k=runtime.settings.disclosure_k,
        scan_rows=runtime.settings.list_scan_rows,
        visible=visible_sources(principal),
    )
    return Page(
        items=sources_service.describe(
            session=session,
            sources=rows,
            principal=principal,
            audit=audit,
            k=runtime.settings.disclosure_k,
        ),
        next_cursor=next_cursor,
    )


@router.get(
    "/sources/{source_id}",
    response_model=SourceRead,
    responses=responses(Unauthorized, NotFound),
)
def get_source(
    source_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: CurrentUser,
    audit: AuditDep,
) -> SourceRead:
    """A source's metadata, files and processing status."""
    source = sources_service.get_or_raise(session=session, source_id=source_id)
    ensure_source_visible(session, principal, source)
    return sources_service.describe(
        session=session,
        sources=[source],
        principal=principal,
        audit=audit,
        k=runtime.settings.disclosure_k,
    )[0]


@router.get(
    "/sources/{source_id}/text",
    response_model=SourceText,
    responses={
        **responses(Unauthorized, Forbidden, NotFound, Conflict),
        200: {
            "content": {"text/plain": {}, "text/vtt": {}},
            "description": "The text (format=text), WebVTT (format=vtt) or JSON",
        },
    },
)
def get_text(
    source_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: CurrentUser,
    audit: AuditDep,
    form: Literal["deidentified", "identifiable"] = "deidentified",
    format: Literal["text", "json", "vtt"] = "text",  # noqa: A002  (the public parameter name)
    file_id: uuid.UUID | None = None,
) -> Any:
    """The source's cleaned text: de-identified by default; ``identifiable`` for those entitled.

    A human transcript, once uploaded, is the source's text; the machine transcript of its
    recording stays available with ``file_id``. ``format=vtt`` gives timed segments as WebVTT.
    """
    source = sources_service.get_or_raise(session=session, source_id=source_id)
    ensure_source_visible(session, principal, source)
    with_elements = format != "text"
    if form == "deidentified":
        ensure_consent_allows(session, source, Use.share)
        parts = _deidentified_parts(session, runtime, source, with_elements)
    else:
        ensure_may_read_identifiable_source(session, principal, source)
        pairs = texts_service.require_text(session=session, source=source)
        audit.record("text.read_identifiable", "source", source.id, {"format": format})
        parts = [
            _part(runtime, f, t, t.content, None if not with_elements else _raw(runtime, t))
            for f, t in pairs
        ]
    parts = texts_service.choose(parts, file_id)
    if format == "text":
        return PlainTextResponse("\n\n".join(part.text for part in parts))
    if format == "vtt":
        return Response(texts_service.webvtt(parts), media_type="text/vtt; charset=utf-8")
    return SourceText(source_id=source.id, form=form, parts=parts)


def _raw(runtime: Runtime, text: ExtractedText) -> list[ElementRead]:
    return [
        ElementRead.model_validate(e)
        for e in texts_service.load_elements(runtime=runtime, text=text)
    ]


def _part(
    runtime: Runtime,
    file: File,
    text: ExtractedText,
    content: str,
    elements: list[ElementRead] | None,
) -> TextPart:
    return TextPart(
        file_id=file.id,
        file_kind=FileKind(file.kind),
        media_type=file.media_type,
        engine=text.engine,
        engine_version=text.engine_version,
        page_count=text.page_count,
        pages_without_text=file.pages_without_text or [],
        ocr_pages=text.ocr_pages,
        language=text.language,
        low_confidence_segments=sum(
            1 for e in elements or () if (e.metadata or {}).get("low_confidence")
        ),
        text=content,
        elements=elements or [],
    )


def _deidentified_parts(
    session: Session, runtime: Runtime, source: Source, with_elements: bool
) -> list[TextPart]:
    rendered_texts = deid_service.deidentified(
        session=session, cipher=runtime.cipher, source=source
    )
    loaded = {
        text.id: texts_service.load_elements(runtime=runtime, text=text) if with_elements else []
        for _file, text, _rendered in rendered_texts
    }
    # Speakers appear as pseudonyms or neutral labels, never as the labels themselves.
    speakers = deid_service.speaker_names(
        session=session,
        source=source,
        labels=[e["speaker"] for each in loaded.values() for e in each if e.get("speaker")],
    )
    result = []
    for file, text, rendered in rendered_texts:
        elements = []
        for e in loaded[text.id]:
            start = rendered.offsets.to_deidentified(e["start"])
            end = rendered.offsets.to_deidentified(e["end"], end=True)
            elements.append(
                ElementRead(
                    type=e["type"],
                    text=rendered.text[start:end],
                    start=start,
                    end=end,
                    page=e.get("page"),
                    speaker=speakers[e["speaker"]] if e.get("speaker") else None,
                    start_time=e.get("start_time"),
                    end_time=e.get("end_time"),
                )
            )
        result.append(_part(runtime, file, text, rendered.text, elements))
    return result


@router.patch(
    "/sources/{source_id}/segments",
    response_model=SourceText,
    responses=responses(Unauthorized, Forbidden, NotFound, Conflict, Unprocessable),
)
def assign_speakers(
    source_id: uuid.UUID,
    data: SpeakerAssignment,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: CurrentUser,
    audit: AuditDep,
) -> SourceText:
    """Assign a speaker to a range of segments (e.g. of a machine transcript)."""
    source = sources_service.get_or_raise(session=session, source_id=source_id)
    ensure_source_visible(session, principal, source)
    ensure_may_read_identifiable_source(session, principal, source)
    ensure_may_write_sources(principal, site_id=source.site_id)
    if data.last < data.first:
        raise Unprocessable("last comes before first.")
    changed = texts_service.assign_speaker(
        session=session,
        store=runtime.store,
        source=source,
        file_id=data.file_id,
        first=data.first,
        last=data.last,
        speaker=data.speaker,
    )
    audit.record(
        "segments.speaker",
        "source",
        source.id,
        {"file_id": str(data.file_id), "first": data.first, "last": data.last, "count": changed},
    )
    pairs = texts_service.require_text(session=session, source=source)
    parts = [
        _part(runtime, f, t, t.content, _raw(runtime, t)) for f, t in pairs if f.id == data.file_id
    ]
    return SourceText(source_id=source.id, form="identifiable", parts=parts)


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """One byte range as (start, end inclusive), or None for the whole file.

    Several ranges at once are answered with the whole file, which RFC 9110 allows.
    """
    if not header or "," in header:
        return None
    match = _RANGE.match(header.strip())
    if not match or (not match[1] and not match[2]):
        return None
    if not match[1]:
        length = int(match[2])
        if length == 0:
            raise RangeNotSatisfiable(
                "The requested range is empty.", headers={"Content-Range": f"bytes */{size}"}
            )
        return max(size - length, 0), size - 1
    start = int(match[1])
    end = int(match[2]) if match[2] else size - 1
    if start >= size or end < start:
        raise RangeNotSatisfiable(
            f"The file has {size} bytes; that range is outside it.",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return start, min(end, size - 1)


@router.get(
    "/sources/{source_id}/files/{file_id}/content",
    response_class=StreamingResponse,
    responses={
        **responses(Unauthorized, Forbidden, NotFound, Gone, RangeNotSatisfiable),
        200: {"content": {"application/octet-stream": {}}, "description": "The original"},
        206: {"description": "The requested byte range of the original"},
    },
)
def get_file_content(
    source_id: uuid.UUID,
    file_id: uuid.UUID,
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: CurrentUser,
    audit: AuditDep,
) -> Response:
    """The original, byte for byte, streamed; honours a single ``Range``."""
    source = sources_service.get_or_raise(session=session, source_id=source_id)
    ensure_source_visible(session, principal, source)
    ensure_may_read_identifiable_source(session, principal, source)
    file = sources_service.get_file_or_raise(session=session, source_id=source_id, file_id=file_id)
    if file.erased_at is not None:
        raise Gone(
            f"This original was erased on {file.erased_at:%Y-%m-%d} because a participant in it "
            "withdrew; the text of the others remains."
        )
    size = file.size_bytes
    byte_range = _parse_range(request.headers.get("range"), size)
    if request.headers.get("if-range") and request.headers["if-range"].strip('"') != file.sha256:
        byte_range = None
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": f'"{file.sha256}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": _attachment(file.original_filename or f"{file.id}"),
    }
    audit.record(
        "file.read",
        "file",
        file.id,
        {"source_id": str(source.id), "range": None if byte_range is None else list(byte_range)},
    )
    store = runtime.store
    if byte_range is None:
        headers["Content-Length"] = str(size)
        chunks = store.iter_range(store.originals, file.object_key)
        return StreamingResponse(chunks, media_type=file.media_type, headers=headers)
    start, end = byte_range
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    chunks = store.iter_range(
        store.originals, file.object_key, offset=start, length=end - start + 1
    )
    return StreamingResponse(chunks, status_code=206, media_type=file.media_type, headers=headers)


def _attachment(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


@router.delete(
    "/sources/{source_id}",
    status_code=204,
    responses=responses(Unauthorized, Forbidden, NotFound, ServiceUnavailable),
)
def delete_source(
    source_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: CurrentUser,
    audit: AuditDep,
) -> Response:
    """Delete a source with its originals and everything derived from them (admins only)."""
    ensure_may_delete_sources(principal)
    source = sources_service.get_or_raise(session=session, source_id=source_id)
    report = sources_service.delete_source(session=session, store=runtime.store, source=source)
    audit.record("source.delete", "source", source.id, report)
    return Response(status_code=204)


__all__ = ["router", "SourceStatus"]
