"""De-identification: detection into suggested redactions, review, the pseudonym registry, and
the de-identified text with offset maps both ways.

Following the UK Data Service's guidance for qualitative data: identifiers are replaced by
consistent pseudonyms ([Participant 17], [Trust C]) or vaguer descriptors ([Place], [Date]),
every replacement is marked in brackets, the unedited text stays in the identifiable tier, and
every change is logged apart from the de-identified text.
"""

from __future__ import annotations

import bisect
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from service.access.service import identifiable_closed
from service.db import utcnow
from service.deid.models import AllowTerm, Pseudonym, PseudonymCounter, Redaction, Term
from service.deid.policy import policy_for, status_on_detection
from service.deid.vocabulary import DEFAULT_VOCABULARY
from service.errors import Conflict, Forbidden, NotFound, Unprocessable
from service.participants.identity import IdentityCipher
from service.participants.models import Participant, SourceParticipant
from service.sources.models import DeidStatus, ExtractionStatus, File, Source
from service.storage.service import ObjectStore
from service.texts.models import ExtractedText

if TYPE_CHECKING:
    from service.deid.detect import Detector

# Consistent pseudonyms, lettered per kind: the same term gets the same letter everywhere.
PSEUDONYM_KINDS = {
    "PERSON": "Person",
    "ORGANISATION": "Organisation",
    "HOSPITAL": "Trust",
    "SYSTEM": "Supplier",
}
# Vaguer descriptors: what the thing was, not which.
DESCRIPTORS = {
    "LOCATION": "[Place]",
    "DATE": "[Date]",
    "EMAIL": "[Email address]",
    "PHONE": "[Phone number]",
    "NHS_NUMBER": "[NHS number]",
    "POSTCODE": "[Postcode]",
    # A ward number is shared by every hospital: which ward it was says nothing once the
    # hospital is replaced, so no lettered pseudonym would mean anything across sources.
    "WARD": "[Ward]",
}
ENTITY_TYPES = tuple(PSEUDONYM_KINDS) + tuple(DESCRIPTORS)
STATUSES = ("suggested", "accepted", "rejected")


def normalise(term: str) -> str:
    return " ".join(term.split()).casefold()


def letters(number: int) -> str:
    """1 -> A, 26 -> Z, 27 -> AA: spreadsheet-style column letters."""
    result = ""
    while number > 0:
        number, remainder = divmod(number - 1, 26)
        result = chr(ord("A") + remainder) + result
    return result


def participant_pseudonym(code: str) -> str:
    match = re.fullmatch(r"P-0*(\d+)", code)
    return f"[Participant {match[1]}]" if match else f"[Participant {code}]"


# -- the registry --------------------------------------------------------------------------


