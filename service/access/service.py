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
    """Originals, raw extracted text, original filenames and participants' identities: admins
    everywhere; researchers for their own sites (and for material that belongs to no site)."""
    if principal.role is Role.admin:
        return True
    if principal.role is Role.researcher:
        return site_id is None or site_id in principal.site_ids
    return False


def ensure_may_read_identifiable(principal: Principal, *, site_id: uuid.UUID | None) -> None:
    if may_read_identifiable(principal, site_id=site_id):
        return
    if principal.role is Role.analyst:
        raise Forbidden(
            "Analysts work with de-identified material only; originals and raw text are "
            "identifiable."
        )
    raise Forbidden(
        "This is identifiable material of a site you do not belong to; ask an admin to add the "
        "site to your account if you should have it."
    )


def ensure_may_write_sources(principal: Principal, *, site_id: uuid.UUID | None = None) -> None:
    """Uploads: admins anywhere; researchers for their own sites or material of no site."""
    require_role(principal, Role.admin, Role.researcher)
    if (
        principal.role is Role.researcher
        and site_id is not None
        and site_id not in principal.site_ids
    ):
        raise Forbidden("You can add material only to your own sites.")


def ensure_may_delete_sources(principal: Principal) -> None:
    require_role(principal, Role.admin)


def ensure_may_manage_participants(principal: Principal, *, site_id: uuid.UUID) -> None:
    """Registering participants, their identities and consent: admins, and researchers of the
    participant's site."""
    require_role(principal, Role.admin, Role.researcher)
    if principal.role is Role.researcher and site_id not in principal.site_ids:
        raise Forbidden("You can manage participants of your own sites only.")
