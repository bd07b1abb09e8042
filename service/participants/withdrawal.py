"""Withdrawal: what happens to a participant's material when they leave the study.

Carrying out a withdrawal is an admin's act; a researcher of the participant's site records
the participant's request, which the admin then carries out (closing it).

``erase`` removes everything of theirs from the database and the object store. A source that
is theirs alone goes whole (originals, text, elements, jobs). In a source with others, their
speaker segments are cut from the derived text, the others' are kept, and the originals, which
hold their voice or words, are erased and kept only as a record of checksums. Where their words
cannot be told from the others' (no speaker label, text not in speaker turns, segments that
carry no speaker or not theirs), nothing of the others' is destroyed on a guess: the source is
held, hidden from everyone but admins, until an admin deletes or releases it. Every rendering of
the de-identified audio of their sources goes (their voice); so do the registry's forms of their
name, their role detail, identity and consent forms.

``retain_deidentified`` erases the identity and consent forms and closes the identifiable tier
of every source they are in, for everyone (see ``access.service.identifiable_closed``): the
material stays for de-identified use under the consent they last gave.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from service.access.service import (
    RETAIN_DEIDENTIFIED,
    ensure_may_manage_participants,
    ensure_may_withdraw,
)
from service.auth.service import Principal
from service.db import utcnow
from service.deid import service as deid_service
from service.errors import Conflict
from service.jobs import service as jobs_service
from service.jobs.models import JobKind
from service.participants import service as participants_service
from service.participants.identity import IdentityCipher
from service.participants.models import (
    Consent,
    Participant,
    SourceParticipant,
    WithdrawalRequest,
)
from service.sources import service as sources_service
from service.sources.models import ExtractionStatus, File, FileKind, Source
from service.storage.service import ObjectStore
from service.texts import service as texts_service

if TYPE_CHECKING:
    from service.runtime import Runtime

MODES = ("erase", RETAIN_DEIDENTIFIED)


def _ensure_not_withdrawn(participant: Participant) -> None:
    if participant.withdrawn_at is not None:
        raise Conflict(
            f"{participant.code} already withdrew ({participant.withdrawal_mode}) on "
            f"{participant.withdrawn_at:%Y-%m-%d}."
        )


# -- requests ------------------------------------------------------------------------------


def request(
    *,
    session: Session,
    cipher: IdentityCipher,
    principal: Principal,
    participant: Participant,
    mode: str,
    note: str | None,
) -> WithdrawalRequest:
    """Record that a participant asked to withdraw, for an admin to carry out. The note is
    stored encrypted: it may say who called and why."""
    ensure_may_manage_participants(principal, site_id=participant.site_id)
    _ensure_not_withdrawn(participant)
    if participants_service.open_requests_of(session=session, participant_ids=[participant.id]):
        raise Conflict(f"A withdrawal request for {participant.code} is already open.")
    row = WithdrawalRequest(
        participant_id=participant.id,
        mode=mode,
        note_ciphertext=cipher.encrypt_text(note) if note else None,
        requested_by=principal.user_id,
    )
    session.add(row)
    session.flush()
    return row


def list_requests(
    *, session: Session, state: str, limit: int, cursor: uuid.UUID | None
) -> tuple[list[tuple[WithdrawalRequest, Participant]], str | None]:
    """Requests oldest first (the queue an admin works through); ``state`` open, closed or all."""
    query = select(WithdrawalRequest, Participant).join(
        Participant, col(Participant.id) == col(WithdrawalRequest.participant_id)
    )
    if state == "open":
        query = query.where(col(WithdrawalRequest.closed_at).is_(None))
    elif state == "closed":
        query = query.where(col(WithdrawalRequest.closed_at).is_not(None))
    if cursor is not None:
        query = query.where(col(WithdrawalRequest.id) > cursor)
    rows = list(session.exec(query.order_by(col(WithdrawalRequest.id)).limit(limit + 1)))
    next_cursor = str(rows[limit - 1][0].id) if len(rows) > limit else None
    return [(r, p) for r, p in rows[:limit]], next_cursor


def _close_requests(session: Session, principal: Principal, participant: Participant) -> list[str]:
    closed = []
    now = utcnow()
    for row in session.exec(
        select(WithdrawalRequest).where(
            WithdrawalRequest.participant_id == participant.id,
            col(WithdrawalRequest.closed_at).is_(None),
        )
    ):
        row.closed_at = now
        row.closed_by = principal.user_id
        row.note_ciphertext = None  # it may name them; its purpose is served
        session.add(row)
        closed.append(str(row.id))
    return closed


# -- carrying out --------------------------------------------------------------------------


def withdraw(
    *,
    session: Session,
    runtime: Runtime,
    principal: Principal,
    participant: Participant,
    mode: str,
) -> dict[str, Any]:
    """Carry out a withdrawal (admins); return the erasure report for the audit log (ids,
    counts and checksums only: the report itself must not identify anyone)."""
    ensure_may_withdraw(principal)
    _ensure_not_withdrawn(participant)
    store = runtime.store
    # Work in flight on their material (an extraction, a transcription, a rendering of the
    # audio) began before this withdrawal: it must write nothing after it.
    for source in participants_service.sources_of(session=session, participant=participant):
        sources_service.bump_generation(session=session, source_id=source.id)
    report: dict[str, Any] = {"mode": mode, "participant": participant.code}
    if mode == "erase":
        report |= _erase_material(session, runtime, participant)
        report["role_detail_erased"] = participant.role_detail is not None
        participant.role_detail = None
    else:
        report |= _close_identifiable(session, store, participant)
    # Before the identity goes: the registry's forms of their name are told by its words.
    report["pseudonyms_removed"] = deid_service.forget_participant(
        session=session, cipher=runtime.cipher, participant=participant
    )
    report["consent_forms_removed"] = _erase_consent_forms(session, store, participant)
    report["identity_erased"] = participant.identity_ciphertext is not None
    report["requests_closed"] = _close_requests(session, principal, participant)
    participant.identity_ciphertext = None
    participant.withdrawn_at = utcnow()
    participant.withdrawal_mode = mode
    participant.updated_at = participant.withdrawn_at
    session.add(participant)
    session.flush()
    return report


def _links(session: Session, participant: Participant) -> list[SourceParticipant]:
    return list(
        session.exec(
            select(SourceParticipant).where(SourceParticipant.participant_id == participant.id)
        )
    )


def _close_identifiable(
    session: Session, store: ObjectStore, participant: Participant
) -> dict[str, Any]:
    """Retention: the identifiable tier of their sources closes (the rule itself lives in
    ``access.service``); what would only ever be read there goes now: renderings of the
    de-identified audio (their voice) and original filenames (which often name them)."""
    closed = []
    for link in _links(session, participant):
        renderings = deid_service.remove_audio_renderings(store=store, source_id=link.source_id)
        for file in session.exec(select(File).where(File.source_id == link.source_id)):
            file.original_filename = None
            session.add(file)
        closed.append({"source_id": str(link.source_id), "audio_renderings_removed": renderings})
    session.flush()
    return {"sources_closed": closed}


def _erase_material(session: Session, runtime: Runtime, participant: Participant) -> dict[str, Any]:
    store = runtime.store
    deleted: list[dict[str, Any]] = []
    cut: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    for link in _links(session, participant):
        source = session.get(Source, link.source_id)
        if source is None:
            continue
        # Anyone else linked, withdrawn or not: a participant who kept de-identified use has
        # material here too, and withdrawal never removes what is not the participant's.
        others = session.exec(
            select(SourceParticipant.participant_id).where(
                col(SourceParticipant.source_id) == source.id,
                col(SourceParticipant.participant_id) != participant.id,
            )
        ).first()
        if others is None:
            removed = sources_service.delete_source(session=session, store=store, source=source)
            deleted.append({"source_id": str(source.id), **removed})
            continue
        renderings = deid_service.remove_audio_renderings(store=store, source_id=source.id)
        reason = _inseparable(session, runtime, source, link.speaker_label)
        _unlink(session, source, participant)
        if reason is not None:
            note = f"{participant.code} withdrew (erase) and {reason}"
            source.withdrawal_hold_reason = " ".join(
                filter(None, [source.withdrawal_hold_reason, note])
            )
            source.withdrawal_hold_at = source.withdrawal_hold_at or utcnow()
            session.add(source)
            held.append(
                {
                    "source_id": str(source.id),
                    "reason": reason,
                    "audio_renderings_removed": renderings,
                }
            )
            continue
        assert link.speaker_label is not None
        segments = texts_service.remove_speaker(
            session=session, store=store, source_id=source.id, label=link.speaker_label
        )
        # The redactions of the others' segments moved with them; the changed text goes back
        # to review (and to detection first, if some text had not been through it).
        deid_service.reopen(session=session, source=source)
        if deid_service.awaiting_detection(session=session, source=source):
            jobs_service.enqueue(
                session=session,
                kind=JobKind.deidentify,
                submit=runtime.dispatcher.submit,
                max_attempts=runtime.settings.job_max_attempts,
                source_id=source.id,
            )
        erased = _erase_originals(session, store, source)
        cut.append(
            {
                "source_id": str(source.id),
                "segments_removed": segments,
                "files": erased,
                "audio_renderings_removed": renderings,
            }
        )
    session.flush()
    return {"sources_deleted": deleted, "group_sources_cut": cut, "sources_held": held}


def _unlink(session: Session, source: Source, participant: Participant) -> None:
    session.execute(
        delete(SourceParticipant).where(
            col(SourceParticipant.source_id) == source.id,
            col(SourceParticipant.participant_id) == participant.id,
        )
    )


def _inseparable(
    session: Session, runtime: Runtime, source: Source, label: str | None
) -> str | None:
    """Why the participant's words in ``source`` cannot be cut from the others', or None when
    every text of it is in speaker turns, each turn carries a speaker, and theirs are labelled
    with their link's label. The reason names files by id only."""
    if label is None:
        return "their link to this source has no speaker label."
    for file in session.exec(select(File).where(File.source_id == source.id)):
        if file.extraction_status in (ExtractionStatus.pending, ExtractionStatus.running):
            return f"file {file.id} is still being extracted."
    texts = texts_service.texts_of(session=session, source=source)
    for file, text in texts:
        if file.kind == FileKind.consent_form:
            continue
        elements = texts_service.load_elements(runtime=runtime, text=text)
        if any(e.get("type") != "Segment" for e in elements):
            return f"the text of file {file.id} is not in speaker turns."
        if any(not e.get("speaker") for e in elements):
            return f"segments of file {file.id} carry no speaker."
        if elements and not any(e.get("speaker") == label for e in elements):
            return f"no segment of file {file.id} carries their speaker label."
    return None


