"""The de-identification detector: recall pinned on the evaluation set and, as floors, on the
held-out set; offline operation, the validating recognisers, transcript forms, deny and allow
lists, long texts, overlaps."""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from bench.deid_eval import HELDOUT, TARGETS, overlaps, per_genre, predict, score, terms_kept
from bench.deid_heldout_build import SOURCE as HELDOUT_SOURCE
from bench.deid_heldout_build import parse, render
from service.deid.detect import (
    _POS_KEY,
    DEFAULT_ALLOW,
    ENTITY_TYPES,
    SPACY_MODEL,
    AllowList,
    Detector,
    Span,
    Term,
    _Candidate,
    _chunks,
    _resolve,
    nhs_number_valid,
    pos,
)
from service.deid.vocabulary import DEFAULT_VOCABULARY

EVAL = Path(__file__).parent / "data" / "deid_eval.jsonl"
GROUND_TRUTH_TYPES = {
    "PERSON",
    "ORGANISATION",
    "LOCATION",
    "DATE",
    "EMAIL",
    "PHONE",
    "NHS_NUMBER",
    "POSTCODE",
    "HOSPITAL",
}


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector()


def passages() -> list[dict[str, Any]]:
    with EVAL.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def found(spans: list[Span], entity_type: str) -> list[str]:
    return [s.text for s in spans if s.entity_type == entity_type]


# -- the evaluation set ------------------------------------------------------------------------


def test_eval_set_is_well_formed() -> None:
    rows = passages()
    assert len(rows) >= 60
    assert len({r["id"] for r in rows}) == len(rows)
    assert {r["kind"] for r in rows} == {"interview", "meeting", "document", "asr"}
    seen_types = set()
    for row in rows:
        text = row["text"]
        assert set(row) >= {"id", "kind", "text", "spans", "deny", "allow"}, row["id"]
        previous_end = 0
        for span in sorted(row["spans"], key=lambda s: s["start"]):
            assert 0 <= span["start"] < span["end"] <= len(text), (row["id"], span)
            assert span["start"] >= previous_end, f"{row['id']}: overlapping spans"
            assert span["type"] in ENTITY_TYPES, (row["id"], span)
            value = text[span["start"] : span["end"]]
            assert value == value.strip() and value, (row["id"], value)
            if span["type"] == "NHS_NUMBER" and re.fullmatch(r"[\d -]+", value):
                assert nhs_number_valid(re.sub(r"\D", "", value)), (row["id"], value)
            previous_end = span["end"]
            seen_types.add(span["type"])
        for term in row["deny"]:
            assert term["entity_type"] in ENTITY_TYPES
            assert term["text"].casefold() in text.casefold(), (row["id"], term)
    assert seen_types >= GROUND_TRUTH_TYPES
    # The NER is measured on its own too: names without a registry entry.
    assert sum(1 for r in rows if r["deny"]) < len(rows) / 4


def test_recall_meets_targets(detector: Detector) -> None:
    rows = passages()
    started = time.perf_counter()
    predictions = []
    for row in rows:
        deny = [Term(d["text"], d["entity_type"]) for d in row["deny"]]
        spans = detector.detect(row["text"], deny=deny, allow=row["allow"])
        predictions.append(
            [
                {
                    "start": s.start,
                    "end": s.end,
                    "type": s.entity_type,
                    "score": s.score,
                    "recognizer": s.recognizer,
                }
                for s in spans
            ]
        )
    assert time.perf_counter() - started < 30
    result = score(rows, predictions)
    failed = {g: t for g, t in result["targets"].items() if not t["met"]}
    assert not failed, (failed, result["misses"])
    assert set(result["targets"]) == set(TARGETS)
    # What a redaction catches, whatever label it gives.
    assert result["overall"]["type_agnostic_recall"] >= 0.97
    assert result["overall"]["type_agnostic_precision"] >= 0.9
    for kind in ("DATE", "EMAIL", "PHONE", "NHS_NUMBER", "POSTCODE"):
        assert result["per_type"][kind]["precision"] >= 0.95, kind


# -- the held-out set ---------------------------------------------------------------------------
# Written independently of the recognisers and of the set above (issue 10): it measures, it never
# teaches. The floors below are its figures when it was first run, each rounded down to two
# decimals, so that they cannot silently drop; raise them when the detector improves, but never
# change the detector by reading the held-out passages.

# type -> (recall with the type right, recall whatever the label), as floors.
HELDOUT_RECALL_FLOORS = {
    "PERSON": (0.78, 0.81),
    "ORGANISATION": (0.26, 0.74),
    "HOSPITAL": (0.83, 0.91),
    "LOCATION": (0.70, 0.87),
    "WARD": (0.57, 0.74),
    "DATE": (0.97, 0.97),
    "EMAIL": (0.85, 0.85),
    "PHONE": (0.77, 0.77),
    "POSTCODE": (0.73, 0.73),
    "NHS_NUMBER": (0.73, 0.73),
    # no recogniser labels job titles; what overlaps them counts. 0.69 until generic committee
    # and department names became vocabulary (issue 10): one title that such a name overlapped
    # is no longer caught in passing.
    "JOB_TITLE": (0.00, 0.66),
}
# genre -> recall whatever the label, as floors.
HELDOUT_GENRE_FLOORS = {
    "interview": 0.94,
    "group_interview": 0.89,
    "observation": 0.95,
    "local_document": 0.92,  # 0.93 before issue 10's vocabulary: the job title above
    "national_document": 0.98,
    "transcript": 0.36,
}
HELDOUT_GENRES = {
    "interview": 18,
    "group_interview": 8,
    "observation": 10,
    "local_document": 10,
    "national_document": 8,
    "transcript": 16,
}


def heldout_passages() -> list[dict[str, Any]]:
    with HELDOUT.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_heldout_set_is_well_formed_and_built_from_its_source() -> None:
    rows = heldout_passages()
    source = HELDOUT_SOURCE.read_text(encoding="utf-8")
    assert HELDOUT.read_text(encoding="utf-8") == render(parse(source)), "rebuild the held-out set"
    assert len({r["id"] for r in rows}) == len(rows) >= 70
    genres: dict[str, int] = {}
    for row in rows:
        genres[row["genre"]] = genres.get(row["genre"], 0) + 1
    assert genres == HELDOUT_GENRES
    spans = [s for r in rows for s in r["spans"]]
    assert len(spans) >= 590 and sum(len(r["keep"]) for r in rows) >= 570
    types = {s["type"] for s in spans}
    assert types - {"JOB_TITLE"} <= set(ENTITY_TYPES)
    assert types >= GROUND_TRUTH_TYPES | {"WARD", "JOB_TITLE"}
    for row in rows:
        text = row["text"]
        previous_end = 0
        for span in sorted(row["spans"], key=lambda s: s["start"]):
            assert 0 <= span["start"] < span["end"] <= len(text), (row["id"], span)
            assert span["start"] >= previous_end, f"{row['id']}: overlapping spans"
            value = text[span["start"] : span["end"]]
            assert value == value.strip() and value, (row["id"], value)
            if span["type"] == "NHS_NUMBER" and re.fullmatch(r"[\d -]+", value):
                assert nhs_number_valid(re.sub(r"\D", "", value)), (row["id"], value)
            previous_end = span["end"]
        for term in row["keep"]:
            assert text[term["start"] : term["end"]] == term["term"], (row["id"], term)
            assert not any(overlaps(term, s) for s in row["spans"]), (row["id"], term)
        if row["genre"] == "transcript":  # lower case, no punctuation, as speech recognition
            assert not re.search(r"[A-Z.,;:?!]", text), row["id"]


def test_heldout_recall_and_kept_terms_do_not_drop(detector: Detector) -> None:
    rows = heldout_passages()
    predictions = predict(detector, rows)
    result = score(rows, predictions)
    below = {
        kind: (row["recall"], row["type_agnostic_recall"], HELDOUT_RECALL_FLOORS[kind])
        for kind, row in result["per_type"].items()
        if row["truth"]
        and (
            row["recall"] < HELDOUT_RECALL_FLOORS[kind][0]
            or row["type_agnostic_recall"] < HELDOUT_RECALL_FLOORS[kind][1]
        )
    }
    assert not below, below
    assert set(HELDOUT_RECALL_FLOORS) == {k for k, r in result["per_type"].items() if r["truth"]}
    assert result["overall"]["recall"] >= 0.67
    assert result["overall"]["type_agnostic_recall"] >= 0.81
    kept = terms_kept(rows, [r["keep"] for r in rows], predictions)
    assert kept["share_kept"] >= 0.93, kept["redacted_by_term"]  # 0.83 before the vocabulary work
    genres = per_genre(rows, predictions, kept)
    below = {
        g: row["type_agnostic_recall"]
        for g, row in genres.items()
        if row["type_agnostic_recall"] < HELDOUT_GENRE_FLOORS[g]
    }
    assert not below, below


# -- offline ----------------------------------------------------------------------------------


def test_builds_and_detects_without_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[Any] = []
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def loopback(host: Any) -> bool:
        if host in ("localhost", "", None):
            return True
        try:
            return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
        except ValueError:
            return False

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not loopback(address[0]):
            attempts.append(address)
            raise OSError("network disabled in this test")
        return real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not loopback(host):
            attempts.append(host)
            raise socket.gaierror("network disabled in this test")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    fresh = Detector()  # a new tldextract instance too: its suffix list loads on first use
    spans = fresh.detect(
        "Email sarah.jones@nhs.net or admin@example.org, see https://www.example.co.uk/help; "
        "or say it: sarah dot jones at nhs dot net."
    )
    assert found(spans, "EMAIL") == [
        "sarah.jones@nhs.net",
        "admin@example.org",
        "sarah dot jones at nhs dot net",
    ]
    assert attempts == []


