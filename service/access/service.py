"""Who may do what. Every route asks here, so the rule for each tier lives in one place.

Tiers (DESIGN.md): metadata for every authenticated user; de-identified text for analysts,
researchers and admins; identifiable material (originals, raw text) for researchers and admins.
Site-scoped access (researchers see identifiable material of their own sites only) slots in here.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, exists, false, func, not_, or_
from sqlmodel import Session, col, select

from service.auth.models import Role
from service.auth.service import Principal
from service.errors import Concealed, Forbidden
from service.participants.models import Consent, Participant, SourceParticipant
from service.sources.models import Source

# The withdrawal that keeps a participant's material for de-identified use only.
RETAIN_DEIDENTIFIED = "retain_deidentified"


def require_role(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        allowed = " or ".join(r.value for r in roles)
        raise Forbidden(f"This needs the {allowed} role; you are {principal.role.value}.")


def may_read_identifiable(principal: Principal, *, site_id: uuid.UUID | None) -> bool:
    """Originals, raw extracted text, original filenames and participants' identities: admins
    everywhere; researchers for their own sites (and for material that belongs to no site)."""
    if principal.role is Role.admin:
        return True
    if principal.role is Role.researcher:
        return site_id is None or site_id in principal.site_ids
    return False


def may_read_identifiable_everywhere(principal: Principal) -> bool:
    """Whether ``may_read_identifiable`` holds for every site (and for no site)."""
    return principal.role is Role.admin


def ensure_may_read_identifiable(principal: Principal, *, site_id: uuid.UUID | None) -> None:
    if may_read_identifiable(principal, site_id=site_id):
        return
    if principal.role is Role.analyst:
        raise Forbidden(
            "Analysts work with de-identified material only; originals and raw text are "
            "identifiable."
        )
    raise Forbidden(
        "This is identifiable material of a site you do not belong to; ask an admin to add the "
        "site to your account if you should have it."
    )


def identifiable_closed_ids(*, session: Session, source_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Of ``source_ids``, those whose identifiable tier is closed to everyone, admins included:
    a participant linked to them withdrew keeping only de-identified use."""
    if not source_ids:
        return set()
    return set(
        session.exec(
            select(SourceParticipant.source_id)
            .join(Participant, col(Participant.id) == col(SourceParticipant.participant_id))
            .where(
                col(SourceParticipant.source_id).in_(source_ids),
                col(Participant.withdrawal_mode) == RETAIN_DEIDENTIFIED,
            )
        )
    )


def identifiable_closed(session: Session, source: Source) -> bool:
    return bool(identifiable_closed_ids(session=session, source_ids=[source.id]))


def ensure_may_read_identifiable_source(
    session: Session, principal: Principal, source: Source
) -> None:
    """The one check every route that shows a source's identifiable material makes: the
    viewer's role and sites, then whether a withdrawal closed the tier for this source."""
    ensure_may_read_identifiable(principal, site_id=source.site_id)
    if identifiable_closed(session, source):
        raise Forbidden(
            "A participant in this source withdrew keeping de-identified use only: its "
            "originals, raw text and audio are closed to everyone."
        )


def ensure_may_write_sources(principal: Principal, *, site_id: uuid.UUID | None = None) -> None:
    """Uploads: admins anywhere; researchers for their own sites or material of no site."""
    require_role(principal, Role.admin, Role.researcher)
    if (
        principal.role is Role.researcher
        and site_id is not None
        and site_id not in principal.site_ids
    ):
        raise Forbidden("You can add material only to your own sites.")


def ensure_may_delete_sources(principal: Principal) -> None:
    require_role(principal, Role.admin)


def ensure_may_withdraw(principal: Principal) -> None:
    """Carrying out a withdrawal destroys or closes material: an admin's act. Researchers
    record the participant's request instead."""
    if principal.role is not Role.admin:
        raise Forbidden(
            "Only an admin carries out a withdrawal; record the participant's request with "
            "POST /participants/{id}/withdrawal-requests."
        )


def ensure_may_link(
    principal: Principal, *, source: Source, participants: list[Participant]
) -> None:
    """A source's participants belong to its site; a source of no site (national material)
    takes a researcher's participants of their own sites. Admins link anyone anywhere."""
    if principal.role is Role.admin:
        return
    allowed = {source.site_id} if source.site_id is not None else set(principal.site_ids)
    foreign = sorted(p.code for p in participants if p.site_id not in allowed)
    if foreign:
        raise Forbidden(
            f"{', '.join(foreign)} belong(s) to another site than this source's; only an admin "
            "can link or unlink them here."
        )


def ensure_may_manage_participants(principal: Principal, *, site_id: uuid.UUID) -> None:
    """Registering participants, their identities and consent: admins, and researchers of the
    participant's site."""
    require_role(principal, Role.admin, Role.researcher)
    if principal.role is Role.researcher and site_id not in principal.site_ids:
        raise Forbidden("You can manage participants of your own sites only.")


