"""Which suggestions are accepted without a person, and whether a person must review at all,
by source type and level."""

from __future__ import annotations

from dataclasses import dataclass

# Direct identifiers: each points to one person or one household on its own, wherever it is
# printed; an ethics committee treats a phone number in a published document as one still.
# Every policy accepts (redacts) them on detection whatever their score, so that no policy,
# present or future, can publish one or leave it to be rejected by default. A reviewer may still
# reject one (a switchboard's number in an interview), which returns the source to review.
DIRECT_IDENTIFIERS = frozenset({"EMAIL", "PHONE", "NHS_NUMBER", "POSTCODE"})


@dataclass(frozen=True)
class Policy:
    # Suggestions scoring at least this are accepted on detection; None: none are.
    auto_accept_at: float | None
    # Without review the source is approved at once, and suggestions not accepted are rejected.
    review_required: bool
    # Types accepted on detection whatever their score, besides the direct identifiers.
    accept_types: frozenset[str] = frozenset()


# Interviews, group interviews and observations are about people: every source is reviewed,
# with the detector's surest finds (validated NHS numbers, emails, phone numbers, registry
# names) and every direct identifier accepted up front. Local documents likewise.
REVIEWED = Policy(auto_accept_at=0.9, review_required=True)
# National published documents are published without review: their organisations and places
# are public bodies and stay, but direct identifiers and every name the detector finds are
# replaced. The detector cannot tell a minister from a named patient or a junior official's
# contact, a name left in the de-identified tier is exported and quoted beyond recall, and one
# replaced wrongly is read in the identifiable tier or restored by a reviewer (README,
# "National documents").
PUBLISHED = Policy(auto_accept_at=0.9, review_required=False, accept_types=frozenset({"PERSON"}))

POLICIES: dict[tuple[str, str], Policy] = {
    ("document", "national"): PUBLISHED,
}


def policy_for(source_type: str, level: str) -> Policy:
    return POLICIES.get((source_type, level), REVIEWED)


def status_on_detection(*, policy: Policy, entity_type: str, score: float) -> str:
    """The status a detector's suggestion starts with under ``policy``: accepted (replaced in
    the de-identified text), suggested (a person decides) or rejected (left as written)."""
    if entity_type in DIRECT_IDENTIFIERS or entity_type in policy.accept_types:
        return "accepted"
    if policy.auto_accept_at is not None and score >= policy.auto_accept_at:
        return "accepted"
    return "suggested" if policy.review_required else "rejected"