def test_the_faster_pipeline_reads_every_text_as_the_whole_one(detector: Detector) -> None:
    """The detector's spaCy pipeline leaves out the lemmatizer and the attribute ruler (run only
    for the tokens whose part of speech is asked, ``pos``) and multiplies with numpy's BLAS: on
    every passage of the first set, and on the speed benchmark's long chunks, the entities, the
    sentence starts (which bound the NER's entities) and every token's part of speech are those
    of spaCy's whole pipeline as shipped."""
    import spacy

    whole = spacy.load(SPACY_MODEL)
    texts = [p["text"] for p in passages()]
    long_text = "\n\n".join(texts * 2)
    texts += [chunk for _, chunk in _chunks(long_text)]
    assert len(texts) > len(passages())  # the long text is cut into chunks
    engine = detector._analyzer.nlp_engine
    assert "attribute_ruler" not in engine.get_nlp("en").pipe_names
    for text in texts:
        fast = engine.process_text(text, "en").tokens
        fast.user_data[_POS_KEY] = detector._parts_of_speech
        full = whole(text)
        assert [(e.start_char, e.end_char, e.label_) for e in fast.ents] == [
            (e.start_char, e.end_char, e.label_) for e in full.ents
        ]
        assert [t.is_sent_start for t in fast] == [t.is_sent_start for t in full]
        assert [pos(t) for t in fast] == [t.pos_ for t in full]


# -- validating recognisers -------------------------------------------------------------------


def test_nhs_number_check_digit() -> None:
    assert nhs_number_valid("9434765919")
    assert not nhs_number_valid("9434765918")
    # check digit would be 10: never issued
    assert not any(nhs_number_valid(f"123456789{d}") for d in "0123456789")
    assert not nhs_number_valid("943476591")


def test_valid_nhs_number_is_found_and_invalid_is_not(detector: Detector) -> None:
    spans = detector.detect("NHS number 943 476 5919, old ref 943 476 5918, also 9434765919.")
    assert found(spans, "NHS_NUMBER") == ["943 476 5919", "9434765919"]
    assert all(s.score >= 0.9 for s in spans if s.entity_type == "NHS_NUMBER")
    assert not [s for s in spans if "5918" in s.text]


@pytest.mark.parametrize(
    "phone",
    [
        "07700 900123",
        "+44 7700 900123",
        "(020) 7946 0000",
        "020 7946 0011",
        "0161 496 0000",
        "01632 960123",
        "+44 (0)161 496 0123",
        "07700-900-321",
    ],
)
def test_uk_phone_formats(detector: Detector, phone: str) -> None:
    spans = detector.detect(f"Ring me on {phone} after two.")
    assert found(spans, "PHONE") == [phone]
    assert spans[0].score >= 0.9


@pytest.mark.parametrize(
    ("text", "phone", "score"),
    [
        # Whisper's grouping of "07700 900123", a digit doubled: after a cue, whatever its length
        ("Call me on 07-7-0-0-0900-123 tomorrow.", "07-7-0-0-0900-123", 0.8),
        ("My number is 07-7-0-0-0900-123.", "07-7-0-0-0900-123", 0.8),
        ("Ring me on 0161-4-9-6-00000, after two.", "0161-4-9-6-00000", 0.8),
        ("you can ring me on 0 7 7 0 0 9 0 0 1 2 3 any time", "0 7 7 0 0 9 0 0 1 2 3", 0.85),
        ("Call me on 07700.900.123 tomorrow.", "07700.900.123", 0.85),
        # an odd grouping of a well-formed number needs no cue
        ("Yeah 07-7-0-0-900-123 is the mobile.", "07-7-0-0-900-123", 0.85),
        ("It was 0161.496.0000 then.", "0161.496.0000", 0.85),
        ("It was +44 7700.900.123 then.", "+44 7700.900.123", 0.85),
    ],
)
def test_uk_phones_grouped_oddly(detector: Detector, text: str, phone: str, score: float) -> None:
    """Issue 9: a speech recogniser groups a number's digits its own way, and may double one;
    written forms use dots or spaces between single digits."""
    spans = detector.detect(text)
    assert [(s.text, s.entity_type) for s in spans] == [(phone, "PHONE")]
    assert spans[0].score >= score


