"""Routes for reviewing redactions, the anonymisation log, the pseudonym registry and term lists."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse
from sqlmodel import Session, col, select

from schemas.deid import (
    AllowTermCreate,
    AllowTermRead,
    PseudonymRead,
    PseudonymUpdate,
    RedactionCreate,
    RedactionList,
    RedactionRead,
    RedactionUpdate,
    TermCreate,
    TermRead,
)
from service.access.service import (
    Use,
    ensure_consent_allows,
    ensure_may_read_identifiable,
    ensure_may_write_sources,
    ensure_source_visible,
    identifiable_closed,
    identifiable_closed_ids,
)
from service.auth.service import Principal
from service.deid import service as deid_service
from service.deid.models import Redaction, Term
from service.deps import AdminUser, AuditDep, CurrentUser, RuntimeDep, SessionDep
from service.errors import Conflict, Forbidden, NotFound, Unauthorized, Unprocessable, responses
from service.jobs import service as jobs_service
from service.jobs.models import JobKind
from service.participants.identity import IdentityCipher
from service.sources import service as sources_service
from service.sources.models import Source
from service.texts.models import ExtractedText

router = APIRouter(tags=["de-identification"])


def _reviewable(session: Session, principal: Principal, source_id: uuid.UUID) -> Source:
    """The source, if this user may see its identifiable text (redactions show the originals)."""
    source = sources_service.get_or_raise(session=session, source_id=source_id)
    ensure_source_visible(session, principal, source)
    ensure_may_read_identifiable(principal, site_id=source.site_id)
    return source


def _reads(
    session: Session, cipher: IdentityCipher, redactions: list[Redaction]
) -> list[RedactionRead]:
    """Redactions as shown to reviewers and in the anonymisation log. Reading never settles a
    pseudonym (only approval does), and the words replaced are left out where a withdrawal
    closed the source's identifiable tier."""
    registry = deid_service.Registry(session, cipher)
    closed = identifiable_closed_ids(
        session=session, source_ids=list({r.source_id for r in redactions})
    )
    texts: dict[uuid.UUID, ExtractedText] = {}
    result = []
    for r in redactions:
        if r.text_id not in texts:
            text = session.get(ExtractedText, r.text_id)
            assert text is not None
            texts[r.text_id] = text
        text = texts[r.text_id]
        original = text.content[r.start : r.end]
        result.append(
            RedactionRead(
                id=r.id,
                file_id=text.file_id,
                start=r.start,
                end=r.end,
                entity_type=r.entity_type,
                original=None if r.source_id in closed else original,
                replacement=r.replacement or registry.preview(r.entity_type, original),
                score=r.score,
                origin=r.origin,
                reason=r.reason,
                status=r.status,
                decided_by=r.decided_by,
                decided_at=r.decided_at,
            )
        )
    return result


@router.get(
    "/sources/{source_id}/redactions",
    response_model=RedactionList,
    responses=responses(Unauthorized, Forbidden, NotFound),
)
def list_redactions(
    source_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: CurrentUser,
    audit: AuditDep,
) -> RedactionList:
    """The source's suggested and decided redactions, with the words they replace."""
    source = _reviewable(session, principal, source_id)
    redactions = deid_service.redactions_of(session=session, source_id=source.id)
    audit.record("redactions.read", "source", source.id, {"count": len(redactions)})
    return RedactionList(
        source_id=source.id,
        deid_status=source.deid_status,
        items=_reads(session, runtime.cipher, redactions),
    )


@router.post(
    "/sources/{source_id}/redactions",
    status_code=201,
    response_model=RedactionRead,
    responses=responses(Unauthorized, Forbidden, NotFound, Conflict, Unprocessable),
)
def add_redaction(
    source_id: uuid.UUID,
    data: RedactionCreate,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: CurrentUser,
    audit: AuditDep,
) -> RedactionRead:
    """Mark a span the detector missed; it is accepted, and an approved source returns to review."""
    source = _reviewable(session, principal, source_id)
    ensure_may_write_sources(principal, site_id=source.site_id)
    redaction = deid_service.add_redaction(
        session=session,
        source=source,
        file_id=data.file_id,
        start=data.start,
        end=data.end,
        entity_type=data.entity_type,
        replacement=data.replacement,
        user_id=principal.user_id,
    )
    audit.record(
        "redaction.add",
        "source",
        source.id,
        {"redaction_id": str(redaction.id), "start": data.start, "end": data.end},
    )
    return _reads(session, runtime.cipher, [redaction])[0]