class Registry:
    """The project-wide pseudonym registry as one job or request sees it."""

    def __init__(self, session: Session, cipher: IdentityCipher) -> None:
        self.session = session
        self.cipher = cipher
        self._cache: dict[tuple[str, str], str] = {}

    def replacement(self, entity_type: str, term: str) -> str:
        """The stable replacement of ``term``: found, or created with the next letter."""
        if entity_type in DESCRIPTORS:
            return DESCRIPTORS[entity_type]
        key = (entity_type, normalise(term))
        if key in self._cache:
            return self._cache[key]
        digest = self.cipher.digest(key[1])
        found = self._find(entity_type, digest)
        if found is None:
            found = self._create(entity_type, key[1], digest)
        self._cache[key] = found
        return found

    def preview(self, entity_type: str, term: str) -> str:
        """What ``term`` shows as, without registering it: its pseudonym if one is settled,
        otherwise its kind. Reading redactions goes through here, so that only an approval
        ever writes a term into the registry."""
        if entity_type in DESCRIPTORS:
            return DESCRIPTORS[entity_type]
        key = (entity_type, normalise(term))
        if key in self._cache:
            return self._cache[key]
        found = self._find(entity_type, self.cipher.digest(key[1]))
        if found is None:
            return f"[{PSEUDONYM_KINDS.get(entity_type, 'Term')}]"
        self._cache[key] = found
        return found

    def _find(self, entity_type: str, digest: str) -> str | None:
        return self.session.exec(
            select(Pseudonym.replacement).where(
                Pseudonym.entity_type == entity_type, Pseudonym.term_digest == digest
            )
        ).first()

    def _create(self, entity_type: str, term: str, digest: str) -> str:
        kind = PSEUDONYM_KINDS.get(entity_type, "Term")
        number = self._next_number(entity_type)
        replacement = f"[{kind} {letters(number)}]"
        try:
            with self.session.begin_nested():
                self.session.add(
                    Pseudonym(
                        entity_type=entity_type,
                        term_digest=digest,
                        term_ciphertext=self.cipher.encrypt_text(term),
                        replacement=replacement,
                    )
                )
        except IntegrityError:
            # Another job registered the same term a moment ago: use theirs.
            existing = self._find(entity_type, digest)
            assert existing is not None
            return existing
        return replacement

    def _next_number(self, entity_type: str) -> int:
        row = self.session.execute(
            update(PseudonymCounter)
            .where(col(PseudonymCounter.entity_type) == entity_type)
            .values(next_number=PseudonymCounter.next_number + 1)
            .returning(col(PseudonymCounter.next_number))
        ).first()
        if row is not None:
            return int(row[0]) - 1
        try:
            with self.session.begin_nested():
                self.session.add(PseudonymCounter(entity_type=entity_type, next_number=2))
            return 1
        except IntegrityError:
            return self._next_number(entity_type)

    def register_participant(self, participant: Participant) -> None:
        """Map the participant's name and aliases to ``[Participant 17]``."""
        if participant.identity_ciphertext is None:
            return
        identity = self.cipher.decrypt(participant.identity_ciphertext)
        replacement = participant_pseudonym(participant.code)
        for name in [identity.get("name"), *identity.get("aliases", [])]:
            if not name:
                continue
            term = normalise(name)
            digest = self.cipher.digest(term)
            existing = self.session.exec(
                select(Pseudonym).where(
                    Pseudonym.entity_type == "PERSON", Pseudonym.term_digest == digest
                )
            ).first()
            if existing is None:
                self.session.add(
                    Pseudonym(
                        entity_type="PERSON",
                        term_digest=digest,
                        term_ciphertext=self.cipher.encrypt_text(term),
                        replacement=replacement,
                        participant_id=participant.id,
                    )
                )
            elif existing.replacement != replacement:
                existing.replacement = replacement
                existing.participant_id = participant.id
                self.session.add(existing)
            self._cache[("PERSON", term)] = replacement
        self.session.flush()


# Titles a detector keeps with a name ("Ms Jones", "Sister Quarrington").
TITLES = frozenset({"ms", "mr", "mrs", "miss", "mx", "dr", "prof", "professor", "sister", "nurse"})


def _words(term: str) -> list[str]:
    return [w for w in (w.strip(".,'’") for w in normalise(term).split()) if w]


def is_variant_of(term: str, names: set[str]) -> bool:
    """Whether a registry term is a form of a person's name: every word of it (after any
    leading titles) is a word of their name or aliases: "Sarah", "Ms Jones", "jones sarah"."""
    words = _words(term)
    while words and words[0] in TITLES:
        words = words[1:]
    return bool(words) and all(w in names for w in words)


def forget_participant(
    *, session: Session, cipher: IdentityCipher, participant: Participant
) -> int:
    """On withdrawal: remove what the registry holds for the participant: their names and
    aliases, and the PERSON terms a detector or reviewer found that are forms of them. Before
    an entry goes, its replacement is written onto the redactions that showed it, so that no
    source's de-identified text changes; the names themselves are gone.

    Call it while the participant's identity is still there: the forms are told by its words.
    """
    entries = list(
        session.exec(select(Pseudonym).where(Pseudonym.participant_id == participant.id))
    )
    if participant.identity_ciphertext is not None:
        identity = cipher.decrypt(participant.identity_ciphertext)
        names = {
            w
            for name in [identity.get("name"), *identity.get("aliases", [])]
            if name
            for w in _words(name)
        }
        entries += [
            p
            for p in session.exec(
                select(Pseudonym).where(
                    Pseudonym.entity_type == "PERSON", col(Pseudonym.participant_id).is_(None)
                )
            )
            if is_variant_of(cipher.decrypt_text(p.term_ciphertext), names)
        ]
    if not entries:
        return 0
    by_digest = {p.term_digest: p.replacement for p in entries}
    rows = session.exec(
        select(Redaction, ExtractedText)
        .join(ExtractedText, col(ExtractedText.id) == col(Redaction.text_id))
        .where(Redaction.entity_type == "PERSON", col(Redaction.replacement).is_(None))
    )
    for redaction, text in rows:
        original = normalise(text.content[redaction.start : redaction.end])
        replacement = by_digest.get(cipher.digest(original))
        if replacement is not None:
            redaction.replacement = replacement
            session.add(redaction)
    for entry in entries:
        session.delete(entry)
    session.flush()
    return len(entries)