def test_numbers_that_are_not_phones(detector: Detector) -> None:
    text = (
        "On 2024-03-05 at 09.00-17.00, NHS number 943-476-5919, we spent £1,234.56 and "
        "0.5 0.75 0.8 of a post; 05-03-2024 06-03-2024; ref 0044-1234; code 012-345; "
        "the 09.00 10.30 11.45 12.15 slots; version 0.9.1.2.3.4.5.6.7.8."
    )
    spans = detector.detect(text)
    assert found(spans, "PHONE") == [], spans
    assert found(spans, "NHS_NUMBER") == ["943-476-5919"]
    assert found(spans, "DATE") == ["2024-03-05", "05-03-2024", "06-03-2024"]
    # A cue does not make a phone of an NHS number, a date or too few digits.
    for cue in ("call me on", "my number is", "ring me on"):
        assert found(detector.detect(f"{cue} 2024-03-05"), "PHONE") == [], cue
        assert found(detector.detect(f"{cue} 0-7-7-0-0-9-0"), "PHONE") == [], cue
    spans = detector.detect("My NHS number is 943-476-5919, ring me on 07700 900123.")
    assert [(s.text, s.entity_type) for s in spans] == [
        ("943-476-5919", "NHS_NUMBER"),
        ("07700 900123", "PHONE"),
    ]


def test_postcodes_full_and_outward(detector: Detector) -> None:
    spans = detector.detect("Send it to 14 Mill Lane, Marple SK6 7AB; the M13 area has the least.")
    assert found(spans, "POSTCODE") == ["SK6 7AB", "M13"]
    # outward codes need a cue: a motorway and a vitamin are not postcodes
    assert found(detector.detect("Roadworks on the M60 again. Low B12 levels."), "POSTCODE") == []


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("We went live on the third of March, finally.", "the third of March"),
        ("It was March 3rd 2021 when it broke.", "March 3rd 2021"),
        ("The letter of 12/10/2021 was lost.", "12/10/2021"),
        ("On Tuesday 3 May 2022 the huddle ran late.", "Tuesday 3 May 2022"),
        ("i started in march twenty nineteen on nights", "march twenty nineteen"),
        ("Scanner down from 2 to 16 November.", "2 to 16 November"),
    ],
)
def test_dates(detector: Detector, text: str, date: str) -> None:
    assert found(detector.detect(text), "DATE") == [date]


def test_relative_dates_years_and_months_alone_are_not_dates(detector: Detector) -> None:
    spans = detector.detect(
        "Last Tuesday someone asked. Next week we review it. In 2019 we bid; in March we won. "
        "May I add something?"
    )
    assert found(spans, "DATE") == []


# -- transcript forms -------------------------------------------------------------------------


def test_spoken_phone_and_nhs_numbers(detector: Detector) -> None:
    text = (
        "so i rang her on oh seven seven double oh nine hundred one two three and the nhs number "
        "was five four three two three one nine four eight nine and the office is zero one six "
        "one four nine six zero zero zero zero"
    )
    spans = detector.detect(text)
    assert found(spans, "PHONE") == [
        "oh seven seven double oh nine hundred one two three",
        "zero one six one four nine six zero zero zero zero",
    ]
    assert found(spans, "NHS_NUMBER") == ["five four three two three one nine four eight nine"]
    # ten spoken digits failing the check are no NHS number
    assert (
        found(
            detector.detect("it was five four three two three one nine four eight eight"),
            "NHS_NUMBER",
        )
        == []
    )


def test_spoken_emails(detector: Detector) -> None:
    text = (
        "email me it's sarah dot jones at nhs dot net or j underscore patel at northshire dot nhs "
        "dot uk and we're at home dot nowhere"
    )
    assert found(detector.detect(text), "EMAIL") == [
        "sarah dot jones at nhs dot net",
        "j underscore patel at northshire dot nhs dot uk",
    ]


def test_identifiers_as_speech_recognition_writes_them(detector: Detector) -> None:
    """Whisper writes digits in its own grouping, sometimes with a digit misheard, and drops the
    spoken "at" of an address: these are what reach the detector from a recording."""
    spans = detector.detect(
        "The patient's NHS number is 485-777-3456 and my NHS number is 943 476 59919. "
        "The hospital number was 12345678. You can email me at Sarah.jones.nhs.net, "
        "the leaflet is on www.nhs.uk and we had 12 345 678 appointments."
    )
    assert found(spans, "NHS_NUMBER") == ["485-777-3456", "943 476 59919", "12345678"]
    assert found(spans, "EMAIL") == ["Sarah.jones.nhs.net"]
    # A dotted name with no word about e-mail near it is left alone.
    assert found(detector.detect("The outbreak team met at ward7.rota.nhs.net."), "EMAIL") == []