@router.patch(
    "/sources/{source_id}/redactions/{redaction_id}",
    response_model=RedactionRead,
    responses=responses(Unauthorized, Forbidden, NotFound, Conflict, Unprocessable),
)
def update_redaction(
    source_id: uuid.UUID,
    redaction_id: uuid.UUID,
    data: RedactionUpdate,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: CurrentUser,
    audit: AuditDep,
) -> RedactionRead:
    """Accept or reject a suggestion, or change a replacement."""
    source = _reviewable(session, principal, source_id)
    ensure_may_write_sources(principal, site_id=source.site_id)
    if data.status is None and data.replacement is None:
        raise Unprocessable("Send a status (accepted or rejected), a replacement, or both.")
    redaction = deid_service.update_redaction(
        session=session,
        source=source,
        redaction_id=redaction_id,
        status=data.status,
        replacement=data.replacement,
        user_id=principal.user_id,
    )
    audit.record(
        "redaction.update",
        "source",
        source.id,
        {"redaction_id": str(redaction.id), "status": redaction.status},
    )
    return _reads(session, runtime.cipher, [redaction])[0]


@router.post(
    "/sources/{source_id}/redactions/approve",
    response_model=RedactionList,
    responses=responses(Unauthorized, Forbidden, NotFound, Conflict),
)
def approve(
    source_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: CurrentUser,
    audit: AuditDep,
) -> RedactionList:
    """Publish the de-identified text once every suggestion is decided."""
    source = _reviewable(session, principal, source_id)
    ensure_may_write_sources(principal, site_id=source.site_id)
    deid_service.approve(
        session=session, cipher=runtime.cipher, source=source, user_id=principal.user_id
    )
    # Recordings get their de-identified audio: a tone over every accepted redaction; none
    # where a participant withdrew their voice with the identifiable tier.
    recordings = (
        []
        if identifiable_closed(session, source)
        else deid_service.recordings_to_redact(session=session, source=source)
    )
    for recording in recordings:
        jobs_service.enqueue(
            session=session,
            kind=JobKind.redact_audio,
            submit=runtime.dispatcher.submit,
            max_attempts=runtime.settings.job_max_attempts,
            source_id=source.id,
            file_id=recording.id,
        )
    redactions = deid_service.redactions_of(session=session, source_id=source.id)
    audit.record(
        "deid.approve",
        "source",
        source.id,
        {"accepted": sum(r.status == "accepted" for r in redactions)},
    )
    return RedactionList(
        source_id=source.id,
        deid_status=source.deid_status,
        items=_reads(session, runtime.cipher, redactions),
    )


# -- the anonymisation log -------------------------------------------------------------------

LOG_COLUMNS = [
    "source_id",
    "file_id",
    "start",
    "end",
    "entity_type",
    "original",
    "replacement",
    "status",
    "origin",
    "reason",
    "score",
    "decided_by",
    "decided_at",
]


