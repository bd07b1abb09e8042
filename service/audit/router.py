"""Routes for the audit log (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from schemas.audit import Anchor, AuditEventRead, AuditQuery
from schemas.pages import Page
from service.audit import service as audit_service
from service.deps import AdminUser, AuditDep, RuntimeDep, SessionDep
from service.errors import Forbidden, Unauthorized, Unprocessable, responses

router = APIRouter(tags=["audit"])


def _filters(query: AuditQuery) -> audit_service.AuditFilters:
    if query.since and query.until and query.since >= query.until:
        raise Unprocessable("since must be before until.")
    return audit_service.AuditFilters(
        actor=query.actor,
        target=query.target,
        action=query.action,
        since=query.since,
        until=query.until,
    )


@router.get(
    "/audit",
    response_model=Page[AuditEventRead],
    responses=responses(Unauthorized, Forbidden, Unprocessable),
)
def list_audit(
    session: SessionDep,
    principal: AdminUser,
    audit: AuditDep,
    query: Annotated[AuditQuery, Query()],
) -> Page[AuditEventRead]:
    """The audit log, newest first, filtered by actor, target, action and time (admins)."""
    rows, next_cursor = audit_service.list_page(
        session=session, filters=_filters(query), limit=query.limit, cursor=query.cursor
    )
    # The log names who did what to whom: reading it is itself an identifiable read.
    audit.record(
        "audit.read",
        "audit",
        detail={
            "filters": query.model_dump(mode="json", exclude_none=True, exclude={"limit"}),
            "count": len(rows),
        },
    )
    return Page(items=[AuditEventRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/audit/anchor", response_model=Anchor, responses=responses(Unauthorized, Forbidden))
def get_anchor(principal: AdminUser, audit: AuditDep) -> Anchor:
    """The head of the audit chain, to keep outside the database; fetching it is recorded and
    that event is the head returned (admins)."""
    return audit_service.anchor_of(audit.record("audit.anchor", "audit"))


@router.get(
    "/audit.csv",
    response_class=StreamingResponse,
    responses={
        **responses(Unauthorized, Forbidden, Unprocessable),
        200: {"content": {"text/csv": {}}, "description": "The filtered log, oldest first"},
    },
)
def export_audit(
    runtime: RuntimeDep,
    principal: AdminUser,
    audit: AuditDep,
    query: Annotated[AuditQuery, Query()],
) -> StreamingResponse:
    """The same events as CSV, for an information-governance review (admins)."""
    filters = _filters(query)
    audit.record(
        "audit.export",
        "audit",
        detail={"filters": query.model_dump(mode="json", exclude_none=True)},
    )
    return StreamingResponse(
        audit_service.csv_rows(engine=runtime.engine, filters=filters),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )
