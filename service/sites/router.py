"""Routes for sites."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from schemas.pages import Page
from schemas.sites import SiteCreate, SiteRead
from service.access.service import require_role
from service.auth.models import Role
from service.deps import AuditDep, CurrentUser, SessionDep
from service.errors import Conflict, Forbidden, Unauthorized, Unprocessable, responses
from service.sites import service as sites_service

router = APIRouter(tags=["sites"])


@router.post(
    "/sites",
    status_code=201,
    response_model=SiteRead,
    responses=responses(Unauthorized, Forbidden, Conflict, Unprocessable),
)
def create_site(
    data: SiteCreate, session: SessionDep, principal: CurrentUser, audit: AuditDep
) -> SiteRead:
    """Create a site (admins)."""
    require_role(principal, Role.admin)
    site = sites_service.create(session=session, data=data)
    audit.record("site.create", "site", site.id, {"code": site.code})
    return SiteRead.model_validate(site)


@router.get(
    "/sites", response_model=Page[SiteRead], responses=responses(Unauthorized, Unprocessable)
)
def list_sites(
    session: SessionDep,
    principal: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[SiteRead]:
    """List sites in code order."""
    rows, next_cursor = sites_service.list_page(session=session, limit=limit, cursor=cursor)
    return Page(items=[SiteRead.model_validate(s) for s in rows], next_cursor=next_cursor)