def _erase_originals(session: Session, store: ObjectStore, source: Source) -> list[dict[str, Any]]:
    erased = []
    now = utcnow()
    for file in session.exec(
        select(File).where(File.source_id == source.id, col(File.erased_at).is_(None))
    ):
        store.remove(store.originals, file.object_key)
        erased.append({"id": str(file.id), "sha256": file.sha256, "size": file.size_bytes})
        file.erased_at = now
        file.original_filename = None  # a filename can name the person too
        session.add(file)
    return erased


def _erase_consent_forms(
    session: Session, store: ObjectStore, participant: Participant
) -> list[dict[str, Any]]:
    removed = []
    for consent in session.exec(
        select(Consent).where(
            Consent.participant_id == participant.id, col(Consent.form_key).is_not(None)
        )
    ):
        assert consent.form_key is not None
        store.remove(store.originals, consent.form_key)
        removed.append({"consent_id": str(consent.id), "sha256": consent.form_sha256})
        # The consent itself (scopes, date) stays as the record of what was agreed.
        consent.form_key = None
        session.add(consent)
    return removed


# -- holds -----------------------------------------------------------------------------------


def decide_hold(
    *, session: Session, store: ObjectStore, source: Source, decision: str
) -> dict[str, Any]:
    """An admin's decision on a source held after a withdrawal: ``delete`` it (the ordinary
    deletion) or ``release`` it as it is."""
    if source.withdrawal_hold_at is None:
        raise Conflict("This source is not held for a withdrawal.")
    if decision == "delete":
        return {
            "decision": decision,
            **sources_service.delete_source(session=session, store=store, source=source),
        }
    source.withdrawal_hold_at = None
    source.withdrawal_hold_reason = None
    source.updated_at = utcnow()
    session.add(source)
    session.flush()
    return {"decision": decision}
