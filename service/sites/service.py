"""Sites: create and list."""

from __future__ import annotations

import uuid

from sqlalchemy import func
from sqlmodel import Session, col, select

from schemas.sites import SiteCreate
from service.errors import Conflict, Unprocessable
from service.sites.models import Site


def create(*, session: Session, data: SiteCreate) -> Site:
    """Create a site; codes are unique without regard to case."""
    if get_by_code(session=session, code=data.code) is not None:
        raise Conflict(f"A site with the code {data.code!r} already exists.")
    site = Site(code=data.code, name=data.name.strip(), kind=data.kind, region=data.region)
    session.add(site)
    session.flush()
    return site


def get_by_code(*, session: Session, code: str) -> Site | None:
    return session.exec(select(Site).where(func.lower(Site.code) == code.strip().lower())).first()


def list_page(*, session: Session, limit: int, cursor: str | None) -> tuple[list[Site], str | None]:
    """Sites in code order; the cursor is the last code of the previous page."""
    query = select(Site).order_by(col(Site.code))
    if cursor is not None:
        if len(cursor) > 32:
            raise Unprocessable("The cursor is not one this service issued.")
        query = query.where(col(Site.code) > cursor)
    rows = list(session.exec(query.limit(limit + 1)))
    next_cursor = rows[limit - 1].code if len(rows) > limit else None
    return rows[:limit], next_cursor


def ids_of_codes(*, session: Session, codes: list[str]) -> list[uuid.UUID]:
    """The ids of the sites with these codes; Unprocessable naming any code that is unknown."""
    ids, unknown = [], []
    for code in codes:
        site = get_by_code(session=session, code=code)
        if site is None:
            unknown.append(code)
        else:
            ids.append(site.id)
    if unknown:
        raise Unprocessable(f"No site with the code(s): {', '.join(unknown)}.")
    return ids


def codes_of(*, session: Session, site_ids: list[uuid.UUID]) -> list[str]:
    if not site_ids:
        return []
    return sorted(session.exec(select(Site.code).where(col(Site.id).in_(site_ids))))