# -- consent -------------------------------------------------------------------------------


class Use(StrEnum):
    """What material is being used for; each use needs a consent scope of every participant."""

    archive = "archive"  # kept and seen by the team at the participant's own site
    transcribe = "transcribe"
    share = "share"  # de-identified text, search hits and exports for the wider team
    quote = "quote"
    deposit = "deposit"


SCOPE_FOR_USE = {
    Use.archive: "archive",
    Use.transcribe: "transcribe",
    Use.share: "share_team",
    Use.quote: "quote",
    Use.deposit: "deposit",
}


# What a participant who withdrew keeping de-identified use still allows, under the consent
# they last gave; new processing of their material (transcription) is not among it.
RETAINED_USES = frozenset({Use.archive, Use.share, Use.quote, Use.deposit})


def _withdrawal_ends(use: Use, mode: str | None) -> bool:
    return mode != RETAIN_DEIDENTIFIED or use not in RETAINED_USES


def _lacking(use: Use) -> Any:
    """SQL: a participant linked to the source whose consent in force lacks the use's scope
    (no consent at all, a newer consent that withdrew the scope, or a withdrawal that ends
    this use: erasure ends every use, retention keeps the de-identified ones)."""
    scope_in_force = (
        select(getattr(Consent, SCOPE_FOR_USE[use]))
        .where(col(Consent.participant_id) == col(SourceParticipant.participant_id))
        .order_by(col(Consent.id).desc())
        .limit(1)
        .scalar_subquery()
    )
    ended: Any = col(Participant.withdrawn_at).is_not(None)
    if use in RETAINED_USES:
        ended = and_(
            ended, func.coalesce(col(Participant.withdrawal_mode), "") != RETAIN_DEIDENTIFIED
        )
    withdrawn = exists().where(col(Participant.id) == col(SourceParticipant.participant_id), ended)
    return exists().where(
        col(SourceParticipant.source_id) == col(Source.id),
        or_(not_(func.coalesce(scope_in_force, false())), withdrawn),
    )


def visible_sources(principal: Principal) -> Any | None:
    """SQL condition on ``Source`` for what ``principal`` may see at all; None means everything.

    A source with a participant who has not consented to its archiving is visible to the
    researchers of its own site (who are collecting that consent) and to admins only. A source
    held after a withdrawal is visible to admins only, until one of them decides.
    """
    if principal.role is Role.admin:
        return None
    restricted = _lacking(Use.archive)
    not_held = col(Source.withdrawal_hold_at).is_(None)
    if principal.role is Role.researcher and principal.site_ids:
        return and_(not_held, or_(~restricted, col(Source.site_id).in_(principal.site_ids)))
    return and_(not_held, ~restricted)


# What a viewer who may not see a source is told: exactly what an unknown id gets
# (``sources_service.get_or_raise``), so a hidden source cannot be told from none at all.
NO_SOURCE = "No source with that id."


def ensure_source_visible(session: Session, principal: Principal, source: Source) -> None:
    """The one visibility check on a source, made before anything else about it is looked at
    (files, text, audio, redactions, jobs). A source the viewer may not see is answered like an
    unknown one and audited as a refusal with the real reason: a 403 would confirm that it
    exists and that its consent or withdrawal keeps it from them."""
    condition = visible_sources(principal)
    if condition is None:
        return
    if session.exec(select(Source.id).where(col(Source.id) == source.id, condition)).first():
        return
    if source.withdrawal_hold_at is not None:
        reason = "The source is held for an admin's decision after a participant's withdrawal."
    else:
        reason = (
            "The source includes a participant whose consent to archiving is not recorded; "
            "only the researchers of its site see it until it is."
        )
    raise Concealed(NO_SOURCE, reason=reason)


def participants_lacking(session: Session, source: Source, use: Use) -> list[str]:
    """Codes of the source's participants whose consent does not allow ``use``."""
    scope = SCOPE_FOR_USE[use]
    links = session.exec(
        select(Participant)
        .join(SourceParticipant, col(SourceParticipant.participant_id) == col(Participant.id))
        .where(col(SourceParticipant.source_id) == source.id)
    )
    lacking = []
    for participant in links:
        newest = session.exec(
            select(Consent)
            .where(col(Consent.participant_id) == participant.id)
            .order_by(col(Consent.id).desc())
        ).first()
        ended = participant.withdrawn_at is not None and _withdrawal_ends(
            use, participant.withdrawal_mode
        )
        if ended or newest is None or not getattr(newest, scope):
            lacking.append(participant.code)
    return sorted(lacking)


def ensure_consent_allows(session: Session, source: Source, use: Use) -> None:
    lacking = participants_lacking(session, source, use)
    if lacking:
        raise Forbidden(
            f"The consent of {', '.join(lacking)} does not allow this use ({use.value}); "
            "record their consent with that scope first."
        )
