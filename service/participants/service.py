"""Participants: registry, identities (encrypted), consent history, and links to sources."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import delete, exists, func
from sqlmodel import Session, col, select

from schemas.participants import (
    ConsentForm,
    ConsentRead,
    Identity,
    ParticipantCreate,
    ParticipantRead,
    ParticipantUpdate,
    Scopes,
    SourceParticipantLink,
    WithdrawalRequestRef,
)
from schemas.sources import SiteRef
from service.access.service import (
    ensure_may_link,
    ensure_may_manage_participants,
    may_read_identifiable,
)
from service.audit.service import Recorder
from service.auth.service import Principal
from service.db import utcnow
from service.errors import Conflict, NotFound, Unprocessable
from service.participants.identity import IdentityCipher
from service.participants.models import (
    Consent,
    Participant,
    SourceParticipant,
    WithdrawalRequest,
)
from service.sites import service as sites_service
from service.sites.models import Site
from service.sources.models import ParticipantRole, Source, SourceRole

SCOPES = ("archive", "transcribe", "share_team", "quote", "deposit")


def get_or_raise(*, session: Session, participant_id: uuid.UUID) -> Participant:
    participant = session.get(Participant, participant_id)
    if participant is None:
        raise NotFound("No participant with that id.")
    return participant


def get_by_code(*, session: Session, code: str) -> Participant | None:
    return session.exec(select(Participant).where(Participant.code == code.strip().upper())).first()


def _site(session: Session, code: str) -> Site:
    site = sites_service.get_by_code(session=session, code=code)
    if site is None:
        raise Unprocessable(f"No site with the code {code!r}.")
    return site


def create(
    *, session: Session, principal: Principal, data: ParticipantCreate, cipher: IdentityCipher
) -> Participant:
    """Register a participant; their identity, if given, is stored encrypted."""
    site = _site(session, data.site)
    ensure_may_manage_participants(principal, site_id=site.id)
    if get_by_code(session=session, code=data.code) is not None:
        raise Conflict(f"The code {data.code} is already in use in this project.")
    participant = Participant(
        code=data.code,
        site_id=site.id,
        role=data.role,
        role_detail=data.role_detail,
        identity_ciphertext=cipher.encrypt(data.identity.model_dump()) if data.identity else None,
    )
    session.add(participant)
    session.flush()
    return participant


def update(
    *,
    session: Session,
    principal: Principal,
    participant: Participant,
    data: ParticipantUpdate,
    cipher: IdentityCipher,
) -> list[str]:
    """Change what was sent; return the names of the fields changed (for the audit log)."""
    ensure_may_manage_participants(principal, site_id=participant.site_id)
    if participant.withdrawn_at is not None:
        raise Conflict("This participant has withdrawn; their record can no longer be changed.")
    changed = []
    if data.site is not None:
        site = _site(session, data.site)
        ensure_may_manage_participants(principal, site_id=site.id)
        participant.site_id = site.id
        changed.append("site")
    if data.role is not None:
        participant.role = data.role
        changed.append("role")
    if "role_detail" in data.model_fields_set:
        participant.role_detail = data.role_detail
        changed.append("role_detail")
    if data.identity is not None:
        participant.identity_ciphertext = cipher.encrypt(data.identity.model_dump())
        changed.append("identity")
    if changed:
        participant.updated_at = utcnow()
        session.add(participant)
        session.flush()
    return changed


def identity_of(*, participant: Participant, cipher: IdentityCipher) -> Identity | None:
    if participant.identity_ciphertext is None:
        return None
    return Identity.model_validate(cipher.decrypt(participant.identity_ciphertext))


def list_page(
    *,
    session: Session,
    site: str | None,
    role: ParticipantRole | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Participant], str | None]:
    query = select(Participant)
    if site is not None:
        query = query.where(Participant.site_id == _site(session, site).id)
    if role is not None:
        query = query.where(Participant.role == role)
    if cursor is not None:
        try:
            query = query.where(col(Participant.id) > uuid.UUID(cursor))
        except ValueError:
            raise Unprocessable("The cursor is not one this service issued.") from None
    rows = list(session.exec(query.order_by(col(Participant.id)).limit(limit + 1)))
    next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


# -- consent -----------------------------------------------------------------------------


def current_consents(
    *, session: Session, participant_ids: list[uuid.UUID]
) -> dict[uuid.UUID, Consent]:
    """Each participant's consent in force: the newest row (ids are time-ordered)."""
    if not participant_ids:
        return {}
    rows = session.exec(
        select(Consent)
        .where(col(Consent.participant_id).in_(participant_ids))
        .order_by(col(Consent.id))
    )
    return {c.participant_id: c for c in rows}