def _log_rows(session: Session, cipher: IdentityCipher, sources: list[Source]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(LOG_COLUMNS)
    for source in sources:
        for read in _reads(
            session, cipher, deid_service.redactions_of(session=session, source_id=source.id)
        ):
            writer.writerow(
                [
                    source.id,
                    read.file_id,
                    read.start,
                    read.end,
                    read.entity_type,
                    read.original or "",
                    read.replacement,
                    read.status,
                    read.origin,
                    read.reason.plain() if read.reason else "",
                    "" if read.score is None else read.score,
                    read.decided_by or "",
                    read.decided_at.isoformat() if read.decided_at else "",
                ]
            )
    yield buffer.getvalue()


def _csv(body: Iterator[str], name: str) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/sources/{source_id}/files/{file_id}/deidentified-audio",
    response_class=StreamingResponse,
    responses={
        **responses(Unauthorized, Forbidden, NotFound, Conflict),
        200: {"content": {"audio/ogg": {}}, "description": "The recording, redactions toned out"},
    },
)
def deidentified_audio(
    source_id: uuid.UUID,
    file_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: CurrentUser,
) -> StreamingResponse:
    """A recording with a tone over every redacted span: the de-identified tier's audio."""
    source = sources_service.get_or_raise(session=session, source_id=source_id)
    ensure_source_visible(session, principal, source)
    ensure_consent_allows(session, source, Use.share)
    if identifiable_closed(session, source):
        # A voice identifies its speaker however the words are toned.
        raise Forbidden(
            "A participant in this source withdrew keeping de-identified use only: its "
            "recordings, de-identified audio included, are closed to everyone."
        )
    file = sources_service.get_file_or_raise(session=session, source_id=source_id, file_id=file_id)
    if file not in deid_service.recordings_to_redact(session=session, source=source):
        raise NotFound("That file is not a transcribed recording of this source.")
    # The same rule as the de-identified text: every text detected and approved since its
    # newest change.
    deid_service.require_published(session=session, source=source)
    if source.deid_approved_at is None:
        raise Conflict("The de-identified audio waits for the approval of the redactions.")
    key = deid_service.audio_key(file, source.deid_approved_at)
    store = runtime.store
    if not store.exists(store.derived, key):
        raise Conflict("The de-identified audio is being prepared; try again shortly.")
    return StreamingResponse(
        store.iter_range(store.derived, key),
        media_type="audio/ogg",
        headers={"Content-Disposition": f'attachment; filename="{file.id}-deidentified.ogg"'},
    )


@router.get(
    "/sources/{source_id}/anonymisation-log.csv",
    response_class=StreamingResponse,
    responses={
        **responses(Unauthorized, Forbidden, NotFound),
        200: {"content": {"text/csv": {}}, "description": "Every change, with the original"},
    },
)
def source_log(
    source_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: CurrentUser,
    audit: AuditDep,
) -> StreamingResponse:
    """The source's anonymisation log: each change with its original (identifiable tier)."""
    source = _reviewable(session, principal, source_id)
    rows = list(_log_rows(session, runtime.cipher, [source]))
    audit.record("anonymisation_log.read", "source", source.id)
    return _csv(iter(rows), f"anonymisation-log-{source.id}.csv")


@router.get(
    "/anonymisation-log.csv",
    response_class=StreamingResponse,
    responses={
        **responses(Unauthorized, Forbidden),
        200: {"content": {"text/csv": {}}, "description": "The project's log (admins)"},
    },
)
def project_log(
    runtime: RuntimeDep, session: SessionDep, principal: AdminUser, audit: AuditDep
) -> StreamingResponse:
    """The whole project's anonymisation log (admins)."""
    sources = list(session.exec(select(Source).order_by(col(Source.id))))
    rows = list(_log_rows(session, runtime.cipher, sources))
    audit.record("anonymisation_log.read", "project", None, {"sources": len(sources)})
    return _csv(iter(rows), "anonymisation-log.csv")


# -- registry and term lists (admins) ---------------------------------------------------------


@router.get(
    "/pseudonyms", response_model=list[PseudonymRead], responses=responses(Unauthorized, Forbidden)
)
def list_pseudonyms(
    runtime: RuntimeDep, session: SessionDep, principal: AdminUser, audit: AuditDep
) -> list[PseudonymRead]:
    """The pseudonym registry: each identifying term and its replacement (admins; audited)."""
    rows = deid_service.list_pseudonyms(session=session, cipher=runtime.cipher)
    audit.record("pseudonyms.read", "registry", None, {"count": len(rows)})
    return [PseudonymRead.model_validate(r) for r in rows]