def test_titles_stay_outside_the_name(detector: Detector) -> None:
    spans = detector.detect("Then Dr Okonkwo and Sister Mbeki came, and Nurse Practitioner cover.")
    assert found(spans, "PERSON") == ["Okonkwo", "Mbeki"]


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("Dr", "Ward"),
        ("Sister", "Ward"),
        ("Mr", "England"),
        ("Dr", "Nice"),
        ("Nurse", "Page"),
        ("Dr", "Wardle"),
        ("Mr", "Wales"),
        ("Matron", "Trust"),
    ],
)
def test_a_name_after_a_title_is_a_person_whatever_the_word(
    detector: Detector, title: str, name: str
) -> None:
    """A common noun or a vocabulary word after a title is a surname (issue 9): the title
    says so, whatever the word lists say of the word on its own."""
    for text in (
        f"Then {title} {name} came to see us.",
        f"We asked {title} {name}, who said no.",
        f"{title} {name} ran the huddle.",
    ):
        spans = detector.detect(text)
        assert [(s.text, s.entity_type) for s in spans] == [(name, "PERSON")], text
    # A role after a title is no name, nor is a title's phrase.
    assert detector.detect("Then Nurse Practitioner cover and a Ward Manager came.") == []
    spans = detector.detect("The Doctor Ward Round ran late; so did the Sister Ward Manager.")
    assert found(spans, "PERSON") == []
    assert detector.detect("Ask the Sister in charge, or a Nurse Consultant.") == []


def test_a_name_after_a_title_in_a_caseless_transcript(detector: Detector) -> None:
    text = "so i asked dr ward and sister ward about it and they said the ward was full"
    assert [(s.text, s.entity_type) for s in detector.detect(text)] == [
        ("ward", "PERSON"),
        ("ward", "PERSON"),
    ]
    # a sister ward is a ward, not a nun
    assert detector.detect("so they moved him to our sister ward and it was fine really") == []


def test_hospitals_and_wards(detector: Detector) -> None:
    spans = detector.detect(
        "I moved from Ward 7 at St Elsewhere Hospital to the Ash ward, then ward seven at "
        "Northshire Community Health NHS Trust. The Trust and the ward were fine."
    )
    # Wards are a type of their own, shown as [Ward], not given a trust's pseudonym.
    assert found(spans, "HOSPITAL") == [
        "St Elsewhere Hospital",
        "Northshire Community Health NHS Trust",
    ]
    assert found(spans, "WARD") == ["Ward 7", "Ash ward", "ward seven"]
    # "Dr Ward" is a person, not a ward; no allow-list word hides a name after a title.
    assert found(detector.detect("Then Dr Ward and Mr England came."), "WARD") == []
    assert found(detector.detect("Then Dr Ward and Mr England came."), "PERSON") == [
        "Ward",
        "England",
    ]


# -- deny and allow lists ---------------------------------------------------------------------


def test_deny_list_is_case_and_whitespace_tolerant_and_whole_word(detector: Detector) -> None:
    text = "yeah ros  q said it, Rosalind QUARRINGTON agreed; Rosalinde did not. EPR-Max crashed."
    deny = [
        Term("Rosalind Quarrington", "PERSON"),
        Term("Ros Q", "PERSON"),
        Term("Rosalind", "PERSON"),
        Term("EPR-Max", "SYSTEM"),
    ]
    spans = detector.detect(text, deny=deny)
    denied = [(s.text, s.entity_type) for s in spans if s.recognizer == "deny_list"]
    assert denied == [
        ("ros  q", "PERSON"),
        ("Rosalind QUARRINGTON", "PERSON"),
        ("EPR-Max", "SYSTEM"),
    ]
    assert all(s.score == 1.0 for s in spans if s.recognizer == "deny_list")
    assert "Rosalinde" not in found(spans, "PERSON") or all(
        s.recognizer != "deny_list" for s in spans if s.text == "Rosalinde"
    )


def test_deny_list_wins_overlaps_and_beats_the_allow_list(detector: Detector) -> None:
    text = "Dr Amara Osei from Kettlewick General Hospital said so."
    spans = detector.detect(
        text, deny=[Term("Osei from Kettlewick", "PERSON")], allow=["Osei from Kettlewick"]
    )
    # what the deny-list hit leaves of the overlapped names is kept, if still a name; the
    # allowed phrase takes its part of the hospital, and "General Hospital" names nothing
    assert [(s.text, s.recognizer) for s in spans] == [
        ("Amara", "titled_person"),
        ("Osei from Kettlewick", "deny_list"),
    ]
    spans = detector.detect(text, deny=[Term("Osei from Kettlewick", "PERSON")])
    assert [(s.text, s.recognizer) for s in spans] == [
        ("Amara", "titled_person"),
        ("Osei from Kettlewick", "deny_list"),
        ("General Hospital", "hospital"),
    ]


