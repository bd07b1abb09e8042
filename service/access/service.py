"""Who may do what. Every route asks here, so the rule for each tier lives in one place.

Tiers (DESIGN.md): metadata for every authenticated user; de-identified text for analysts,
researchers and admins; identifiable material (originals, raw text) for researchers and admins.
Site-scoped access (researchers see identifiable material of their own sites only) slots in here.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import exists, false, func, not_, or_
from sqlmodel import Session, col, select

from service.auth.models import Role
from service.auth.service import Principal
from service.errors import Forbidden
from service.participants.models import Consent, Participant, SourceParticipant
from service.sources.models import Source


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


def _lacking(use: Use) -> Any:
    """SQL: a participant linked to the source whose consent in force lacks the use's scope
    (no consent at all, a newer consent that withdrew the scope, or a withdrawal)."""
    scope_in_force = (
        select(getattr(Consent, SCOPE_FOR_USE[use]))
        .where(col(Consent.participant_id) == col(SourceParticipant.participant_id))
        .order_by(col(Consent.id).desc())
        .limit(1)
        .scalar_subquery()
    )
    withdrawn = exists().where(
        col(Participant.id) == col(SourceParticipant.participant_id),
        col(Participant.withdrawn_at).is_not(None),
    )
    return exists().where(
        col(SourceParticipant.source_id) == col(Source.id),
        or_(not_(func.coalesce(scope_in_force, false())), withdrawn),
    )


def visible_sources(principal: Principal) -> Any | None:
    """SQL condition on ``Source`` for what ``principal`` may see at all; None means everything.

    A source with a participant who has not consented to its archiving is visible to the
    researchers of its own site (who are collecting that consent) and to admins only.
    """
    if principal.role is Role.admin:
        return None
    restricted = _lacking(Use.archive)
    if principal.role is Role.researcher and principal.site_ids:
        return or_(~restricted, col(Source.site_id).in_(principal.site_ids))
    return ~restricted


def ensure_source_visible(session: Session, principal: Principal, source: Source) -> None:
    condition = visible_sources(principal)
    if condition is None:
        return
    if session.exec(select(Source.id).where(col(Source.id) == source.id, condition)).first():
        return
    raise Forbidden(
        "This source includes a participant whose consent to archiving is not recorded; only "
        "the researchers of its site can see it until it is."
    )


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
        if participant.withdrawn_at or newest is None or not getattr(newest, scope):
            lacking.append(participant.code)
    return sorted(lacking)


def ensure_consent_allows(session: Session, source: Source, use: Use) -> None:
    lacking = participants_lacking(session, source, use)
    if lacking:
        raise Forbidden(
            f"The consent of {', '.join(lacking)} does not allow this use ({use.value}); "
            "record their consent with that scope first."
        )