def list_pseudonyms(*, session: Session, cipher: IdentityCipher) -> list[dict[str, Any]]:
    rows = session.exec(
        select(Pseudonym).order_by(col(Pseudonym.entity_type), col(Pseudonym.replacement))
    )
    return [
        {
            "id": p.id,
            "entity_type": p.entity_type,
            "term": cipher.decrypt_text(p.term_ciphertext),
            "replacement": p.replacement,
            "participant_id": p.participant_id,
            "updated_at": p.updated_at,
        }
        for p in rows
    ]


def set_pseudonym(*, session: Session, pseudonym_id: uuid.UUID, replacement: str) -> Pseudonym:
    pseudonym = session.get(Pseudonym, pseudonym_id)
    if pseudonym is None:
        raise NotFound("No pseudonym with that id.")
    replacement = " ".join(replacement.split())
    if not (replacement.startswith("[") and replacement.endswith("]")) or len(replacement) < 3:
        raise Unprocessable("A replacement is marked in square brackets, e.g. [Trust C].")
    pseudonym.replacement = replacement
    pseudonym.updated_at = utcnow()
    session.add(pseudonym)
    session.flush()
    return pseudonym


# -- the vocabulary (allow list) ----------------------------------------------------------


def list_allow_terms(*, session: Session) -> list[AllowTerm]:
    """The project's vocabulary, never redacted, alphabetically."""
    return list(session.exec(select(AllowTerm).order_by(col(AllowTerm.key))))


def add_allow_term(*, session: Session, text: str, user_id: uuid.UUID | None) -> AllowTerm:
    """Add a term to the vocabulary. A term on the deny list is refused: the deny list wins in
    detection, so the entry would do nothing but mislead."""
    text = " ".join(text.split())
    key = normalise(text)
    if len(key) < 2:
        raise Unprocessable("A term has at least two characters besides spaces.")
    if session.exec(select(AllowTerm.id).where(AllowTerm.key == key)).first() is not None:
        raise Conflict("That term is already on the allow list.")
    denied = session.exec(select(Term)).all()
    if any(normalise(t.text) == key for t in denied):
        raise Conflict(
            "That term is on the deny list, which wins over the allow list; remove it there first."
        )
    term = AllowTerm(text=text, key=key, created_by=user_id)
    try:
        with session.begin_nested():
            session.add(term)
    except IntegrityError:
        raise Conflict("That term is already on the allow list.") from None
    return term


def remove_allow_term(*, session: Session, term_id: uuid.UUID) -> None:
    """Take a term off the vocabulary: the next detection may suggest it again."""
    term = session.get(AllowTerm, term_id)
    if term is None:
        raise NotFound("No allow-list term with that id.")
    session.delete(term)
    session.flush()


def seed_vocabulary(*, session: Session) -> int:
    """Add the default vocabulary's terms that the list lacks (what a new archive starts with:
    the migration that made the table wrote the same rows); return how many were added."""
    present = set(session.exec(select(AllowTerm.key)))
    added = 0
    for text in DEFAULT_VOCABULARY:
        if normalise(text) not in present:
            session.add(AllowTerm(text=text, key=normalise(text)))
            present.add(normalise(text))
            added += 1
    session.flush()
    return added


# -- detection -----------------------------------------------------------------------------


