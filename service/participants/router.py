"""Routes for participants, their consent, and their links to sources."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from schemas.pages import Page
from schemas.participants import (
    ConsentRead,
    HoldDecision,
    ParticipantCreate,
    ParticipantListQuery,
    ParticipantRead,
    ParticipantUpdate,
    SourceParticipants,
    Withdrawal,
    WithdrawalRequestCreate,
    WithdrawalRequestListQuery,
    WithdrawalRequestRead,
)
from schemas.sources import SourceRead
from service.access.service import (
    ensure_may_manage_participants,
    ensure_may_read_identifiable,
    ensure_may_write_sources,
    ensure_source_visible,
)
from service.deps import AdminUser, AuditDep, CurrentUser, RuntimeDep, SessionDep
from service.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
    responses,
)
from service.participants import service as participants_service
from service.participants import withdrawal
from service.participants.models import Participant, WithdrawalRequest
from service.sources import service as sources_service

router = APIRouter(tags=["participants"])


@router.post(
    "/participants",
    status_code=201,
    response_model=ParticipantRead,
    responses=responses(Unauthorized, Forbidden, Conflict, Unprocessable),
)
def create_participant(
    data: ParticipantCreate,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: CurrentUser,
    audit: AuditDep,
) -> ParticipantRead:
    """Register a participant under a pseudonymous code; identifying details are encrypted."""
    participant = participants_service.create(
        session=session, principal=principal, data=data, cipher=runtime.cipher
    )
    audit.record(
        "participant.create",
        "participant",
        participant.id,
        {"code": participant.code, "identity": data.identity is not None},
    )
    return participants_service.describe_one(
        session=session, participant=participant, principal=principal, audit=audit
    )


@router.get(
    "/participants",
    response_model=Page[ParticipantRead],
    responses=responses(Unauthorized, Unprocessable),
)
def list_participants(
    session: SessionDep,
    principal: CurrentUser,
    audit: AuditDep,
    query: Annotated[ParticipantListQuery, Query()],
) -> Page[ParticipantRead]:
    """Participants by code, with their current consent; never their identities."""
    rows, next_cursor = participants_service.list_page(
        session=session, site=query.site, role=query.role, limit=query.limit, cursor=query.cursor
    )
    items = participants_service.describe(
        session=session, participants=rows, principal=principal, identities={}, audit=audit
    )
    return Page(items=items, next_cursor=next_cursor)


@router.get(
    "/participants/{participant_id}",
    response_model=ParticipantRead,
    responses=responses(Unauthorized, Forbidden, NotFound),
)
def get_participant(
    participant_id: uuid.UUID,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: CurrentUser,
    audit: AuditDep,
    identity: bool = False,
) -> ParticipantRead:
    """A participant; ``identity=true`` adds their identifying details for those entitled
    (admins, researchers of the participant's site), and the read is audited."""
    participant = participants_service.get_or_raise(session=session, participant_id=participant_id)
    found = None
    if identity:
        ensure_may_read_identifiable(principal, site_id=participant.site_id)
        found = participants_service.identity_of(participant=participant, cipher=runtime.cipher)
        audit.record("participant.read_identity", "participant", participant.id)
    return participants_service.describe_one(
        session=session, participant=participant, principal=principal, audit=audit, identity=found
    )


@router.patch(
    "/participants/{participant_id}",
    response_model=ParticipantRead,
    responses=responses(Unauthorized, Forbidden, NotFound, Conflict, Unprocessable),
)
def update_participant(
    participant_id: uuid.UUID,
    data: ParticipantUpdate,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: CurrentUser,
    audit: AuditDep,
) -> ParticipantRead:
    """Change a participant's site, role or identifying details."""
    participant = participants_service.get_or_raise(session=session, participant_id=participant_id)
    changed = participants_service.update(
        session=session,
        principal=principal,
        participant=participant,
        data=data,
        cipher=runtime.cipher,
    )
    audit.record("participant.update", "participant", participant.id, {"fields": changed})
    return participants_service.describe_one(
        session=session, participant=participant, principal=principal, audit=audit
    )


_CONSENT_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "scopes": {
                            "type": "array",
                            "items": {"type": "string", "enum": list(participants_service.SCOPES)},
                            "description": "The scopes granted; any not named are not granted",
                        },
                        "given_on": {"type": "string", "format": "date"},
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The signed consent form (optional)",
                        },
                    },
                    "required": ["given_on"],
                }
            }
        },
    }
}


