"""Disclosure control on metadata: a site, a role and a date together can single a person out.

Before a source's metadata is shown to someone outside its identifiable tier, each combination
of its site, a role in it and its date is counted: how many distinct people (linked participants,
or the source itself where none is linked) share it. Below ``k`` the date becomes its quarter and
the role its group; if that still singles out fewer than ``k``, date and roles are withheld.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from service.participants.models import Participant, SourceParticipant
from service.sources.models import Source, SourceRole

ROLE_GROUPS = {
    "clinical": "frontline",
    "technical": "support",
    "vendor": "support",
    "managerial": "leadership",
    "policy_maker": "leadership",
    "other": "other",
}


@dataclass(frozen=True)
class Shown:
    disclosure: str  # exact | generalised | withheld
    occurred_on: date | None
    occurred_period: str | None
    roles: list[str]


def quarter(day: date) -> tuple[str, date, date]:
    q = (day.month - 1) // 3
    start = date(day.year, 3 * q + 1, 1)
    end = date(day.year + 1, 1, 1) if q == 3 else date(day.year, 3 * q + 4, 1)
    return f"{day.year}-Q{q + 1}", start, end


def _people(
    session: Session,
    site_id: uuid.UUID | None,
    roles: list[str],
    since: date | None,
    before: date | None,
) -> int:
    person = func.coalesce(col(SourceParticipant.participant_id), col(Source.id))
    query = (
        select(func.count(func.distinct(person)))
        .select_from(Source)
        .join(SourceRole, col(SourceRole.source_id) == col(Source.id))
        .outerjoin(SourceParticipant, col(SourceParticipant.source_id) == col(Source.id))
        .outerjoin(Participant, col(Participant.id) == col(SourceParticipant.participant_id))
        .where(
            col(SourceRole.role).in_(roles),
            or_(col(Participant.id).is_(None), col(Participant.role).in_(roles)),
        )
    )
    query = query.where(
        col(Source.site_id).is_(None) if site_id is None else col(Source.site_id) == site_id
    )
    if since is not None:
        query = query.where(col(Source.occurred_on) >= since)
    if before is not None:
        query = query.where(col(Source.occurred_on) < before)
    return int(session.exec(query).one())


def shown(*, session: Session, source: Source, roles: list[str], k: int) -> Shown:
    """What of the source's date and roles may be shown outside its identifiable tier."""
    exact = Shown(
        "exact",
        source.occurred_on,
        source.occurred_on.isoformat() if source.occurred_on else None,
        roles,
    )
    if not roles or k <= 1:
        return exact
    day = source.occurred_on
    day_range = (day, date.fromordinal(day.toordinal() + 1)) if day else (None, None)
    if all(_people(session, source.site_id, [r], *day_range) >= k for r in roles):
        return exact
    groups = sorted({ROLE_GROUPS.get(r, "other") for r in roles})
    period, since, before = quarter(day) if day else (None, None, None)
    fine = all(
        _people(
            session,
            source.site_id,
            [r for r, g in ROLE_GROUPS.items() if g == group],
            since,
            before,
        )
        >= k
        for group in groups
    )
    if fine:
        return Shown("generalised", None, period, groups)
    return Shown("withheld", None, None, [])