def _deny_and_allow(
    session: Session, registry: Registry, source: Source
) -> tuple[list[Any], list[str]]:
    from service.deid.detect import Term as DenyTerm

    deny: list[DenyTerm] = []
    for participant in session.exec(
        select(Participant).where(col(Participant.withdrawn_at).is_(None))
    ):
        registry.register_participant(participant)
        if participant.identity_ciphertext:
            identity = registry.cipher.decrypt(participant.identity_ciphertext)
            for name in [identity.get("name"), *identity.get("aliases", [])]:
                if name:
                    deny.append(DenyTerm(text=name, entity_type="PERSON", kind="participant"))
    for term in session.exec(select(Term)):
        deny.append(DenyTerm(text=term.text, entity_type=term.entity_type, kind="admin"))
    links = list(
        session.exec(
            select(SourceParticipant, Participant)
            .join(Participant, col(Participant.id) == col(SourceParticipant.participant_id))
            .where(col(SourceParticipant.source_id) == source.id)
        )
    )
    # The people of this source are named in it by parts of their names too ("Quarrington is
    # my surname", "Bea said..."): their labels, names and aliases, whole and word by word,
    # are always found in its text. A label that names a part, not a person, is left alone.
    for link, participant in links:
        # (name, whose list: the reviewer is told which)
        names: list[tuple[str, str]] = []
        if link.speaker_label and not NEUTRAL_SPEAKERS.fullmatch(
            " ".join(link.speaker_label.split())
        ):
            names.append((link.speaker_label, "speaker_label"))
        if participant.withdrawn_at is None and participant.identity_ciphertext:
            identity = registry.cipher.decrypt(participant.identity_ciphertext)
            names += [
                (n, "source_participant")
                for n in [identity.get("name"), *identity.get("aliases", [])]
                if n
            ]
        for name, kind in names:
            for said in {name, *name_parts(name)}:
                deny.append(DenyTerm(text=said, entity_type="PERSON", kind=kind))
    # Participant codes are pseudonyms already. Speaker labels are not allowed: a label is
    # often a name, and the same name in the body text must still be redacted.
    allow = [participant.code for _link, participant in links]
    return deny, allow


def names_a_known_person(
    *, session: Session, cipher: IdentityCipher, texts: Sequence[str], labels: Sequence[str] = ()
) -> bool:
    """Whether any of ``texts`` (a title, tags: metadata every user sees) holds the name of a
    person the archive knows, or a word of one: a participant's name or alias, a speaker label
    given beside it, or a person's name a reviewer confirmed (the registry). The words are
    compared by keyed digest with the registry, so no name is decrypted for it."""
    grams: set[str] = set()
    for text in texts:
        words = re.findall(r"[^\W\d_][\w'’-]*", text)
        for n in range(1, 5):
            for i in range(len(words) - n + 1):
                grams.add(normalise(" ".join(words[i : i + n])))
    if not grams:
        return False
    known = {
        normalise(part)
        for label in labels
        if not NEUTRAL_SPEAKERS.fullmatch(" ".join(label.split()))
        for part in [label, *name_parts(label)]
    }
    for participant in session.exec(
        select(Participant).where(
            col(Participant.withdrawn_at).is_(None),
            col(Participant.identity_ciphertext).is_not(None),
        )
    ):
        assert participant.identity_ciphertext is not None
        identity = cipher.decrypt(participant.identity_ciphertext)
        for name in [identity.get("name"), *identity.get("aliases", [])]:
            if name:
                known |= {normalise(part) for part in [name, *name_parts(name)]}
    if grams & known:
        return True
    digests = [cipher.digest(gram) for gram in grams]
    found = session.exec(
        select(Pseudonym.id)
        .where(Pseudonym.entity_type == "PERSON", col(Pseudonym.term_digest).in_(digests))
        .limit(1)
    ).first()
    return found is not None


_TITLE_WORDS = frozenset(
    [
        "dr",
        "doctor",
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "prof",
        "professor",
        "sister",
        "nurse",
        "matron",
        "councillor",
        "cllr",
        "sir",
        "dame",
        "lady",
        "lord",
        "rev",
        "reverend",
        "father",
        "canon",
    ]
)


def name_parts(name: str) -> list[str]:
    """The words of a name that name someone on their own: not titles, initials or role words
    ("Dr Sarah Jones" gives Sarah and Jones; "Nurse A" gives nothing)."""
    parts = []
    for word in name.split():
        word = word.strip(".,;:()'\"’")
        if (
            len(word) >= 2
            and word[:1].isupper()
            and any(c.islower() for c in word)
            and word.casefold() not in _TITLE_WORDS
            and not NEUTRAL_SPEAKERS.fullmatch(word)
        ):
            parts.append(word)
    return parts


@dataclass
class DetectionPlan:
    """What a detection run needs, read in one short transaction so that the slow part (the
    detector itself) holds no database lock."""

    source_id: uuid.UUID
    texts: list[tuple[uuid.UUID, int, str]]  # id, version, content
    deny: list[Any]
    allow: list[str]
    vocabulary: list[str]