def consent_history(*, session: Session, participant_id: uuid.UUID) -> list[Consent]:
    return list(
        session.exec(
            select(Consent)
            .where(Consent.participant_id == participant_id)
            .order_by(col(Consent.id).desc())
        )
    )


def record_consent(
    *,
    session: Session,
    principal: Principal,
    participant: Participant,
    scopes: dict[str, bool],
    given_on: date,
    form: dict[str, Any] | None,
) -> Consent:
    """Add a consent row; earlier ones stay as history."""
    ensure_may_manage_participants(principal, site_id=participant.site_id)
    if participant.withdrawn_at is not None:
        raise Conflict("This participant has withdrawn; record a new participant to start again.")
    if given_on > date.today():
        raise Unprocessable(f"Consent cannot be dated in the future ({given_on.isoformat()}).")
    consent = Consent.model_validate(
        {
            "participant_id": participant.id,
            "given_on": given_on,
            "recorded_by": principal.user_id,
            **{scope: bool(scopes.get(scope, False)) for scope in SCOPES},
            **(form or {}),
        }
    )
    session.add(consent)
    participant.updated_at = utcnow()
    session.add(participant)
    session.flush()
    return consent


def parse_consent_fields(fields: dict[str, list[str]]) -> tuple[dict[str, bool], date]:
    """The form fields of a consent: ``scopes`` granted (repeatable or comma-separated; any
    scope not named is not granted) and ``given_on`` (YYYY-MM-DD)."""
    unknown = sorted(set(fields) - {"scopes", "given_on"})
    if unknown:
        raise Unprocessable(f"Unknown field(s): {', '.join(unknown)}.")
    granted = {s.strip() for v in fields.get("scopes", []) for s in v.split(",") if s.strip()}
    wrong = sorted(granted - set(SCOPES))
    if wrong:
        raise Unprocessable(
            f"Unknown scope(s): {', '.join(wrong)}; scopes are {', '.join(SCOPES)}."
        )
    given = fields.get("given_on", [])
    if len(given) != 1:
        raise Unprocessable("Send given_on once: the date the consent was given (YYYY-MM-DD).")
    try:
        given_on = date.fromisoformat(given[0].strip())
    except ValueError:
        raise Unprocessable(f"given_on {given[0]!r} is not a date (YYYY-MM-DD).") from None
    return {scope: scope in granted for scope in SCOPES}, given_on


def consent_read(consent: Consent, *, identifiable: bool) -> ConsentRead:
    """A consent for the API; its dates (which can date an interview) only when
    ``identifiable``. The scopes are metadata: every user may know what a consent allows."""
    form = None
    if consent.form_key and consent.form_sha256 and consent.form_media_type:
        form = ConsentForm(
            sha256=consent.form_sha256,
            size_bytes=consent.form_size or 0,
            media_type=consent.form_media_type,
        )
    return ConsentRead(
        id=consent.id,
        scopes=Scopes(**{scope: getattr(consent, scope) for scope in SCOPES}),
        given_on=consent.given_on if identifiable else None,
        form=form,
        created_at=consent.created_at if identifiable else None,
    )