@router.patch(
    "/pseudonyms/{pseudonym_id}",
    response_model=PseudonymRead,
    responses=responses(Unauthorized, Forbidden, NotFound, Unprocessable),
)
def update_pseudonym(
    pseudonym_id: uuid.UUID,
    data: PseudonymUpdate,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: AdminUser,
    audit: AuditDep,
) -> PseudonymRead:
    """Change a replacement; every source shows the new one from now on (admins)."""
    pseudonym = deid_service.set_pseudonym(
        session=session, pseudonym_id=pseudonym_id, replacement=data.replacement
    )
    audit.record("pseudonym.update", "pseudonym", pseudonym.id, {"replacement": data.replacement})
    [read] = [
        r
        for r in deid_service.list_pseudonyms(session=session, cipher=runtime.cipher)
        if r["id"] == pseudonym.id
    ]
    return PseudonymRead.model_validate(read)


@router.get(
    "/deid-terms", response_model=list[TermRead], responses=responses(Unauthorized, Forbidden)
)
def list_terms(session: SessionDep, principal: AdminUser, audit: AuditDep) -> list[TermRead]:
    """Names always redacted: trusts, suppliers, places, systems (admins; audited). They win
    over the allow list."""
    rows = session.exec(select(Term).order_by(col(Term.entity_type), col(Term.text)))
    terms = [TermRead.model_validate(t) for t in rows]
    # The list names real organisations and places: an identifiable read.
    audit.record("deid_terms.read", "deid_term", None, {"count": len(terms)})
    return terms


@router.post(
    "/deid-terms",
    status_code=201,
    response_model=TermRead,
    responses=responses(Unauthorized, Forbidden, Conflict, Unprocessable),
)
def add_term(
    data: TermCreate, session: SessionDep, principal: AdminUser, audit: AuditDep
) -> TermRead:
    """Add a name to always redact (admins)."""
    text = " ".join(data.text.split())
    if session.exec(
        select(Term).where(Term.entity_type == data.entity_type, Term.text == text)
    ).first():
        raise Conflict(f"{text!r} is already on the list.")
    term = Term(text=text, entity_type=data.entity_type, created_by=principal.user_id)
    session.add(term)
    session.flush()
    audit.record("deid_term.add", "deid_term", term.id, {"entity_type": term.entity_type})
    return TermRead.model_validate(term)


@router.delete(
    "/deid-terms/{term_id}", status_code=204, responses=responses(Unauthorized, Forbidden, NotFound)
)
def remove_term(
    term_id: uuid.UUID, session: SessionDep, principal: AdminUser, audit: AuditDep
) -> Response:
    """Take a name off the list (admins)."""
    term = session.get(Term, term_id)
    if term is None:
        raise NotFound("No term with that id.")
    session.delete(term)
    audit.record("deid_term.remove", "deid_term", term_id)
    return Response(status_code=204)


@router.get(
    "/deid-allow-terms",
    response_model=list[AllowTermRead],
    responses=responses(Unauthorized, Forbidden),
)
def list_allow_terms(session: SessionDep, principal: AdminUser) -> list[AllowTermRead]:
    """The project's vocabulary, never redacted: EPR, go-live, NHS England... (admins)."""
    return [AllowTermRead.model_validate(t) for t in deid_service.list_allow_terms(session=session)]


@router.post(
    "/deid-allow-terms",
    status_code=201,
    response_model=AllowTermRead,
    responses=responses(Unauthorized, Forbidden, Conflict, Unprocessable),
)
def add_allow_term(
    data: AllowTermCreate, session: SessionDep, principal: AdminUser, audit: AuditDep
) -> AllowTermRead:
    """Add a term never to redact; detections from now on leave it alone (admins)."""
    term = deid_service.add_allow_term(session=session, text=data.text, user_id=principal.user_id)
    audit.record("deid_allow_term.add", "deid_allow_term", term.id)
    return AllowTermRead.model_validate(term)


@router.delete(
    "/deid-allow-terms/{term_id}",
    status_code=204,
    responses=responses(Unauthorized, Forbidden, NotFound),
)
def remove_allow_term(
    term_id: uuid.UUID, session: SessionDep, principal: AdminUser, audit: AuditDep
) -> Response:
    """Take a term off the allow list, a default one too: detections may suggest it (admins)."""
    deid_service.remove_allow_term(session=session, term_id=term_id)
    audit.record("deid_allow_term.remove", "deid_allow_term", term_id)
    return Response(status_code=204)
