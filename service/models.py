"""Every table, imported in one place for Alembic and for anything that needs the full metadata."""

from service.audit.models import AuditEvent, AuditHead
from service.auth.models import Token, User, UserSite
from service.jobs.models import Job
from service.sites.models import Site
from service.sources.models import File, Source, SourceRole
from service.texts.models import ExtractedText

__all__ = [
    "AuditEvent",
    "AuditHead",
    "ExtractedText",
    "File",
    "Job",
    "Site",
    "Source",
    "SourceRole",
    "Token",
    "User",
    "UserSite",
]
