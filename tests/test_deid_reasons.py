"""Why each suggestion was made: the reason (recogniser, sentence, cue words, word list) that the
detector gives every span, stored on the redaction, served with it and written to the
anonymisation log, and never carrying the span's own words."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from spacy.lang.en.stop_words import STOP_WORDS

from service.deid.detect import GENERIC_ORG_WORDS, Detector, Reason, Span, Term, _free_of
from service.runtime import Runtime
from tests.conftest import Api, LiveServer
from tests.test_deid_workflow import setup

EVAL = Path(__file__).parent / "data" / "deid_eval.jsonl"
# Words of a span that name nothing on their own: a reason may say "a word for a hospital or
# a ward" of "Ward 7" or "Kettlewick General Hospital".
GENERIC = (
    STOP_WORDS
    | GENERIC_ORG_WORDS
    | {"ward", "wards", "street", "road", "lane", "house", "hall", "flat", "unit", "general"}
    | {"infirmary", "hospice", "hospitals", "health", "centre", "council", "university"}
)


def own_words(original: str, *, generic: frozenset[str] | set[str] = frozenset()) -> set[str]:
    """The words of a span (three characters or more) a reason must not repeat."""
    return {
        w.casefold()
        for w in re.findall(r"\w+", original)
        if len(w) >= 3 and w.casefold() not in generic
    }


def reason_words(reason: dict[str, Any]) -> set[str]:
    return {
        w.casefold() for value in reason.values() if value for w in re.findall(r"\w+", str(value))
    }


# -- the detector ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector()


def test_every_span_of_the_eval_set_says_why_in_other_words(detector: Detector) -> None:
    with EVAL.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    recognisers: set[str] = set()
    for row in rows:
        deny = [Term(d["text"], d["entity_type"]) for d in row["deny"]]
        for span in detector.detect(row["text"], deny=deny, allow=row["allow"]):
            assert span.reason is not None, (row["id"], span)
            reason = span.reason.as_dict()
            assert set(reason) == {"recogniser", "why", "context", "list"}
            assert reason["recogniser"] == span.recognizer
            assert reason["why"], reason
            # Cue words come from the text: none of the span's own, of any kind.
            assert not own_words(span.text) & reason_words({"c": reason["context"]}), (
                row["id"],
                span.text,
                reason,
            )
            # The sentences and lists are fixed: at most a generic word of a name recurs.
            assert not own_words(span.text, generic=GENERIC) & reason_words(reason), (
                row["id"],
                span.text,
                reason,
            )
            recognisers.add(span.recognizer)
    # Our recognisers and Presidio's (NER, e-mail, NHS number) all explain themselves.
    assert {"spacy_ner", "email", "nhs_number", "deny_list", "titled_person"} <= recognisers
    assert len(recognisers) >= 15, recognisers


def by_text(spans: list[Span]) -> dict[str, dict[str, Any]]:
    return {s.text: s.reason.as_dict() for s in spans if s.reason is not None}


def test_reasons_name_the_cue_and_the_list(detector: Detector) -> None:
    text = (
        "Dr Okonkwo said to call me on 07700 900123 about it. We met in Barnsley with "
        "Pasco Hendry from Northgate. Her NHS number is 943 476 5919, email j.smith@nhs.net."
    )
    deny = [Term("Northgate", "SYSTEM"), Term("Pasco Hendry", "PERSON", "participant")]
    reasons = by_text(detector.detect(text, deny=deny))
    assert reasons["Okonkwo"] == {
        "recogniser": "titled_person",
        "why": "a capitalised word after the title Dr",
        "context": "Dr",
        "list": None,
    }
    assert reasons["07700 900123"] == {
        "recogniser": "uk_phone",
        "why": "a UK mobile number (07...) of 11 digits",
        "context": "call me on",
        "list": None,
    }
    assert reasons["Barnsley"]["list"] == "UK places"
    assert reasons["Pasco Hendry"]["list"] == "participants' names"
    assert reasons["Northgate"]["why"] == "a term on the admins' deny list"
    assert reasons["943 476 5919"]["context"] == "NHS number is"
    assert "Modulus 11" in reasons["943 476 5919"]["why"]
    assert reasons["j.smith@nhs.net"]["recogniser"] == "email"

    caseless = by_text(
        detector.detect(
            "so i spoke with olivia and dr brandreth on the maple ward and then "
            "she said ring me on oh seven seven double oh nine hundred one two three"
        )
    )
    assert caseless["olivia"]["list"] == "given names"
    assert caseless["maple ward"]["context"] == "on the"
    spoken = caseless["oh seven seven double oh nine hundred one two three"]
    assert spoken["recogniser"] == "spoken_number" and spoken["context"] == "ring me on"


def test_an_unknown_kind_of_deny_term_is_refused(detector: Detector) -> None:
    with pytest.raises(ValueError, match="kind"):
        detector.detect("Northgate", deny=[Term("Northgate", "SYSTEM", "rumour")])


def test_cue_words_that_are_the_span_s_own_are_dropped() -> None:
    # Should a span ever hold its cue ("Dr" in a span a deny term widened), the reason keeps
    # its sentence and loses the cue.
    reason = Reason("titled_person", "a capitalised word after the title Dr", "Dr")
    assert _free_of(reason, "Dr Mobile") == Reason(
        "titled_person", "a capitalised word after the title Dr", None
    )
    assert _free_of(reason, "Okonkwo") == reason


# -- through the API ---------------------------------------------------------------------------


def test_suggestions_list_their_reasons_and_a_person_s_span_has_none(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, _analyst, source = setup(admin, clean, server)
    url = f"/sources/{source['id']}/redactions"
    items = alice.get(url).json()["items"]
    found = {r["original"]: r for r in items}

    titled = next(r for original, r in found.items() if "Oduya" in original)
    assert titled["reason"]["recogniser"] == "titled_person"
    assert titled["reason"]["context"] == "Dr"
    assert "title" in titled["reason"]["why"]

    phone = found["07700 900123"]["reason"]
    assert phone["recogniser"] == "uk_phone" and phone["context"] == "ring me on"
    assert "mobile" in phone["why"]

    term = found["St Elsewhere Hospital"]["reason"]
    assert term == {
        "recogniser": "deny_list",
        "why": "a term on the admins' deny list",
        "context": None,
        "list": "deny list",
    }
    participant = found["Rosalind Quarrington"]["reason"]
    assert participant["recogniser"] == "deny_list"
    assert participant["list"] == "participants' names"
    assert "participant" in participant["why"]

    for r in items:
        assert r["origin"].startswith("detector:")
        assert r["reason"]["recogniser"] == r["origin"].removeprefix("detector:")
        assert not own_words(r["original"]) & reason_words(r["reason"]), r

    # A span a person marks has no reason of the detector's.
    file_id = source["files"][0]["id"]
    raw = alice.get(f"/sources/{source['id']}/text", params={"form": "identifiable"}).text
    start = raw.index("the pilot")
    added = alice.post(
        url,
        json={"file_id": file_id, "start": start, "end": start + 9, "entity_type": "SYSTEM"},
    )
    assert added.status_code == 201, added.text
    assert added.json()["origin"] == "person" and added.json()["reason"] is None
    listed = {r["id"]: r for r in alice.get(url).json()["items"]}
    assert listed[added.json()["id"]]["reason"] is None

    # The anonymisation log carries the reason as plain text.
    log = alice.get(f"/sources/{source['id']}/anonymisation-log.csv")
    assert log.status_code == 200
    rows = {r["original"]: r for r in csv.DictReader(io.StringIO(log.text))}
    assert rows["07700 900123"]["reason"] == (
        "a UK mobile number (07...) of 11 digits; cue: ring me on; recogniser: uk_phone"
    )
    assert rows["St Elsewhere Hospital"]["reason"] == (
        "a term on the admins' deny list; list: deny list; recogniser: deny_list"
    )
    assert rows["the pilot"]["reason"] == ""
    project = admin.get("/anonymisation-log.csv")
    assert "cue: ring me on" in project.text