def open_requests_of(
    *, session: Session, participant_ids: list[uuid.UUID]
) -> dict[uuid.UUID, WithdrawalRequest]:
    """Each participant's open withdrawal request, if any."""
    if not participant_ids:
        return {}
    rows = session.exec(
        select(WithdrawalRequest).where(
            col(WithdrawalRequest.participant_id).in_(participant_ids),
            col(WithdrawalRequest.closed_at).is_(None),
        )
    )
    return {r.participant_id: r for r in rows}


def describe(
    *,
    session: Session,
    participants: list[Participant],
    principal: Principal,
    identities: dict[uuid.UUID, Identity],
    audit: Recorder,
) -> list[ParticipantRead]:
    """The API view of participants. ``role_detail`` and consent dates belong to the
    identifiable tier of the participant's site: others get null (code, site, role and consent
    scopes are metadata). A response that shows any of them is recorded on ``audit``."""
    consents = current_consents(session=session, participant_ids=[p.id for p in participants])
    requests = open_requests_of(session=session, participant_ids=[p.id for p in participants])
    site_ids = {p.site_id for p in participants}
    sites = (
        {s.id: s for s in session.exec(select(Site).where(col(Site.id).in_(site_ids)))}
        if site_ids
        else {}
    )
    result = []
    for p in participants:
        identifiable = may_read_identifiable(principal, site_id=p.site_id)
        consent = consents.get(p.id)
        result.append(
            ParticipantRead(
                id=p.id,
                code=p.code,
                site=SiteRef(id=p.site_id, code=sites[p.site_id].code),
                role=ParticipantRole(p.role),
                role_detail=p.role_detail if identifiable else None,
                consent=consent_read(consent, identifiable=identifiable) if consent else None,
                withdrawn_at=p.withdrawn_at,
                withdrawal_mode=p.withdrawal_mode,
                withdrawal_request=(
                    WithdrawalRequestRef(
                        id=requests[p.id].id,
                        mode=requests[p.id].mode,
                        requested_at=requests[p.id].requested_at,
                    )
                    if p.id in requests
                    else None
                ),
                identity=identities.get(p.id),
                created_at=p.created_at,
                updated_at=p.updated_at,
            )
        )
    # Judged on what the response shows, so no branch above can show a field unrecorded.
    _record_shown(
        audit,
        {
            str(r.id): (r.role_detail is not None, int(r.consent is not None and _dated(r.consent)))
            for r in result
        },
    )
    return result


def describe_one(
    *,
    session: Session,
    participant: Participant,
    principal: Principal,
    audit: Recorder,
    identity: Identity | None = None,
) -> ParticipantRead:
    identities = {participant.id: identity} if identity is not None else {}
    return describe(
        session=session,
        participants=[participant],
        principal=principal,
        identities=identities,
        audit=audit,
    )[0]


def describe_consents(
    *, session: Session, participant: Participant, principal: Principal, audit: Recorder
) -> list[ConsentRead]:
    """Every consent recorded for the participant, newest first, as the API shows it; their
    dates only for those who may read the participant's site's identifiable tier, recorded."""
    identifiable = may_read_identifiable(principal, site_id=participant.site_id)
    result = [
        consent_read(c, identifiable=identifiable)
        for c in consent_history(session=session, participant_id=participant.id)
    ]
    _record_shown(audit, {str(participant.id): (False, sum(_dated(c) for c in result))})
    return result


def _dated(consent: ConsentRead) -> bool:
    return consent.given_on is not None or consent.created_at is not None


def _record_shown(audit: Recorder, shown: dict[str, tuple[bool, int]]) -> None:
    """One event for a response that showed identifiable fields of participants: their ids and
    how many role details and dated consents, never the values (as
    ``source.identifiable_fields_read`` does for sources)."""
    named = [pid for pid, (role_detail, dates) in shown.items() if role_detail or dates]
    if not named:
        return
    only = named[0] if len(named) == 1 else None
    detail = {
        "participants": named,
        "role_details": sum(int(shown[pid][0]) for pid in named),
        "consent_dates": sum(shown[pid][1] for pid in named),
    }
    audit.record("participants.identifiable_fields_read", "participant", only, detail)


