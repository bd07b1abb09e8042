"""Who may do what. Every route asks here, so the rule for each tier lives in one place.

Tiers (DESIGN.md): metadata for every authenticated user; de-identified text for analysts,
researchers and admins; identifiable material (originals, raw text) for researchers and admins.
Site-scoped access (researchers see identifiable material of their own sites only) slots in here.
"""

from __future__ import annotations

import uuid

from service.auth.models import Role
from service.auth.service import Principal
from service.errors import Forbidden


def require_role(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        allowed = " or ".join(r.value for r in roles)
        raise Forbidden(f"This needs the {allowed} role; you are {principal.role.value}.")


def may_read_identifiable(principal: Principal, *, site_id: uuid.UUID | None) -> bool:
    """Originals, raw extracted text and original filenames: researchers and admins."""
    return principal.role is not Role.analyst


def ensure_may_read_identifiable(principal: Principal, *, site_id: uuid.UUID | None) -> None:
    if not may_read_identifiable(principal, site_id=site_id):
        raise Forbidden(
            "Analysts work with de-identified material only; originals and raw text are "
            "identifiable."
        )


def ensure_may_write_sources(principal: Principal) -> None:
    require_role(principal, Role.admin, Role.researcher)


def ensure_may_delete_sources(principal: Principal) -> None:
    require_role(principal, Role.admin)
