"""Every table, imported in one place for Alembic and for anything that needs the full metadata."""

from service.audit.models import AuditEvent, AuditHead
from service.auth.models import Token, User, UserSite
from service.deid.models import AllowTerm, Pseudonym, PseudonymCounter, Redaction, Term
from service.jobs.models import Job
from service.participants.models import (
    Consent,
    Participant,
    SourceParticipant,
    WithdrawalRequest,
)
from service.sites.models import Site
from service.sources.models import File, Source, SourceRole
from service.texts.models import ExtractedText

__all__ = [
    "AllowTerm",
    "AuditEvent",
    "AuditHead",
    "Consent",
    "ExtractedText",
    "File",
    "Job",
    "Participant",
    "Pseudonym",
    "PseudonymCounter",
    "Redaction",
    "Site",
    "Source",
    "SourceParticipant",
    "SourceRole",
    "Term",
    "Token",
    "User",
    "UserSite",
    "WithdrawalRequest",
]
