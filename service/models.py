"""Every table, imported in one place for Alembic and for anything that needs the full metadata."""

from service.auth.models import Token, User
from service.jobs.models import Job
from service.sites.models import Site
from service.sources.models import File, Source, SourceRole
from service.texts.models import ExtractedText

__all__ = ["ExtractedText", "File", "Job", "Site", "Source", "SourceRole", "Token", "User"]