def plan_detection(
    *, session: Session, cipher: IdentityCipher, source_id: uuid.UUID
) -> DetectionPlan | None:
    source = session.get(Source, source_id)
    if source is None:
        return None
    registry = Registry(session, cipher)
    deny, allow = _deny_and_allow(session, registry, source)
    texts = [
        (text.id, text.version, text.content)
        for text in session.exec(select(ExtractedText).where(ExtractedText.source_id == source.id))
        if text.detected_version != text.version
    ]
    vocabulary = list(session.exec(select(AllowTerm.text)))
    return DetectionPlan(
        source_id=source.id, texts=texts, deny=deny, allow=allow, vocabulary=vocabulary
    )


def run_detection(
    plan: DetectionPlan, detector: Detector
) -> dict[tuple[uuid.UUID, int], list[Any]]:
    return {
        (text_id, version): detector.detect(
            content, deny=plan.deny, allow=plan.allow, vocabulary=plan.vocabulary
        )
        for text_id, version, content in plan.texts
    }


def record_detection(
    *, session: Session, plan: DetectionPlan, found: dict[tuple[uuid.UUID, int], list[Any]]
) -> int:
    """Write the suggestions and apply the source's policy; return how many were written.

    Each text's suggestions are written only if the text is still the version that was
    detected (compared and set in this transaction): a text changed meanwhile (a participant's
    segments cut, a speaker renamed, a re-extraction) is detected again by the job its change
    queued, and suggestions at stale offsets never land.
    """
    source = session.exec(
        select(Source).where(Source.id == plan.source_id).with_for_update()
    ).first()
    if source is None:
        return 0
    policy = policy_for(source.source_type, source.level)
    written = 0
    for (text_id, version), spans in found.items():
        covered = session.execute(
            update(ExtractedText)
            .where(col(ExtractedText.id) == text_id, col(ExtractedText.version) == version)
            .values(detected_version=version)
        )
        if covered.rowcount != 1:  # type: ignore[attr-defined]
            continue  # changed or gone since the plan
        session.execute(delete(Redaction).where(col(Redaction.text_id) == text_id))
        for span in spans:
            entity_type = span.entity_type if span.entity_type in ENTITY_TYPES else "ORGANISATION"
            status = status_on_detection(policy=policy, entity_type=entity_type, score=span.score)
            session.add(
                Redaction(
                    source_id=source.id,
                    text_id=text_id,
                    start=span.start,
                    end=span.end,
                    entity_type=entity_type,
                    score=round(span.score, 3),
                    origin=f"detector:{span.recognizer}"[:64],
                    reason=span.reason.as_dict() if span.reason else None,
                    status=status,
                    decided_at=utcnow() if status != "suggested" else None,
                )
            )
            written += 1
    session.flush()
    if awaiting_detection(session=session, source=source):
        # Another text is still to come or to be detected: its own job settles the status.
        source.deid_status = DeidStatus.pending
        source.deid_approved_at = None
    elif policy.review_required:
        source.deid_status = DeidStatus.in_review
        source.deid_approved_at = None
    else:
        source.deid_status = DeidStatus.approved
        source.deid_approved_at = utcnow()
    source.deid_approved_by = None
    session.add(source)
    session.flush()
    return written


def undetected_texts(*, session: Session, source_id: uuid.UUID) -> list[uuid.UUID]:
    """Ids of the source's texts whose current version detection has not covered."""
    return list(
        session.exec(
            select(ExtractedText.id).where(
                ExtractedText.source_id == source_id,
                or_(
                    col(ExtractedText.detected_version).is_(None),
                    col(ExtractedText.detected_version) != col(ExtractedText.version),
                ),
            )
        )
    )


def awaiting_detection(*, session: Session, source: Source) -> bool:
    """Whether some text of the source is still to come (extracting, transcribing) or has not
    been covered by detection in its current version."""
    has_text = session.exec(
        select(ExtractedText.id).where(ExtractedText.source_id == source.id).limit(1)
    ).first()
    coming = session.exec(
        select(File.id)
        .where(
            File.source_id == source.id,
            col(File.extraction_status).in_([ExtractionStatus.pending, ExtractionStatus.running]),
        )
        .limit(1)
    ).first()
    return (
        has_text is None
        or coming is not None
        or bool(undetected_texts(session=session, source_id=source.id))
    )


def reopen(*, session: Session, source: Source) -> None:
    """New or changed text: the source's de-identified form is unpublished until detection has
    covered every text and a person has approved again."""
    source.deid_status = (
        DeidStatus.pending
        if awaiting_detection(session=session, source=source)
        else DeidStatus.in_review
    )
    source.deid_approved_at = None
    source.deid_approved_by = None
    session.add(source)
    session.flush()


