"""Withdrawal: what happens to a participant's material when they leave the study.

``erase`` removes everything of theirs from the database and the object store: sources that are
theirs alone go whole (originals, text, elements, jobs); in a group source their speaker
segments are cut from the derived text, the others' are kept, and the originals, which hold
their voice or words, are erased and kept only as a record of checksums; their consent forms and
identity go too. ``retain_deidentified`` erases the identity and consent forms and closes the
identifiable tier: the material stays for de-identified use only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from service.access.service import ensure_may_manage_participants
from service.auth.service import Principal
from service.db import utcnow
from service.deid import service as deid_service
from service.errors import Conflict
from service.jobs import service as jobs_service
from service.jobs.models import JobKind
from service.participants import service as participants_service
from service.participants.models import Consent, Participant, SourceParticipant
from service.sources import service as sources_service
from service.sources.models import File, Source
from service.storage.service import ObjectStore
from service.texts import service as texts_service

if TYPE_CHECKING:
    from service.runtime import Runtime

MODES = ("erase", "retain_deidentified")


def withdraw(
    *,
    session: Session,
    runtime: Runtime,
    principal: Principal,
    participant: Participant,
    mode: str,
) -> dict[str, Any]:
    """Carry out a withdrawal; return the erasure report for the audit log (ids and checksums
    only: the report itself must not identify anyone)."""
    ensure_may_manage_participants(principal, site_id=participant.site_id)
    if participant.withdrawn_at is not None:
        raise Conflict(
            f"{participant.code} already withdrew ({participant.withdrawal_mode}) on "
            f"{participant.withdrawn_at:%Y-%m-%d}."
        )
    store = runtime.store
    # Work in flight on their material (an extraction, a transcription, a rendering of the
    # audio) began before this withdrawal: it must write nothing after it.
    for source in participants_service.sources_of(session=session, participant=participant):
        sources_service.bump_generation(session=session, source_id=source.id)
    report: dict[str, Any] = {"mode": mode, "participant": participant.code}
    if mode == "erase":
        report |= _erase_material(session, runtime, participant)
    report["pseudonyms_removed"] = deid_service.forget_participant(
        session=session, cipher=runtime.cipher, participant=participant
    )
    report["consent_forms_removed"] = _erase_consent_forms(session, store, participant)
    report["identity_erased"] = participant.identity_ciphertext is not None
    participant.identity_ciphertext = None
    participant.withdrawn_at = utcnow()
    participant.withdrawal_mode = mode
    participant.updated_at = participant.withdrawn_at
    session.add(participant)
    session.flush()
    return report


def _erase_material(session: Session, runtime: Runtime, participant: Participant) -> dict[str, Any]:
    store = runtime.store
    deleted: list[dict[str, Any]] = []
    cut: list[dict[str, Any]] = []
    links = list(
        session.exec(
            select(SourceParticipant).where(SourceParticipant.participant_id == participant.id)
        )
    )
    for link in links:
        source = session.get(Source, link.source_id)
        if source is None:
            continue
        others = session.exec(
            select(SourceParticipant.participant_id)
            .join(Participant, col(Participant.id) == col(SourceParticipant.participant_id))
            .where(
                col(SourceParticipant.source_id) == source.id,
                col(SourceParticipant.participant_id) != participant.id,
                col(Participant.withdrawn_at).is_(None),
            )
        ).first()
        if others is None or link.speaker_label is None:
            # Theirs alone, or theirs cannot be told apart from the others': all of it goes.
            removed = sources_service.delete_source(session=session, store=store, source=source)
            deleted.append({"source_id": str(source.id), **removed})
            continue
        segments = texts_service.remove_speaker(
            session=session, store=store, source_id=source.id, label=link.speaker_label
        )
        # The redactions' offsets described the old text: detect again on the new one.
        deid_service.forget_text(session=session, source=source)
        jobs_service.enqueue(
            session=session,
            kind=JobKind.deidentify,
            submit=runtime.dispatcher.submit,
            max_attempts=runtime.settings.job_max_attempts,
            source_id=source.id,
        )
        erased = _erase_originals(session, store, source)
        session.execute(
            delete(SourceParticipant).where(
                col(SourceParticipant.source_id) == source.id,
                col(SourceParticipant.participant_id) == participant.id,
            )
        )
        cut.append({"source_id": str(source.id), "segments_removed": segments, "files": erased})
    session.flush()
    return {"sources_deleted": deleted, "group_sources_cut": cut}


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