@router.post(
    "/participants/{participant_id}/consents",
    status_code=201,
    response_model=ParticipantRead,
    responses=responses(
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        Unprocessable,
    ),
    openapi_extra=_CONSENT_FORM,
)
def record_consent(
    participant_id: uuid.UUID,
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: CurrentUser,
    audit: AuditDep,
) -> ParticipantRead:
    """Record a consent (scopes, date, and the signed form as an original); earlier consents
    stay as history."""
    participant = participants_service.get_or_raise(session=session, participant_id=participant_id)
    ensure_may_manage_participants(principal, site_id=participant.site_id)
    if participant.withdrawn_at is not None:
        raise Conflict("This participant has withdrawn; record a new participant to start again.")
    session.rollback()  # let go of the read transaction while the form streams in
    upload = sources_service.receive_request(
        request,
        runtime=runtime,
        key_prefix=f"participants/{participant_id}",
        check_fields=participants_service.parse_consent_fields,
    )
    with sources_service.undo_on_failure(session, runtime.store, upload):
        scopes, given_on = participants_service.parse_consent_fields(upload.fields)
        if len(upload.files) > 1:
            raise Unprocessable("Send at most one consent form per consent.")
        form = None
        if upload.files:
            stored = upload.files[0]
            form = {
                "form_key": stored.key,
                "form_sha256": stored.stored.sha256,
                "form_size": stored.stored.size,
                "form_media_type": stored.media_type,
            }
        participant = participants_service.get_or_raise(
            session=session, participant_id=participant_id
        )
        consent = participants_service.record_consent(
            session=session,
            principal=principal,
            participant=participant,
            scopes=scopes,
            given_on=given_on,
            form=form,
        )
        # Recordings held for this consent may be transcribed now.
        for source in participants_service.sources_of(session=session, participant=participant):
            sources_service.release_held(
                session=session,
                source=source,
                submit=runtime.dispatcher.submit,
                settings=runtime.settings,
            )
        audit.record(
            "consent.record",
            "participant",
            participant.id,
            {
                "consent_id": str(consent.id),
                "scopes": sorted(k for k, v in scopes.items() if v),
                "given_on": given_on.isoformat(),
                "form_sha256": form["form_sha256"] if form else None,
            },
        )
        return participants_service.describe_one(
            session=session, participant=participant, principal=principal, audit=audit
        )


@router.get(
    "/participants/{participant_id}/consents",
    response_model=list[ConsentRead],
    responses=responses(Unauthorized, NotFound),
)
def consent_history(
    participant_id: uuid.UUID, session: SessionDep, principal: CurrentUser, audit: AuditDep
) -> list[ConsentRead]:
    """Every consent recorded for the participant, newest first; its dates only for those who
    may read the participant's site's identifiable tier (and that read is audited)."""
    participant = participants_service.get_or_raise(session=session, participant_id=participant_id)
    return participants_service.describe_consents(
        session=session, participant=participant, principal=principal, audit=audit
    )


@router.post(
    "/participants/{participant_id}/withdrawal-requests",
    status_code=201,
    response_model=WithdrawalRequestRead,
    responses=responses(Unauthorized, Forbidden, NotFound, Conflict, Unprocessable),
)
def request_withdrawal(
    participant_id: uuid.UUID,
    data: WithdrawalRequestCreate,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: CurrentUser,
    audit: AuditDep,
) -> WithdrawalRequestRead:
    """Record a participant's request to withdraw (researchers of their site, admins); an
    admin carries it out."""
    participant = participants_service.get_or_raise(session=session, participant_id=participant_id)
    row = withdrawal.request(
        session=session,
        cipher=runtime.cipher,
        principal=principal,
        participant=participant,
        mode=data.mode,
        note=data.note,
    )
    # The note may name the participant: the audit log learns only that there is one.
    audit.record(
        "withdrawal.request",
        "participant",
        participant.id,
        {"request_id": str(row.id), "mode": row.mode, "note": row.note_ciphertext is not None},
    )
    return _request_read(row, participant, note=None)


def _request_read(
    row: WithdrawalRequest, participant: Participant, *, note: str | None
) -> WithdrawalRequestRead:
    return WithdrawalRequestRead(
        id=row.id,
        participant_id=participant.id,
        participant_code=participant.code,
        mode=row.mode,
        note=note,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        closed_at=row.closed_at,
        closed_by=row.closed_by,
    )