def require_published(*, session: Session, source: Source) -> list[tuple[File, ExtractedText]]:
    """The source's texts, if its de-identified form may be served; otherwise a 409 that says
    what it waits for. This is the one rule for the de-identified tier: every text has been
    through detection and a person (or, for national documents, the policy) approved after the
    newest change to any of them."""
    rows = [
        (file, text)
        for file, text in session.exec(
            select(File, ExtractedText)
            .join(ExtractedText, col(ExtractedText.file_id) == col(File.id))
            .where(File.source_id == source.id)
            .order_by(col(File.id))
        )
    ]
    if not rows:
        if source.status in ("received", "extracting"):
            raise Conflict("The text is not ready yet: extraction is still running.")
        if source.status == "failed":
            raise Conflict("No text could be extracted from this source.")
        raise Conflict("This source has no text: none of its files has text to extract.")
    if any(text.detected_version != text.version for _file, text in rows):
        raise Conflict(
            "The de-identified text is awaiting detection: a text of this source is new or "
            "changed and has not been checked for identifiers yet."
        )
    approved_at = source.deid_approved_at
    if (
        source.deid_status != DeidStatus.approved
        or approved_at is None
        or any(text.changed_at > approved_at for _file, text in rows)
    ):
        raise Conflict(
            "The de-identified text is awaiting review: a researcher of the site or an "
            "admin must approve its redactions first."
        )
    return rows


# -- review --------------------------------------------------------------------------------


def redactions_of(*, session: Session, source_id: uuid.UUID) -> list[Redaction]:
    return list(
        session.exec(
            select(Redaction)
            .where(Redaction.source_id == source_id)
            .order_by(col(Redaction.text_id), col(Redaction.start))
        )
    )


def _text_of(session: Session, source: Source, file_id: uuid.UUID) -> ExtractedText:
    text = session.exec(
        select(ExtractedText).where(
            ExtractedText.source_id == source.id, ExtractedText.file_id == file_id
        )
    ).first()
    if text is None:
        raise Unprocessable("That file has no text in this source.")
    return text


def _overlapping(
    session: Session, text_id: uuid.UUID, start: int, end: int, ignore: uuid.UUID | None
) -> Redaction | None:
    query = select(Redaction).where(
        Redaction.text_id == text_id,
        Redaction.status != "rejected",
        col(Redaction.start) < end,
        col(Redaction.end) > start,
    )
    if ignore is not None:
        query = query.where(col(Redaction.id) != ignore)
    return session.exec(query).first()


def _back_to_review(source: Source) -> None:
    """Any change to an approved source's redactions takes it back to review."""
    if source.deid_status == DeidStatus.approved:
        source.deid_status = DeidStatus.in_review
        source.deid_approved_at = None
        source.deid_approved_by = None


def require_text_for_review(session: Session, source: Source) -> None:
    has_text = session.exec(
        select(ExtractedText.id).where(ExtractedText.source_id == source.id)
    ).first()
    if has_text is None:
        raise Conflict("This source has no text to de-identify yet.")


def add_redaction(
    *,
    session: Session,
    source: Source,
    file_id: uuid.UUID,
    start: int,
    end: int,
    entity_type: str,
    replacement: str | None,
    user_id: uuid.UUID,
) -> Redaction:
    """A span a person marked: accepted at once."""
    require_text_for_review(session, source)
    text = _text_of(session, source, file_id)
    if not 0 <= start < end <= len(text.content):
        raise Unprocessable(
            f"The span {start}-{end} is outside the text, which has {len(text.content)} characters."
        )
    clash = _overlapping(session, text.id, start, end, None)
    if clash is not None:
        raise Conflict(
            f"The span {start}-{end} overlaps redaction {clash.id} ({clash.start}-{clash.end}); "
            "change or reject that one first.",
            redaction_id=str(clash.id),
        )
    now = utcnow()
    redaction = Redaction(
        source_id=source.id,
        text_id=text.id,
        start=start,
        end=end,
        entity_type=entity_type,
        replacement=replacement,
        origin="person",
        status="accepted",
        created_by=user_id,
        decided_by=user_id,
        decided_at=now,
    )
    session.add(redaction)
    _back_to_review(source)
    session.add(source)
    session.flush()
    return redaction