def test_unknown_deny_type_is_refused(detector: Detector) -> None:
    with pytest.raises(ValueError, match="unknown entity type"):
        detector.detect("text", deny=[Term("x", "SECRET")])


def test_default_allow_list(detector: Detector) -> None:
    text = (
        "Interviewer: And the Trust?\nParticipant: NHS England set it, the GP and A&E hated it.\n"
        "P-017: The Department of Health agreed. Facilitator: Thanks. Participant 12 left."
    )
    assert detector.detect(text) == []
    # Speaker labels are fixed; the NHS words come from the project's vocabulary, whose
    # defaults the detector uses unless given the archive's list.
    assert {"interviewer", "participant", "facilitator"} <= DEFAULT_ALLOW
    assert {"NHS", "GP", "A&E", "trust", "NHS England"} <= set(DEFAULT_VOCABULARY)
    assert [s.text for s in detector.detect(text, vocabulary=())] == [
        "GP",
        "A&E",
        "Department of Health",
    ]


def test_vocabulary_exact_and_at_the_edges(detector: Detector) -> None:
    text = (
        "The EPR go-live at Northgate EPR went badly; Kettlewick NHS Trust and the University "
        "of Wales watched, and NHS England's CCIO came."
    )
    spans = [(s.text, s.entity_type) for s in detector.detect(text)]
    # trimmed off the edge; a name-forming word (NHS Trust) or one joined by "of" stays
    assert ("Northgate", "ORGANISATION") in spans
    assert ("Kettlewick NHS Trust", "HOSPITAL") in spans
    assert ("University of Wales", "ORGANISATION") in spans
    assert not any(t in s for s, _ in spans for t in ("EPR", "go-live", "CCIO", "NHS England"))
    # exact matches only: the longer span keeps the term
    exact = [s.text for s in detector.detect(text, trim_allowed=False)]
    assert "Northgate EPR" in exact and "EPR" not in exact


def test_acronyms_keep_their_capitals(detector: Detector) -> None:
    # ED is the emergency department; Ed is a person. Lower-case transcripts match too.
    spans = detector.detect("Ed Balls and Ed came to the ED.")
    assert [s.text for s in spans] == ["Ed Balls", "Ed"]
    assert detector.detect("so the ed was rammed and the epr was down", vocabulary=["ED"]) == []


def test_an_acronym_never_takes_a_name_with_it(detector: Detector) -> None:
    """ "Pas Okonkwo" (issue 9): the allow list's PAS must not take the capitalised name, nor
    the surname with it; the name is suggested whole, at each occurrence, wherever it stands,
    even when the NER misses it."""
    for text in (
        "Pas Okonkwo ran the team. Pas Okonkwo ran the team.",
        "Pas Okonkwo ran the team. Later, Pas Okonkwo ran the team again.",
        "Interviewer: Who ran it?\nParticipant: Pas Okonkwo ran the team. Yeah, Pas Okonkwo "
        "ran the team.",
        "Honestly Pas Okonkwo ran the team, and Pas Okonkwo ran the team well.",
    ):
        for vocabulary in (DEFAULT_VOCABULARY, ()):
            spans = detector.detect(text, vocabulary=vocabulary)
            names = [s for s in spans if "Okonkwo" in s.text]
            assert [s.text for s in names] == ["Pas Okonkwo", "Pas Okonkwo"], (text, spans)
    # The acronym itself, in capitals, is trimmed off; what is not allowed stays.
    spans = detector.detect("Ask PAS Okonkwo about the PAS.")
    assert [s.text for s in spans if "Okonkwo" in s.text] in (["Okonkwo"], ["PAS Okonkwo"])


def test_the_allow_list_removes_only_what_it_allows() -> None:
    allow = AllowList.of(DEFAULT_VOCABULARY)

    def kept(text: str) -> str | None:
        found = allow.trim(text, 0, len(text))
        return None if found is None else text[found[0] : found[1]]

    assert kept("Pas Okonkwo") == "Pas Okonkwo"
    assert kept("Ed Okonkwo") == "Ed Okonkwo"
    assert kept("PAS Okonkwo") == "Okonkwo"
    assert kept("Okonkwo PAS") == "Okonkwo"
    assert kept("Northgate EPR") == "Northgate"
    assert kept("EPR") is None
    # A name a stop word spells stays: it is no allowed word.
    assert kept("EPR Will") == "Will"
    # A programme's name is allowed whole, and a piece of it is allowed with it.
    assert kept("Global Digital Exemplar") is None
    text = "We were a Global Digital Exemplar."
    start = text.index("Global")
    assert allow.trim(text, start, start + len("Global Digital")) is None
    assert allow.trim(text, start + len("Global "), text.index(".")) is None