# -- links to sources --------------------------------------------------------------------


def parse_links(values: list[str]) -> list[SourceParticipantLink]:
    """Form values ``P-017`` or ``P-017=Speaker label`` (repeatable or comma-separated)."""
    links = []
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if not item:
                continue
            code, _, label = item.partition("=")
            try:
                links.append(
                    SourceParticipantLink(
                        code=code.strip().upper(), speaker_label=label.strip() or None
                    )
                )
            except ValueError:
                raise Unprocessable(
                    f"{item!r} is not a participant code (like P-017), optionally with "
                    "=<speaker label>."
                ) from None
    return links


def link(
    *,
    session: Session,
    principal: Principal,
    source: Source,
    links: list[SourceParticipantLink],
) -> None:
    """Replace a source's participants; their roles join the source's roles. Whoever is
    linked or unlinked must belong to the source's site (``ensure_may_link``)."""
    codes = [entry.code for entry in links]
    if len(set(codes)) != len(codes):
        raise Unprocessable("Each participant may be linked to a source once.")
    labels = [entry.speaker_label for entry in links if entry.speaker_label]
    if len(set(labels)) != len(labels):
        raise Unprocessable("Two participants cannot share one speaker label in a source.")
    participants = []
    unknown = []
    for entry in links:
        participant = get_by_code(session=session, code=entry.code)
        if participant is None:
            unknown.append(entry.code)
        else:
            participants.append((participant, entry.speaker_label))
    if unknown:
        raise Unprocessable(f"No participant with the code(s): {', '.join(unknown)}.")
    linked = links_of(session=session, source_ids=[source.id])[source.id]
    current = {p.id: (p, label) for p, label in linked}
    wanted = {p.id: (p, label) for p, label in participants}
    # What this call changes: links added or relabelled, and links removed.
    changed = [
        p for pid, (p, label) in wanted.items() if pid not in current or current[pid][1] != label
    ]
    changed += [p for pid, (p, _) in current.items() if pid not in wanted]
    for participant in changed:
        if participant.withdrawn_at is not None:
            # Their links are what closes a source's identifiable tier or records an erasure.
            raise Conflict(
                f"{participant.code} has withdrawn; their links to material can no longer change."
            )
    ensure_may_link(principal, source=source, participants=changed)
    session.execute(delete(SourceParticipant).where(col(SourceParticipant.source_id) == source.id))
    for participant, label in participants:
        session.add(
            SourceParticipant(
                source_id=source.id, participant_id=participant.id, speaker_label=label
            )
        )
    roles = {p.role for p, _ in participants}
    existing = set(session.exec(select(SourceRole.role).where(SourceRole.source_id == source.id)))
    for role in roles - existing:
        session.add(SourceRole(source_id=source.id, role=role))
    session.flush()


def links_of(
    *, session: Session, source_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[Participant, str | None]]]:
    result: dict[uuid.UUID, list[tuple[Participant, str | None]]] = {s: [] for s in source_ids}
    if source_ids:
        rows = session.exec(
            select(SourceParticipant, Participant)
            .join(Participant, col(Participant.id) == col(SourceParticipant.participant_id))
            .where(col(SourceParticipant.source_id).in_(source_ids))
            .order_by(col(Participant.code))
        )
        for link_row, participant in rows:
            result[link_row.source_id].append((participant, link_row.speaker_label))
    return result


def sources_of(*, session: Session, participant: Participant) -> list[Source]:
    return list(
        session.exec(
            select(Source)
            .join(SourceParticipant, col(SourceParticipant.source_id) == col(Source.id))
            .where(col(SourceParticipant.participant_id) == participant.id)
        )
    )


def has_participant(code: str) -> Any:
    """SQL condition: the source is linked to the participant with this code."""
    return exists().where(
        SourceParticipant.source_id == Source.id,  # type: ignore[arg-type]
        SourceParticipant.participant_id == Participant.id,  # type: ignore[arg-type]
        func.upper(Participant.code) == code.strip().upper(),
    )