def update_redaction(
    *,
    session: Session,
    source: Source,
    redaction_id: uuid.UUID,
    status: str | None,
    replacement: str | None,
    user_id: uuid.UUID,
) -> Redaction:
    redaction = session.get(Redaction, redaction_id)
    if redaction is None or redaction.source_id != source.id:
        raise NotFound("No redaction with that id in this source.")
    if status == "rejected" and identifiable_closed(session, source):
        # Rejecting publishes the words the redaction covers: an identifiable act, and this
        # source's identifiable tier was closed by a withdrawal for everyone.
        raise Forbidden(
            "A participant in this source withdrew keeping de-identified use only: its "
            "redactions can be added to or accepted, never rejected."
        )
    if status is not None:
        if status == "suggested":
            raise Unprocessable("A decision is accepted or rejected.")
        if status == "accepted":
            clash = _overlapping(
                session, redaction.text_id, redaction.start, redaction.end, redaction.id
            )
            if clash is not None and clash.status == "accepted":
                raise Conflict(
                    f"It overlaps the accepted redaction {clash.id}; reject one of them."
                )
        redaction.status = status
    if replacement is not None:
        redaction.replacement = replacement
        if redaction.status == "suggested":
            redaction.status = "accepted"
    redaction.decided_by = user_id
    redaction.decided_at = utcnow()
    session.add(redaction)
    _back_to_review(source)
    session.add(source)
    session.flush()
    return redaction


def approve(
    *, session: Session, cipher: IdentityCipher, source: Source, user_id: uuid.UUID
) -> None:
    """Publish the de-identified text: every suggestion must have been decided."""
    require_text_for_review(session, source)
    if source.deid_status == DeidStatus.approved:
        raise Conflict("This source's de-identified text is already approved.")
    if undetected_texts(session=session, source_id=source.id):
        raise Conflict(
            "A text of this source is new or changed and detection has not covered it yet; "
            "approve once its suggestions are in."
        )
    waiting = [
        r for r in redactions_of(session=session, source_id=source.id) if r.status == "suggested"
    ]
    if waiting:
        raise Conflict(
            f"{len(waiting)} suggested redaction(s) still await a decision; accept or reject them "
            "first.",
            waiting=len(waiting),
        )
    accepted = [
        r for r in redactions_of(session=session, source_id=source.id) if r.status == "accepted"
    ]
    by_text: dict[uuid.UUID, list[Redaction]] = {}
    for r in accepted:
        by_text.setdefault(r.text_id, []).append(r)
    for rows in by_text.values():
        rows.sort(key=lambda r: r.start)
        for a, b in zip(rows, rows[1:], strict=False):
            if b.start < a.end:
                raise Conflict(f"Accepted redactions {a.id} and {b.id} overlap; reject one.")
    # Settle every pseudonym now, so that reading the published text only looks them up.
    registry = Registry(session, cipher)
    for r in accepted:
        if r.replacement is None:
            text = session.get(ExtractedText, r.text_id)
            assert text is not None
            registry.replacement(r.entity_type, text.content[r.start : r.end])
    source.deid_status = DeidStatus.approved
    source.deid_approved_at = utcnow()
    source.deid_approved_by = user_id
    session.add(source)
    session.flush()


# -- rendering -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OffsetMap:
    """Where each replacement sits in both texts, to convert positions either way."""

    # (identifiable start, identifiable end, de-identified start, de-identified end)
    segments: tuple[tuple[int, int, int, int], ...]

    def to_deidentified(self, position: int, *, end: bool = False) -> int:
        """A position in the identifiable text, in the de-identified one. A position inside a
        replaced span goes to the start of its replacement, or to its end if ``end`` (for the
        end of a range, so that a range never cuts a replacement in two)."""
        return self._convert(position, end, source=0, target=2)

    def to_identifiable(self, position: int, *, end: bool = False) -> int:
        """A position in the de-identified text (a search hit, a coding), in the identifiable
        one; inside a replacement it goes to the start (or ``end``) of the words replaced."""
        return self._convert(position, end, source=2, target=0)

    def _convert(self, position: int, end: bool, *, source: int, target: int) -> int:
        index = bisect.bisect_right([s[source] for s in self.segments], position) - 1
        if index < 0:
            return position
        segment = self.segments[index]
        from_start, from_end = segment[source], segment[source + 1]
        to_start, to_end = segment[target], segment[target + 1]
        if position == from_start:
            return to_start
        if position < from_end:
            return to_end if end else to_start
        return to_end + (position - from_end)


@dataclass(frozen=True)
class Rendered:
    text: str
    offsets: OffsetMap