def test_programme_names_are_vocabulary_as_whole_phrases(detector: Detector) -> None:
    """ "Global Digital Exemplar" is vocabulary (issue 9): no recogniser's piece of it
    ("Global Digital", as a supplier-like name) is suggested, and where a longer span holds the
    phrase, no fragment of the phrase is left suggested."""
    text = (
        "We were a Global Digital Exemplar, then a fast follower; the GDE money came in 2017. "
        "The Global Digital Exemplar Programme Board met at Kettlewick General Hospital. "
        "Northgate Global Digital Exemplar work went well, said Gareth Pritchard."
    )
    spans = [(s.text, s.entity_type) for s in detector.detect(text)]
    assert not [s for s, _ in spans if re.search(r"Global|Digital|Exemplar|GDE|fast", s)], spans
    assert ("Kettlewick General Hospital", "HOSPITAL") in spans
    assert ("Gareth Pritchard", "PERSON") in spans
    assert ("Northgate", "ORGANISATION") in spans or ("Northgate", "LOCATION") in spans
    # Without the vocabulary the phrase is no longer protected.
    plain = [s.text for s in detector.detect(text, vocabulary=())]
    assert any("Global" in s for s in plain)


def test_deny_list_wins_over_the_vocabulary(detector: Detector) -> None:
    text = "We were a fast follower of the Lorenzo EPR."
    spans = detector.detect(text, deny=[Term("Lorenzo EPR", "SYSTEM")])
    assert [(s.text, s.recognizer) for s in spans] == [("Lorenzo EPR", "deny_list")]


def test_extra_allow_entries(detector: Detector) -> None:
    text = "We met Tomasz Nowak in Kettlewick."
    assert found(detector.detect(text), "PERSON") == ["Tomasz Nowak"]
    spans = detector.detect(text, allow=["tomasz  nowak"])
    assert "Tomasz Nowak" not in [s.text for s in spans]


# -- long texts, chunks, overlaps -------------------------------------------------------------


def test_chunks_cover_the_text_exactly() -> None:
    text = ("para one. " * 300 + "\n\n") * 30 + "x" * 25_000 + " tail"
    pieces = list(_chunks(text, limit=5_000))
    assert "".join(chunk for _, chunk in pieces) == text
    assert all(len(chunk) <= 5_000 for _, chunk in pieces)
    assert all(text[offset : offset + len(chunk)] == chunk for offset, chunk in pieces)
    assert list(_chunks("")) == [(0, "")]


def test_long_text_offsets_are_exact(detector: Detector) -> None:
    rows = passages()
    paragraphs = []
    while sum(len(p) + 2 for p in paragraphs) < 210_000:
        paragraphs.extend(r["text"] for r in rows)
    marker = "Ring Dr Achterberg-Quist on 07700 900999 about 3 March 2021."
    text = "\n\n".join([*paragraphs, marker])
    assert len(text) > 200_000
    spans = detector.detect(text, deny=[Term("Rosalind Quarrington", "PERSON")])
    assert spans == sorted(spans, key=lambda s: s.start)
    for before, after in zip(spans, spans[1:], strict=False):
        assert before.end <= after.start
    for span in spans:
        assert text[span.start : span.end] == span.text
        assert span.entity_type in ENTITY_TYPES and 0 < span.score <= 1
    tail = [
        (s.start - (len(text) - len(marker)), s.text)
        for s in spans
        if s.start >= len(text) - len(marker)
    ]
    assert {(8, "Achterberg-Quist"), (28, "07700 900999"), (47, "3 March 2021")} <= set(tail)


def test_overlap_resolution_prefers_deny_then_length_then_score() -> None:
    kept = _resolve(
        [
            _Candidate(0, 20, "ORGANISATION", 0.85, "spacy_ner"),
            _Candidate(5, 10, "PERSON", 1.0, "deny_list", denied=True),
            _Candidate(12, 30, "LOCATION", 0.6, "address"),
            _Candidate(12, 30, "HOSPITAL", 0.8, "hospital"),
            _Candidate(31, 35, "DATE", 0.9, "date"),
            _Candidate(30, 36, "PERSON", 0.5, "given_name"),
        ]
    )
    assert [(c.start, c.end, c.entity_type) for c in kept] == [
        (5, 10, "PERSON"),
        (12, 30, "HOSPITAL"),
        (30, 36, "PERSON"),
    ]


def test_a_sloppy_ner_span_yields_to_specific_recognisers(detector: Detector) -> None:
    spans = detector.detect("Postal address: Albion Street, Leeds LS1 5AA. Mrs Gloria Bell rang.")
    assert [(s.text, s.entity_type) for s in spans] == [
        ("Albion Street", "LOCATION"),
        ("Leeds", "LOCATION"),
        ("LS1 5AA", "POSTCODE"),
        ("Gloria Bell", "PERSON"),
    ]