@router.get(
    "/withdrawal-requests",
    response_model=Page[WithdrawalRequestRead],
    responses=responses(Unauthorized, Forbidden, Unprocessable),
)
def list_withdrawal_requests(
    runtime: RuntimeDep,
    session: SessionDep,
    principal: AdminUser,
    audit: AuditDep,
    query: Annotated[WithdrawalRequestListQuery, Query()],
) -> Page[WithdrawalRequestRead]:
    """Withdrawal requests, oldest first, open ones by default, with their notes (admins)."""
    rows, next_cursor = withdrawal.list_requests(
        session=session, state=query.state, limit=query.limit, cursor=query.cursor
    )
    items = [
        _request_read(
            row,
            participant,
            note=runtime.cipher.decrypt_text(row.note_ciphertext) if row.note_ciphertext else None,
        )
        for row, participant in rows
    ]
    audit.record("withdrawal_requests.read", "project", None, {"count": len(items)})
    return Page(items=items, next_cursor=next_cursor)


@router.post(
    "/participants/{participant_id}/withdraw",
    response_model=ParticipantRead,
    responses=responses(Unauthorized, Forbidden, NotFound, Conflict, Unprocessable),
)
def withdraw_participant(
    participant_id: uuid.UUID,
    data: Withdrawal,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: AdminUser,
    audit: AuditDep,
) -> ParticipantRead:
    """Carry out a withdrawal (admins): ``erase`` removes their material everywhere (in a group
    source, their segments; a source whose words cannot be separated is held for an admin's
    decision); ``retain_deidentified`` closes the identifiable tier and keeps the rest for
    de-identified use. Either way their identity and consent forms are erased, open requests
    close, and an erasure report goes to the audit log."""
    participant = participants_service.get_or_raise(session=session, participant_id=participant_id)
    report = withdrawal.withdraw(
        session=session,
        runtime=runtime,
        principal=principal,
        participant=participant,
        mode=data.mode,
    )
    audit.record("participant.withdraw", "participant", participant.id, report)
    return participants_service.describe_one(
        session=session, participant=participant, principal=principal, audit=audit
    )


@router.post(
    "/sources/{source_id}/withdrawal-hold",
    response_model=SourceRead | None,
    responses=responses(Unauthorized, Forbidden, NotFound, Conflict, Unprocessable),
)
def decide_withdrawal_hold(
    source_id: uuid.UUID,
    data: HoldDecision,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: AdminUser,
    audit: AuditDep,
) -> SourceRead | None:
    """Decide on a source held after a withdrawal (admins): ``delete`` it, or ``release`` it
    as it is; the release returns the source, the deletion nothing."""
    source = sources_service.get_or_raise(session=session, source_id=source_id)
    report = withdrawal.decide_hold(
        session=session, store=runtime.store, source=source, decision=data.decision
    )
    audit.record("source.withdrawal_hold", "source", source.id, report)
    if data.decision == "delete":
        return None
    return sources_service.describe(
        session=session,
        sources=[source],
        principal=principal,
        audit=audit,
        k=runtime.settings.disclosure_k,
    )[0]


@router.put(
    "/sources/{source_id}/participants",
    response_model=SourceRead,
    responses=responses(Unauthorized, Forbidden, NotFound, Conflict, Unprocessable),
)
def set_source_participants(
    source_id: uuid.UUID,
    data: SourceParticipants,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: CurrentUser,
    audit: AuditDep,
) -> SourceRead:
    """Replace the participants linked to a source, with the speaker label of each."""
    source = sources_service.get_or_raise(session=session, source_id=source_id)
    ensure_source_visible(session, principal, source)
    ensure_may_write_sources(principal, site_id=source.site_id)
    participants_service.link(
        session=session, principal=principal, source=source, links=data.participants
    )
    sources_service.release_held(
        session=session, source=source, submit=runtime.dispatcher.submit, settings=runtime.settings
    )
    audit.record(
        "source.participants",
        "source",
        source.id,
        {"participants": [entry.code for entry in data.participants]},
    )
    return sources_service.describe(
        session=session,
        sources=[source],
        principal=principal,
        audit=audit,
        k=runtime.settings.disclosure_k,
    )[0]