def render(text: str, replacements: Sequence[tuple[int, int, str]]) -> Rendered:
    """The text with each (start, end, replacement) applied; spans must not overlap."""
    pieces: list[str] = []
    segments: list[tuple[int, int, int, int]] = []
    cursor = 0
    length = 0
    for start, end, replacement in sorted(replacements):
        pieces.append(text[cursor:start])
        length += start - cursor
        pieces.append(replacement)
        segments.append((start, end, length, length + len(replacement)))
        length += len(replacement)
        cursor = end
    pieces.append(text[cursor:])
    return Rendered("".join(pieces), OffsetMap(tuple(segments)))


def deidentified(
    *, session: Session, cipher: IdentityCipher, source: Source
) -> list[tuple[File, ExtractedText, Rendered]]:
    """The source's texts in de-identified form, with the registry's current pseudonyms; a 409
    unless ``require_published`` lets them out."""
    rows = require_published(session=session, source=source)
    registry = Registry(session, cipher)
    accepted: dict[uuid.UUID, list[Redaction]] = {}
    for r in redactions_of(session=session, source_id=source.id):
        if r.status == "accepted":
            accepted.setdefault(r.text_id, []).append(r)
    result = []
    for file, text in rows:
        replacements = [
            (
                r.start,
                r.end,
                r.replacement or registry.replacement(r.entity_type, text.content[r.start : r.end]),
            )
            for r in accepted.get(text.id, [])
        ]
        result.append((file, text, render(text.content, replacements)))
    return result


# Speaker labels that name a part in the conversation, not a person: shown as they are.
NEUTRAL_SPEAKERS = re.compile(
    r"(interviewer|interviewee|facilitator|moderator|researcher|observer|chair|note[- ]?taker"
    r"|participant|respondent|speaker|unknown|unidentified|all|several|group)( \d{1,3})?",
    re.IGNORECASE,
)


def speaker_names(*, session: Session, source: Source, labels: Sequence[str]) -> dict[str, str]:
    """How each speaker label appears in the de-identified tier: a linked participant's
    pseudonym, a neutral label kept as it is (``Interviewer``), or ``Speaker N`` in order of
    first appearance. A label is often a name, so no other label is ever shown; which label is
    which participant is identifiable-tier data."""
    linked = {
        normalise(link.speaker_label): participant_pseudonym(participant.code)
        for link, participant in session.exec(
            select(SourceParticipant, Participant)
            .join(Participant, col(Participant.id) == col(SourceParticipant.participant_id))
            .where(col(SourceParticipant.source_id) == source.id)
        )
        if link.speaker_label
    }
    shown: dict[str, str] = {}
    for label in labels:
        key = normalise(label)
        if key in linked:
            shown[label] = linked[key]
        elif NEUTRAL_SPEAKERS.fullmatch(" ".join(label.split())):
            shown[label] = " ".join(label.split()).capitalize()
    taken = set(shown.values())
    numbered = 0
    for label in labels:
        if label in shown:
            continue
        numbered += 1
        while f"Speaker {numbered}" in taken:
            numbered += 1
        shown[label] = f"Speaker {numbered}"
    return shown


# -- de-identified audio -------------------------------------------------------------------


def audio_key(file: File, approved_at: Any) -> str:
    """Where the de-identified audio of this approval lives: a new approval, a new object, so
    a stale rendering is never served for a newer decision."""
    return f"{file.source_id}/{file.id}/deidentified-{int(approved_at.timestamp() * 1000)}.ogg"


_RENDERING = re.compile(r"^[^/]+/[^/]+/deidentified-\d+\.ogg$")


def remove_audio_renderings(*, store: ObjectStore, source_id: uuid.UUID) -> int:
    """Remove every rendering of the source's de-identified audio, of every approval (a voice
    identifies its speaker however the words are toned); return how many went."""
    keys = [k for k in store.list_keys(store.derived, f"{source_id}/") if _RENDERING.fullmatch(k)]
    for key in keys:
        store.remove(store.derived, key)
    return len(keys)


def recordings_to_redact(*, session: Session, source: Source) -> list[File]:
    """The source's recordings that have a machine transcript (so their words have times)."""
    return list(
        session.exec(
            select(File)
            .join(ExtractedText, col(ExtractedText.file_id) == col(File.id))
            .where(
                File.source_id == source.id,
                col(File.media_type).startswith("audio/")
                | col(File.media_type).startswith("video/"),
                col(File.erased_at).is_(None),
            )
        )
    )
