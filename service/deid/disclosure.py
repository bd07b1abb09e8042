"""Disclosure control on metadata: a site, a role and a date together can single a person out.

Before a source's metadata is shown to someone outside its identifiable tier, each combination
of its site, a role in it and its date is counted: how many distinct people (linked participants,
or the source itself where none is linked) share it. Below ``k`` the date becomes its quarter and
the role its group; if that still singles out fewer than ``k``, date and roles are withheld.

The list filters answer from the same values (``answers``): what a filter could tell apart,
the viewer could have read. A generalised source matches a date range only if its whole quarter
lies inside it, and a role only through the role's group; a withheld source matches no date,
role or participant filter. Participants are listed only beside exact values: the registry
gives each participant's exact role, so a code beside a generalised source would undo it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from schemas.sources import SourceFilters
from service.access.service import may_read_identifiable
from service.auth.service import Principal
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

    @property
    def shows_participants(self) -> bool:
        return self.disclosure == "exact"


def exact(source: Source, roles: list[str]) -> Shown:
    day = source.occurred_on
    return Shown("exact", day, day.isoformat() if day else None, roles)


def quarter(day: date) -> tuple[str, date, date]:
    q = (day.month - 1) // 3
    start = date(day.year, 3 * q + 1, 1)
    # The archive takes dates up to 2199 (schemas.sources.LATEST_DAY); the last year a date can
    # hold has no next January, and its last quarter ends with the calendar.
    if q < 3:
        end = date(day.year, 3 * q + 4, 1)
    elif day.year < date.max.year:
        end = date(day.year + 1, 1, 1)
    else:
        end = date.max

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
    if not roles or k <= 1:
        return exact(source, roles)
    day = source.occurred_on
    day_range = (day, date.fromordinal(day.toordinal() + 1)) if day else (None, None)
    if all(_people(session, source.site_id, [r], *day_range) >= k for r in roles):
        return exact(source, roles)
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


def view(
    *, session: Session, principal: Principal, source: Source, roles: list[str], k: int
) -> Shown:
    """What ``principal`` is shown of the source's date and roles: the exact values within its
    identifiable tier, else what ``shown`` allows."""
    if may_read_identifiable(principal, site_id=source.site_id):
        return exact(source, roles)
    return shown(session=session, source=source, roles=roles, k=k)


def probing(filters: SourceFilters) -> bool:
    """Whether any filter reads a value that disclosure control may generalise or withhold."""
    return any(
        value is not None
        for value in (filters.role, filters.participant, filters.date_from, filters.date_to)
    )


def group_roles(role: str) -> list[str]:
    """The roles that share ``role``'s group: the SQL pre-filter for a role, widened so that the
    rows it lets through do not depend on the exact role of a generalised source."""
    group = ROLE_GROUPS.get(role, "other")
    return sorted(r for r, g in ROLE_GROUPS.items() if g == group)


def quarter_span(date_from: date | None, date_to: date | None) -> tuple[date | None, date | None]:
    """The date range widened to whole quarters (``since`` inclusive, ``before`` exclusive): the
    SQL pre-filter for dates, so that which rows it lets through does not depend on where inside
    its quarter a generalised source's date lies."""
    since = quarter(date_from)[1] if date_from else None
    before = quarter(date_to)[2] if date_to else None
    return since, before


def answers(shown: Shown, filters: SourceFilters) -> bool:
    """Whether a source, as shown, meets the filters on role, participant and date.

    The SQL pre-filter has already required the participant's link (and let through at least
    every source that can match); everything else is decided on the shown values alone, so
    probes the viewer cannot tell apart get the same answer.
    """
    if not probing(filters):
        return True
    if shown.disclosure == "withheld":
        return False
    if filters.participant is not None and not shown.shows_participants:
        return False
    if filters.role is not None:
        wanted = (
            filters.role if shown.disclosure == "exact" else ROLE_GROUPS.get(filters.role, "other")
        )
        if wanted not in shown.roles:
            return False
    if filters.date_from is None and filters.date_to is None:
        return True
    if shown.disclosure == "exact":
        if shown.occurred_on is None:
            return False
        first = last = shown.occurred_on
    else:
        if shown.occurred_period is None:
            return False
        first, last = period_bounds(shown.occurred_period)
    if filters.date_from is not None and first < filters.date_from:
        return False
    return filters.date_to is None or last <= filters.date_to


def period_bounds(period: str) -> tuple[date, date]:
    """The first and last day of a quarter named like ``2024-Q1``."""
    year, number = int(period[:4]), int(period[-1])
    _, start, end = quarter(date(year, 3 * number - 2, 1))
    return start, end - timedelta(days=1)
