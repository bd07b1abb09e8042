"""Which suggestions are accepted without a person, and whether a person must review at all,
by source type and level."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    # Suggestions scoring at least this are accepted on detection; None: none are.
    auto_accept_at: float | None
    # Without review the source is approved at once, and suggestions below the bar rejected.
    review_required: bool


# Interviews, group interviews and observations are about people: every source is reviewed,
# with the detector's surest finds (validated NHS numbers, emails, phone numbers, registry
# names) accepted up front. Local documents likewise. National published documents are public
# already: the surest finds are replaced and the text is published without review.
REVIEWED = Policy(auto_accept_at=0.9, review_required=True)
PUBLISHED = Policy(auto_accept_at=0.9, review_required=False)

POLICIES: dict[tuple[str, str], Policy] = {
    ("document", "national"): PUBLISHED,
}


def policy_for(source_type: str, level: str) -> Policy:
    return POLICIES.get((source_type, level), REVIEWED)
