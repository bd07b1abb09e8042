"""Routes for background work."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from schemas.jobs import JobRead
from service.deps import CurrentUser, SessionDep
from service.errors import NotFound, Unauthorized, responses
from service.jobs import service as jobs_service

router = APIRouter(tags=["jobs"])


@router.get("/jobs/{job_id}", response_model=JobRead, responses=responses(Unauthorized, NotFound))
def get_job(job_id: uuid.UUID, session: SessionDep, principal: CurrentUser) -> JobRead:
    """A background job's status, attempts and error; only with its source."""
    return JobRead.model_validate(
        jobs_service.get_visible_or_raise(session=session, principal=principal, job_id=job_id)
    )