def test_speaker_labels_and_fillers_are_trimmed(detector: Detector) -> None:
    spans = detector.detect("participant yeah so sarah jones rang me")
    assert [(s.text, s.entity_type) for s in spans] == [("sarah jones", "PERSON")]


def test_an_alias_inside_an_email_does_not_split_the_address(detector: Detector) -> None:
    text = "Email me at ros.q@example.org or ring Ros on 07700 900123."
    spans = detector.detect(text, deny=[Term("Ros", "PERSON")])
    found = {(s.text, s.entity_type) for s in spans}
    assert ("ros.q@example.org", "EMAIL") in found
    assert ("Ros", "PERSON") in found


# -- domain vocabulary kept (issue 10) ---------------------------------------------------------


def test_weekdays_and_months_on_their_own_are_kept(detector: Detector) -> None:
    text = (
        "We met the CCIO on Tuesday and again in June; the board sits every Friday. By "
        "Wednesday the wards were back on paper, and in August the EPR went live. On "
        "Tuesday 9 March 2021 Amara Osei signed it off."
    )
    spans = detector.detect(text)
    assert ("Tuesday 9 March 2021", "DATE") in {(s.text, s.entity_type) for s in spans}
    assert ("Amara Osei", "PERSON") in {(s.text, s.entity_type) for s in spans}
    for word in ("Tuesday", "June", "Friday", "Wednesday", "August"):
        at = text.index(word)
        assert not any(s.start <= at < s.end for s in spans), word
    assert detector.detect("the go live was on a monday in october and by friday it was fine") == []


def test_generic_committee_and_department_names_are_kept(detector: Detector) -> None:
    text = (
        "The Finance and Performance Committee approved the business case. The Digital "
        "Programme Board, the Clinical Safety Group and the Design Authority then met the "
        "Patient Experience Team and the Emergency Department."
    )
    assert detector.detect(text) == []


def test_a_committee_named_for_a_place_or_person_keeps_that_part(detector: Detector) -> None:
    text = "It went to the Kettlewick Digital Board and then to the Brandreth Committee."
    spans = detector.detect(text)
    assert {s.text for s in spans} == {"Kettlewick", "Brandreth"}


def test_clinical_scores_and_standards_are_vocabulary(detector: Detector) -> None:
    text = (
        "NEWS2 scores went into the EPR. MEWS and PEWS came later, with SBAR handovers, "
        "ReSPECT forms and DNACPR alerts coded in SNOMED CT, dm+d and ICD-10."
    )
    assert detector.detect(text) == []
    assert {"NEWS2", "MEWS", "PEWS", "SBAR", "ReSPECT", "DNACPR", "dm+d"} <= set(DEFAULT_VOCABULARY)


@pytest.mark.parametrize(
    "text",
    [
        "R1: We used the EPR on the ward.\nI: And then?\nInt: Tell me more.",
        "Facilitator: Thanks.\nR2: It was fine.\nParticipant A: It was not.",
        "SPEAKER_01 so the epr went live on a tuesday\nSPEAKER_02 and the gde money ran out",
        "speaker 2: yeah the ccio left\nspeaker 1: right",
        "Nurse A: The rota was fine.\nWard Manager: We used the EPR.\nIT Lead 2: Agreed.",
    ],
)
def test_speaker_labels_are_never_redacted(detector: Detector, text: str) -> None:
    assert detector.detect(text) == [], text


def test_a_speaker_label_is_cut_off_a_name_but_the_name_stays(detector: Detector) -> None:
    spans = detector.detect(
        "SPEAKER_01 gareth pritchard ran it\nR1: Amara Osei did.\nNurse Jones: It was late."
    )
    texts = {s.text for s in spans}
    assert not any("SPEAKER" in t or "R1" in t for t in texts), texts
    assert {"Amara Osei", "Jones"} <= texts  # a label that is a name stays a name


def test_generic_governance_papers_are_kept(detector: Detector) -> None:
    text = (
        "The Outline Business Case was approved; the Board Assurance Framework and the Risk "
        "Register were noted. The DPIA and the Clinical Safety Case were signed off, the Hazard "
        "Log closed, and the KPI dashboard reviewed. The Wachter Review was cited."
    )
    assert [s.text for s in detector.detect(text)] == ["Wachter"]


@pytest.mark.parametrize(
    "text",
    [
        "Nurse A: Sarah Jones said the same at the board.",
        "sarah jones said the same at the board",
    ],
)
def test_a_name_before_a_committee_word_is_not_cut(detector: Detector, text: str) -> None:
    """Only a capitalised run of words (any run in a caseless transcript, of the generic
    words alone) is a committee's name: a sentence ending in "the board" is not."""
    assert [s.text.casefold() for s in detector.detect(text)] == ["sarah jones"]
