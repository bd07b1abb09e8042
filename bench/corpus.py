"""Generate a deterministic, realistic corpus of PDF and DOCX files for the ingest benchmark.

The corpus imitates what a qualitative-research archive receives from NHS studies: interview
transcripts, meeting notes and trust policy documents. Every PDF has a real text layer (fpdf2, core
fonts, latin-1 text) with headings, paragraphs of varied length, numbered and bulleted lists, a
running header and a footer with "Page n of N", and now and then a table. The DOCX files
(python-docx) carry the same kinds of content, 10-30 body paragraphs each, with headings.

All prose is made here from word lists and sentence templates driven by a seeded
``random.Random``: nothing is copied from anywhere and nothing is downloaded. The same arguments
give byte-identical files (fixed creation dates, normalised DOCX zip timestamps), so the
``sha256`` values in ``manifest.json`` are stable across runs and machines with the same
fpdf2/python-docx versions.

Usage::

    python bench/corpus.py OUTDIR [--pdfs 40 --pages-per-pdf 55 --docx 20 --seed 20240115]

or, from Python::

    from bench.corpus import generate
    files = generate(Path("out"), pdfs=40, pages_per_pdf=55, docx=20, seed=20240115)

Each PDF has exactly ``pages_per_pdf`` pages (checked after writing).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import os
import random
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docx import Document
from docx.shared import Pt
from fpdf import FPDF
from fpdf.enums import XPos, YPos

DEFAULT_PDFS = 40
DEFAULT_PAGES_PER_PDF = 55
DEFAULT_DOCX = 20
DEFAULT_SEED = 20240115

#: Fixed timestamp written into every file so the bytes do not depend on when they were made.
FIXED_DATE = dt.datetime(2024, 1, 15, 9, 30, 0, tzinfo=dt.UTC)
MANIFEST_NAME = "manifest.json"

DOC_TYPES = ("interview_transcript", "meeting_notes", "policy_document")

# --------------------------------------------------------------------------------------------
# Word lists. Written for this benchmark; all plain ASCII so any core font can render them.
# --------------------------------------------------------------------------------------------

# fmt: off

FIRST_NAMES = (
    "Aisha", "Alan", "Amelia", "Andrew", "Anita", "Bethan", "Bronwen", "Callum", "Carol", "Chloe",
    "Chidi", "Daniel", "Deborah", "Declan", "Eilidh", "Emma", "Farah", "Fiona", "Gareth", "Grace",
    "Hannah", "Harpreet", "Ian", "Imran", "Jack", "Janet", "Joseph", "Kamal", "Karen", "Kwame",
    "Laura", "Liam", "Lucy", "Mairead", "Marcus", "Margaret", "Mohammed", "Naomi", "Nasreen",
    "Niamh", "Oliver", "Olusegun", "Patrick", "Priya", "Rachel", "Rhys", "Rosa", "Samuel", "Sarah",
    "Shona", "Siobhan", "Sunita", "Thomas", "Tomasz", "Uzma", "Victoria", "Wei", "Yusuf", "Zara",
)
SURNAMES = (
    "Adeyemi", "Ahmed", "Allen", "Bailey", "Begum", "Bennett", "Campbell", "Chowdhury", "Clarke",
    "Davies", "Doherty", "Edwards", "Evans", "Fletcher", "Gallagher", "Green", "Hall", "Hughes",
    "Hussain", "Jackson", "James", "Jones", "Kaur", "Kowalski", "Lewis", "Lloyd", "MacLeod",
    "Mahmood", "Martin", "Mensah", "Morgan", "Murphy", "Nowak", "Okafor", "Owen", "Patel", "Price",
    "Quinn", "Rahman", "Roberts", "Robinson", "Shah", "Singh", "Smith", "Taylor", "Thomas",
    "Thompson", "Turner", "Walker", "Ward", "Watson", "White", "Williams", "Wilson", "Wright",
)
TRUSTS = (
    "Northgate and Fernhill NHS Foundation Trust", "Kingsmead University Hospitals NHS Trust",
    "Riverside Community Health NHS Trust", "Westbrook and Castleford NHS Foundation Trust",
)
HOSPITALS = (
    "St Aldric's Hospital", "Northgate General Hospital", "Riverside Community Hospital",
    "Kingsmead Royal Infirmary", "Fernhill Hospital", "Westbrook Treatment Centre",
    "Hollins Park Hospital", "Castleford District General",
)
WARDS = (
    "Rowan Ward", "Beech Ward", "Ward 7B", "Ward 12", "the Acute Medical Unit", "Hazel Ward",
    "the Frailty Assessment Unit", "Larch Ward", "the Stroke Unit", "Ward 3A", "Willow Ward",
)
TEAMS = (
    "the discharge team", "the community nursing team", "the district nurses", "the ward sisters",
    "the pharmacy team", "the physiotherapists", "the occupational therapists", "the bed managers",
    "the night staff", "the healthcare assistants", "the junior doctors", "the consultants",
    "the social workers", "the patient experience team", "the practice nurses", "the receptionists",
    "the site managers", "the mental health liaison team", "the porters", "the matrons",
)
ROLES = (
    "Ward Manager", "Matron", "Staff Nurse", "Healthcare Assistant", "Consultant Geriatrician",
    "Discharge Coordinator", "Clinical Nurse Specialist", "Research Nurse", "Service Manager",
    "Patient Representative", "Lead Pharmacist", "Occupational Therapist", "Physiotherapist",
    "Social Worker", "Head of Patient Experience", "Deputy Director of Nursing", "GP Partner",
    "Information Governance Lead", "Research Fellow", "Principal Investigator",
)
PLACES = (
    "the discharge lounge", "the day unit", "the outpatient clinic", "A and E", "the GP surgery",
    "the pharmacy hatch", "the car park", "the relatives' room", "the nurses' station",
    "the community hub", "the phlebotomy clinic", "the front desk", "the care home",
    "the rehab unit", "the hospice", "the walk-in centre", "the staff room",
)
TOPICS = (
    "discharge planning", "the new rota", "agency staffing", "waiting times", "handover",
    "the electronic patient record", "falls prevention", "medicines reconciliation",
    "family involvement", "continuity of care", "patient transport", "safeguarding referrals",
    "pressure ulcer prevention", "the winter plan", "delayed transfers of care", "end of life care",
    "interpreter services", "the complaints process", "staff wellbeing", "infection control",
    "dementia care", "virtual wards", "follow-up appointments", "consent procedures",
    "data sharing", "bed capacity", "the escalation policy", "nutrition and hydration",
)
THINGS = (
    "the paperwork", "the referral form", "the care plan", "the discharge letter",
    "the medication list", "the appointment letter", "the waiting list", "the phone line",
    "the leaflet", "the new system", "the checklist", "the handover sheet", "the risk assessment",
    "the rota", "the audit", "the escalation pathway", "the transport booking", "the test results",
    "the feedback survey", "the training module", "the consent form", "the bed board",
)
FEELINGS = (
    "frustrated", "relieved", "anxious", "reassured", "exhausted", "listened to", "ignored",
    "confused", "supported", "rushed", "hopeful", "let down", "overwhelmed", "grateful", "stuck",
    "worried", "embarrassed", "angry", "calm", "out of the loop",
)
TIME_PHRASES = (
    "last winter", "on the night shift", "at weekends", "after the merger", "during the pandemic",
    "in the first few weeks", "most mornings", "towards the end of the shift", "every Friday",
    "before the ward round", "when we were short-staffed", "over the bank holiday",
    "in the last six months", "after the inspection", "at the start of the year",
    "when the new manager came in", "on her last admission", "before Christmas",
)
ADVERBS = (
    "really", "quite", "often", "sometimes", "always", "never", "usually", "rarely", "probably",
    "actually", "honestly", "genuinely", "definitely", "slightly", "constantly",
)
FILLERS = (
    "you know,", "I mean,", "sort of", "to be honest,", "like,", "I suppose", "basically,",
    "I don't know,", "kind of", "well,", "if I'm honest,",
)
SPOKEN_OPENERS = (
    "Yeah, so", "Well,", "I think", "To be fair,", "Honestly,", "So basically,", "Mm, I'd say",
    "It's hard to say, but", "For me,", "The thing is,", "Right, so", "I remember that",
    "What happened was", "No, because", "It depends really, but",
)
STAFF_VERBS = (
    "chased up", "rang about", "filled in", "waited for", "sorted out", "complained about",
    "double-checked", "handed over", "lost track of", "argued about", "explained",
    "got told about", "had to redo", "printed off", "signed off", "escalated",
)
MEETING_VERBS = (
    "reviewed", "discussed", "noted", "agreed", "raised concerns about", "requested an update on",
    "welcomed", "questioned", "endorsed", "deferred a decision on", "received a report on",
    "highlighted", "confirmed",
)
OBLIGATIONS = (
    "record the decision in the patient's notes", "complete the risk assessment within 24 hours",
    "inform the nurse in charge", "seek advice from the safeguarding team",
    "obtain written consent before recording", "store identifiable data on trust systems only",
    "report the incident using the incident reporting system", "review the care plan weekly",
    "check the patient's identity against two identifiers", "escalate to the on-call manager",
    "document the reason for any deviation", "complete mandatory training every two years",
    "share information only on a need-to-know basis", "offer an interpreter where needed",
    "involve the patient's family or carers", "keep a copy of the signed form in the record",
)
CONDITIONS = (
    "the patient lacks capacity", "a safeguarding concern is raised", "consent is withdrawn",
    "the discharge is delayed beyond 48 hours", "a complaint is received", "data is shared outside "
    "the trust", "a participant becomes distressed", "an adverse event occurs",
    "the planned date of discharge changes", "the patient is transferred between wards",
    "the recording device is lost", "staffing falls below the agreed level",
)
CONSEQUENCES = (
    "disciplinary action", "a formal review", "suspension of the study",
    "a report to the Information Commissioner's Office", "referral to the professional regulator",
    "withdrawal of access to the system", "an investigation by the governance team",
)
AGENDA_ITEMS = (
    "Minutes of the last meeting and matters arising", "Recruitment update", "Data management",
    "Ethics amendment", "Patient and public involvement", "Staffing and capacity", "Finance",
    "Risk register", "Quality improvement projects", "Transcription backlog", "Dissemination plan",
    "Any other business", "Safeguarding", "Training needs", "Audit results", "Consent monitoring",
)
POLICY_TITLES = (
    "Information Governance and Data Protection Policy", "Safeguarding Adults Policy",
    "Consent to Examination, Treatment and Research Policy", "Discharge and Transfer Policy",
    "Records Management Policy", "Research Governance Policy", "Management of Complaints Policy",
    "Lone Working Policy", "Chaperone Policy", "Incident Reporting and Management Policy",
)
POLICY_SECTIONS = (
    "Introduction", "Purpose", "Scope", "Definitions", "Duties and Responsibilities",
    "Procedure", "Consent", "Confidentiality", "Storage and Retention", "Training Requirements",
    "Equality Impact Assessment", "Monitoring Compliance", "Review", "References",
    "Associated Documents", "Escalation", "Record Keeping", "Information Sharing",
)
TERMS = (
    ("Personal data", "Any information relating to an identified or identifiable living person."),
    ("Pseudonymisation", "Processing data so it can no longer be attributed to a person without "
     "additional information held separately."),
    ("Capacity", "The ability to understand, retain and weigh information in order to make a "
     "decision."),
    ("Caldicott Guardian", "A senior person responsible for protecting the confidentiality of "
     "patient information."),
    ("Data controller", "The organisation that decides the purposes and means of processing."),
    ("Participant", "A person who has given informed consent to take part in a study."),
    ("Incident", "Any event that has given or may give rise to harm, loss or damage."),
    ("Retention period", "The length of time a record must be kept before review or disposal."),
    ("Transcript", "A written record of an audio recording, checked against the original."),
    ("Advocate", "An independent person who supports someone to express their views."),
)
STUDIES = (
    "Experiences of Hospital Discharge for Older Adults (EHDOA)",
    "Staff Perspectives on Virtual Wards (SPVW)",
    "Carers' Voices in Dementia Care (CVDC)",
    "Continuity of Care in Community Nursing (CCCN)",
    "Patient Experience of Interpreter Services (PEIS)",
)
MEETING_GROUPS = (
    "Study Management Group", "Ward Managers' Forum", "Patient and Public Involvement Panel",
    "Research Governance Committee", "Discharge Improvement Working Group",
    "Information Governance Steering Group", "Nursing and Midwifery Board",
)
QUESTIONS = (
    "Can you tell me a bit about your role?", "How did you first hear about {topic}?",
    "What was that like for you?", "Can you give me an example?",
    "How did that make you feel?", "What do you think could have been done differently?",
    "Who else was involved at that point?", "How did {team} respond?",
    "Was there anything that helped?", "How did that compare with {time}?",
    "What would you say to someone going through the same thing?",
    "Is there anything else you'd like to add about {topic}?",
    "You mentioned {thing} earlier. Can you say more about that?",
    "How was the communication with {team}?", "What happened after that?",
)
INTERJECTIONS = ("[laughs]", "[pause]", "[inaudible]", "[crosstalk]", "[sighs]", "[phone rings]")
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)

# fmt: on


def _cap(text: str) -> str:
    """Upper-case the first character of ``text``."""
    return text[:1].upper() + text[1:]


@dataclass
class Block:
    """One unit of document content, rendered the same way to PDF and DOCX.

    ``kind`` is one of ``h1``, ``h2``, ``para``, ``meta``, ``speaker``, ``bullets``,
    ``numbered``, ``table`` and ``texttable`` (a monospace table laid out with spaces).
    """

    kind: str
    text: str = ""
    label: str = ""
    items: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


class Prose:
    """Seeded generator of names, identifiers, sentences and paragraphs in three registers."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    # ---- small pieces ------------------------------------------------------------------
    def pick(self, seq: tuple[str, ...]) -> str:
        """Return one element of ``seq``."""
        return self.rng.choice(seq)

    def person(self) -> str:
        """A made-up full name."""
        return f"{self.pick(FIRST_NAMES)} {self.pick(SURNAMES)}"

    def initials(self, name: str) -> str:
        """Initials of a name, e.g. ``"Sarah Jones"`` -> ``"SJ"``."""
        return "".join(part[0] for part in name.split())

    def date(self, year_from: int = 2021, year_to: int = 2024) -> str:
        """A written date such as ``"14 March 2023"``."""
        return (
            f"{self.rng.randint(1, 28)} {self.pick(MONTHS)} {self.rng.randint(year_from, year_to)}"
        )

    def nhs_number(self) -> str:
        """A random ten-digit number with a valid NHS modulus-11 check digit, spaced 3-3-4."""
        while True:
            digits = [self.rng.randint(0, 9) for _ in range(9)]
            check = 11 - sum(d * (10 - i) for i, d in enumerate(digits)) % 11
            if check == 11:
                check = 0
            if check != 10:
                s = "".join(map(str, digits)) + str(check)
                return f"{s[:3]} {s[3:6]} {s[6:]}"

    def postcode(self) -> str:
        """A UK-shaped postcode (not necessarily a real one)."""
        letters = "ABCDEFGHJKLMNPRSTUWYZ"
        area = "".join(self.rng.choice(letters) for _ in range(self.rng.randint(1, 2)))
        tail = "".join(self.rng.choice("ABDEFGHJLNPQRSTUWXYZ") for _ in range(2))
        return f"{area}{self.rng.randint(1, 29)} {self.rng.randint(1, 9)}{tail}"

    def timestamp(self, seconds: int) -> str:
        """``[hh:mm:ss]`` for a transcript."""
        h, rem = divmod(seconds, 3600)
        m, s = divmod(rem, 60)
        return f"[{h:02d}:{m:02d}:{s:02d}]"

    def fill(self, template: str) -> str:
        """Fill ``{topic}``-style slots in a template."""
        return template.format(
            topic=self.pick(TOPICS),
            team=self.pick(TEAMS),
            thing=self.pick(THINGS),
            time=self.pick(TIME_PHRASES),
            place=self.pick(PLACES),
            ward=self.pick(WARDS),
            hospital=self.pick(HOSPITALS),
            feeling=self.pick(FEELINGS),
            adv=self.pick(ADVERBS),
            person=self.person(),
            role=self.pick(ROLES).lower(),
            date=self.date(),
            verb=self.pick(STAFF_VERBS),
            obligation=self.pick(OBLIGATIONS),
            condition=self.pick(CONDITIONS),
            consequence=self.pick(CONSEQUENCES),
            mverb=self.pick(MEETING_VERBS),
            n=self.rng.randint(2, 40),
            pct=self.rng.randint(8, 97),
            filler=self.pick(FILLERS),
        )

    # ---- sentences in three registers ----------------------------------------------------
    SPOKEN = (
        "{opener} {team} {adv} {verb} {thing} {time}.",
        "I felt {feeling} when {thing} got lost, {filler} nobody seemed to know who had it.",
        "We'd get to {place} and {filler} there'd be nobody there to tell us anything.",
        "My mum was on {ward} for {n} days and {filler} every day it was a different face.",
        "It wasn't {team}, they were lovely, it was {thing} that let us down.",
        "{filler} you'd ring and ring and the phone line would just cut out.",
        "They said it would be a couple of hours and we were still sat in {place} at teatime.",
        "I think {topic} is {adv} the bit that needs sorting, {filler} more than anything.",
        "Nobody explained {thing} to us, we just had to work it out ourselves.",
        "{time} it was {adv} better, because {team} knew everybody by name.",
        "You could tell they were {feeling} as well, {filler} they were doing three jobs at once.",
        "When we got home {thing} was wrong, so I had to ring {team} again.",
        "I'm not blaming anyone, {filler} the system's just not set up for people like my dad.",
        "There was one nurse, {person}, who {adv} went above and beyond for us.",
        "I ended up writing everything down in a notebook because nobody else was.",
        "{opener} the worst bit was not knowing, just sitting there not knowing.",
        "If somebody had just rung to say what was happening I'd have been fine with it.",
        "On the ward they were {adv} stretched, you could see it on their faces.",
        "We were told {n} different things by {n} different people, {filler} it was chaos.",
        "I know they're under pressure, I worked in a care home myself for years.",
        "{opener} I'd say it's got better since {time}, but not by much.",
        "It felt like we were {feeling} the whole way through, to be honest.",
        "The GP didn't get the letter for {n} weeks, so nothing happened in the meantime.",
        "She was discharged from {hospital} on {date} and readmitted four days later.",
    )
    MINUTES = (
        "The group {mverb} {topic}.",
        "{person} reported that {thing} had been updated and circulated to {team}.",
        "It was agreed that {topic} would be added to the risk register.",
        "Members {mverb} the latest figures, which showed {pct} per cent compliance.",
        "{person} noted that {team} had raised concerns about {thing} {time}.",
        "The chair thanked {person} for the work on {topic}.",
        "Recruitment stands at {n} participants against a target of {pct}.",
        "A question was raised about how {thing} would be stored and who would have access.",
        "The group {mverb} the proposal to change {thing} and asked for a revised version.",
        "It was noted that {n} transcripts are awaiting checking against the audio.",
        "{person} will liaise with {team} regarding {topic} before the next meeting.",
        "There were no declarations of interest.",
        "The minutes of the previous meeting were accepted as an accurate record.",
        "Concerns were raised that {topic} is {adv} affected by staffing pressures.",
        "The group {mverb} the update from {hospital} and {mverb} the revised timeline.",
        "Feedback from the patient panel on {thing} was {adv} positive.",
        "A paper on {topic} will be brought to the next meeting for decision.",
        "{person} asked whether {thing} had been shared with {team}; this was confirmed.",
        "Sites reported {n} incidents in the period, none of which resulted in harm.",
        "The amendment to the protocol was approved by the ethics committee on {date}.",
    )
    FORMAL = (
        "This policy applies to all staff employed by the Trust, including {team}.",
        "Where {condition}, the responsible clinician must {obligation}.",
        "All staff must {obligation}.",
        "Failure to {obligation} may result in {consequence}.",
        "The {role} is responsible for ensuring that staff {obligation}.",
        "Staff should {obligation} where {condition}.",
        "This section sets out the arrangements for {topic} across the Trust.",
        "Compliance with this policy will be monitored through an annual audit of {thing}.",
        "Records relating to {topic} must be retained for a minimum of {n} years.",
        "The Trust is committed to ensuring that {topic} is delivered safely and fairly.",
        "Any deviation from this procedure must be documented and reported to the {role}.",
        "Advice on {topic} is available from {team} during normal working hours.",
        "Where {condition}, staff must not proceed until advice has been sought.",
        "The {role} will review {thing} at least every {n} months.",
        "This document should be read alongside the Trust's policy on {topic}.",
        "Managers must ensure that {team} have access to {thing} at all times.",
        "Patients and carers should be given clear information about {topic}.",
        "Out of hours, {condition} should be escalated to the on-call manager.",
        "Audit results will be reported to the governance committee every {n} months.",
        "The policy has been assessed for its impact on people with protected characteristics.",
    )

    #: Compositional templates: slot words combine into many more distinct sentences.
    COMPOSED = {
        "spoken": (
            "{opener} {team} {adv} {verb} {thing} {time}, and I felt {feeling}.",
            "{filler} {place} was where it all went wrong, because of {thing}.",
            "With {topic} it's {adv} about who you know, {filler} whether {team} pick up.",
        ),
        "minutes": (
            "{person} ({role}) {mverb} {topic} and {mverb} {thing}.",
            "The group {mverb} {thing} following feedback from {team} {time}.",
            "It was reported that {pct} per cent of {thing} had been completed at {hospital}.",
        ),
        "formal": (
            "Where {condition}, {team} must {obligation} and inform the {role}.",
            "The {role} must ensure that {thing} reflects the arrangements for {topic}.",
            "Staff working in {place} must {obligation}; where {condition}, see section {n}.",
        ),
    }

    def sentence(self, register: str, template: str | None = None) -> str:
        """One sentence in ``spoken``, ``minutes`` or ``formal`` register."""
        if template is None:
            template = self.rng.choice(self._templates(register))
        return _cap(self.fill(template.replace("{opener}", self.pick(SPOKEN_OPENERS))))

    def _templates(self, register: str) -> tuple[str, ...]:
        table = {"spoken": self.SPOKEN, "minutes": self.MINUTES, "formal": self.FORMAL}[register]
        return table + self.COMPOSED[register]

    def paragraph(self, register: str, lo: int = 2, hi: int = 8) -> str:
        """A paragraph of ``lo``..``hi`` sentences from distinct templates.

        Spoken paragraphs get the odd interjection such as ``[laughs]``.
        """
        templates = self.rng.sample(self._templates(register), k=self.rng.randint(lo, hi))
        parts = [self.sentence(register, t) for t in templates]
        if register == "spoken" and self.rng.random() < 0.2:
            parts.insert(self.rng.randrange(len(parts) + 1), self.pick(INTERJECTIONS))
        return " ".join(parts)

    def question(self) -> str:
        """An interviewer's question."""
        return self.fill(self.rng.choice(QUESTIONS))


# --------------------------------------------------------------------------------------------
# Document content: each generator yields an endless stream of blocks for one document.
# --------------------------------------------------------------------------------------------


@dataclass
class DocInfo:
    """Title and running-header text of one generated document."""

    doc_type: str
    title: str
    header: str
    register: str


def transcript_doc(p: Prose, number: int) -> tuple[DocInfo, Iterator[Block]]:
    """An interview transcript: metadata, then alternating interviewer/participant turns."""
    study = p.pick(STUDIES)
    pid = f"P{number:03d}"
    interviewer = p.person()
    info = DocInfo(
        "interview_transcript",
        f"Interview transcript - Participant {pid}",
        f"{study.split('(')[-1].rstrip(')')} | Transcript {pid}",
        "spoken",
    )

    def blocks() -> Iterator[Block]:
        yield Block("h1", info.title)
        yield Block(
            "meta",
            items=[
                f"Study: {study}",
                f"Participant: {pid} ({p.person()})",
                f"NHS number: {p.nhs_number()}",
                f"Site: {p.pick(HOSPITALS)}, {p.pick(WARDS)}",
                f"Date of interview: {p.date()}",
                f"Interviewer: {interviewer}",
                f"Postcode (home): {p.postcode()}",
                f"Transcribed by: {p.person()} (checked against audio)",
            ],
        )
        yield Block(
            "para",
            "Consent for audio recording and verbatim transcription was confirmed "
            "verbally at the start of the interview. Identifiable details are to be "
            "removed before the transcript is shared outside the study team.",
        )
        seconds = p.rng.randint(5, 60)
        section = 1
        while True:
            if p.rng.random() < 0.06:
                section += 1
                yield Block("h2", f"Part {section}: {_cap(p.pick(TOPICS))}")
            q = p.question()
            yield Block("speaker", q, label=f"{p.timestamp(seconds)} Interviewer:")
            seconds += p.rng.randint(5, 25)
            answer = p.paragraph("spoken", 1, 9)
            yield Block("speaker", answer, label=f"{p.timestamp(seconds)} {pid}:")
            seconds += 4 * len(answer.split()) // 10 + p.rng.randint(2, 20)
            if p.rng.random() < 0.04:
                yield Block(
                    "para",
                    f"Interviewer note: participant appeared "
                    f"{p.pick(FEELINGS)} when discussing {p.pick(TOPICS)}. "
                    f"Recording paused for {p.rng.randint(1, 5)} minutes.",
                )
            if p.rng.random() < 0.03:
                yield Block(
                    "texttable",
                    rows=[["Time", "Event", "Notes"]]
                    + [
                        [p.timestamp(seconds + 30 * k), _cap(p.pick(TOPICS)), p.pick(FEELINGS)]
                        for k in range(p.rng.randint(3, 6))
                    ],
                )

    return info, blocks()


def meeting_doc(p: Prose, number: int) -> tuple[DocInfo, Iterator[Block]]:
    """Collated meeting notes: a series of meetings of one group, each with an agenda."""
    group = p.pick(MEETING_GROUPS)
    members = [(p.person(), p.pick(ROLES)) for _ in range(p.rng.randint(5, 11))]
    info = DocInfo(
        "meeting_notes",
        f"{group}: notes of meetings ({number:03d})",
        f"{group} - Notes of meetings",
        "minutes",
    )

    def blocks() -> Iterator[Block]:
        meeting = 0
        while True:
            meeting += 1
            chair = p.rng.choice(members)
            yield Block("h1", f"{group} - meeting {meeting}, {p.date(2023, 2024)}")
            yield Block(
                "meta",
                items=[
                    f"Time: {p.rng.randint(9, 16)}:{p.rng.choice(('00', '15', '30'))}",
                    f"Location: {p.pick(HOSPITALS)}, seminar room {p.rng.randint(1, 6)} "
                    "and Microsoft Teams",
                    f"Chair: {chair[0]} ({chair[1]})",
                    f"Minutes: {p.person()}",
                ],
            )
            present = p.rng.sample(members, k=max(3, len(members) - p.rng.randint(0, 3)))
            yield Block("h2", "Present")
            yield Block("bullets", items=[f"{n}, {r}" for n, r in present])
            absent = [m for m in members if m not in present]
            if absent:
                yield Block("para", "Apologies: " + "; ".join(n for n, _ in absent) + ".")
            items = p.rng.sample(AGENDA_ITEMS, k=p.rng.randint(4, 8))
            actions: list[list[str]] = []
            for k, item in enumerate(items, start=1):
                yield Block("h2", f"{k}. {item}")
                for _ in range(p.rng.randint(1, 3)):
                    yield Block("para", p.paragraph("minutes", 2, 7))
                roll = p.rng.random()
                if roll < 0.3:
                    yield Block(
                        "bullets", items=[p.sentence("minutes") for _ in range(p.rng.randint(2, 6))]
                    )
                elif roll < 0.45:
                    yield Block(
                        "numbered",
                        items=[p.sentence("minutes") for _ in range(p.rng.randint(2, 5))],
                    )
                if p.rng.random() < 0.5:
                    owner = p.rng.choice(members)[0]
                    action = f"to follow up on {p.pick(THINGS)} with {p.pick(TEAMS)}"
                    actions.append(
                        [
                            f"{meeting}.{k}",
                            _cap(action),
                            p.initials(owner),
                            p.date(2024, 2024),
                            p.pick(("Open", "Closed", "In progress")),
                        ]
                    )
                    yield Block("para", f"Action: {p.initials(owner)} {action}.")
            if actions:
                yield Block("h2", "Action log")
                yield Block(
                    "table", rows=[["Ref", "Action", "Owner", "Due", "Status"]] + actions[:8]
                )
            yield Block("para", f"Date of next meeting: {p.date(2024, 2024)}.")

    return info, blocks()


def policy_doc(p: Prose, number: int) -> tuple[DocInfo, Iterator[Block]]:
    """An NHS trust policy: control table, then numbered sections with lists and tables."""
    title = p.pick(POLICY_TITLES)
    ref = f"POL-{p.rng.randint(100, 999)}"
    version = f"{p.rng.randint(1, 6)}.{p.rng.randint(0, 3)}"
    info = DocInfo(
        "policy_document",
        title,
        f"{p.pick(TRUSTS)} | {ref} v{version}",
        "formal",
    )

    def blocks() -> Iterator[Block]:
        yield Block("h1", title)
        yield Block(
            "table",
            rows=[
                ["Item", "Detail"],
                ["Document reference", ref],
                ["Version", version],
                ["Approved by", p.pick(MEETING_GROUPS)],
                ["Date approved", p.date(2022, 2023)],
                ["Review date", p.date(2025, 2026)],
                ["Author", f"{p.person()}, {p.pick(ROLES)}"],
                ["Target audience", "All Trust staff, students and honorary contract holders"],
            ],
        )
        section = 0
        while True:
            section += 1
            name = POLICY_SECTIONS[(section - 1) % len(POLICY_SECTIONS)]
            if section > len(POLICY_SECTIONS):
                name = f"Appendix {section - len(POLICY_SECTIONS)}: {name}"
            yield Block("h1", f"{section}. {name}")
            for sub in range(1, p.rng.randint(2, 6) + 1):
                yield Block("h2", f"{section}.{sub} {_cap(p.pick(TOPICS))}")
                for _ in range(p.rng.randint(1, 3)):
                    yield Block("para", p.paragraph("formal", 1, 9))
                roll = p.rng.random()
                if roll < 0.25:
                    yield Block(
                        "bullets", items=[p.sentence("formal") for _ in range(p.rng.randint(3, 7))]
                    )
                elif roll < 0.45:
                    yield Block(
                        "numbered",
                        items=[_cap(p.pick(OBLIGATIONS)) + "." for _ in range(p.rng.randint(3, 7))],
                    )
                elif roll < 0.53:
                    yield Block(
                        "table",
                        rows=[["Term", "Definition"]]
                        + [list(t) for t in p.rng.sample(TERMS, k=p.rng.randint(3, 6))],
                    )
                elif roll < 0.60:
                    yield Block(
                        "table",
                        rows=[["Element", "Lead", "Tool", "Frequency"]]
                        + [
                            [
                                _cap(p.pick(TOPICS)),
                                p.pick(ROLES),
                                _cap(p.pick(THINGS)),
                                p.pick(("Monthly", "Quarterly", "Annually", "Per incident")),
                            ]
                            for _ in range(p.rng.randint(3, 7))
                        ],
                    )

    return info, blocks()


DOC_BUILDERS: dict[str, Callable[[Prose, int], tuple[DocInfo, Iterator[Block]]]] = {
    "interview_transcript": transcript_doc,
    "meeting_notes": meeting_doc,
    "policy_document": policy_doc,
}

# --------------------------------------------------------------------------------------------
# PDF rendering
# --------------------------------------------------------------------------------------------

BODY_FONTS = {
    "interview_transcript": "Times",
    "meeting_notes": "Helvetica",
    "policy_document": "Helvetica",
}
LINE_H = 5.0
#: Relative column widths of the tables the generators make, by column count.
TABLE_COL_WIDTHS: dict[int, tuple[int, ...]] = {
    2: (35, 135),
    4: (45, 45, 45, 35),
    5: (14, 76, 18, 34, 28),
}
#: A non-paragraph block (list, table, heading) is only started on the last page when at least
#: this much height (mm) is left; lists and tables are kept shorter than this.
LAST_PAGE_BLOCK_ROOM = 150.0


class CorpusPDF(FPDF):
    """FPDF with a running header (document title, reference) and a "Page n of N" footer."""

    def __init__(self, header_left: str, header_right: str, footer_left: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.header_left = header_left
        self.header_right = header_right
        self.footer_left = footer_left
        self.set_margins(20, 22, 20)
        self.set_auto_page_break(auto=True, margin=20)

    def header(self) -> None:  # noqa: D102 - fpdf2 hook
        self.set_font("Helvetica", "", 8)
        self.set_text_color(90, 90, 90)
        self.set_xy(self.l_margin, 10)
        self.cell(self.epw / 2, 5, self.header_left[:70], align="L")
        self.cell(self.epw / 2, 5, self.header_right[:70], align="R")
        self.line(self.l_margin, 16, self.w - self.r_margin, 16)
        self.set_text_color(0, 0, 0)
        self.set_xy(self.l_margin, 22)

    def footer(self) -> None:  # noqa: D102 - fpdf2 hook
        self.set_y(-14)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(self.epw * 0.7, 5, self.footer_left, align="L")
        self.cell(self.epw * 0.3, 5, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0, 0, 0)


class PdfWriter:
    """Renders a block stream into a :class:`CorpusPDF` of exactly ``pages`` pages."""

    def __init__(self, info: DocInfo, prose: Prose, pages: int) -> None:
        self.info = info
        self.prose = prose
        self.pages = pages
        self.font = BODY_FONTS[info.doc_type]
        self.words = 0
        self.pdf = CorpusPDF(
            info.title, info.header, "Confidential - for research use only. Do not copy or forward."
        )
        self.pdf.set_title(info.title)
        self.pdf.set_author("qualarchive benchmark corpus")
        self.pdf.set_subject(info.doc_type.replace("_", " "))
        self.pdf.set_creator("bench/corpus.py")
        self.pdf.set_creation_date(FIXED_DATE)
        self.pdf.add_page()

    # ---- primitives -------------------------------------------------------------------
    def _body(self, style: str = "", size: float = 10.5) -> None:
        self.pdf.set_font(self.font, style, size)

    def _count(self, *texts: str) -> None:
        self.words += sum(len(t.split()) for t in texts)

    def _multi(self, text: str, w: float = 0, align: str = "J", h: float = LINE_H) -> None:
        self.pdf.multi_cell(w, h, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def _remaining(self) -> float:
        return self.pdf.page_break_trigger - self.pdf.get_y()

    def _label_width(self, label: str) -> float:
        """Width of a speaker-label column: the bold label plus a gap."""
        self._body("B", 10)
        return float(self.pdf.get_string_width(label)) + 3.0

    def _height(self, text: str, w: float) -> float:
        return float(self.pdf.multi_cell(w, LINE_H, text, dry_run=True, output="HEIGHT"))

    # ---- blocks -------------------------------------------------------------------------
    def render(self, b: Block) -> None:
        """Draw one block at the current position (page breaks happen automatically)."""
        pdf = self.pdf
        if b.kind == "h1":
            pdf.ln(3)
            pdf.set_font("Helvetica", "B", 15)
            self._multi(b.text, align="L", h=7)
            pdf.ln(2)
            self._count(b.text)
        elif b.kind == "h2":
            pdf.ln(2)
            pdf.set_font("Helvetica", "B", 12)
            self._multi(b.text, align="L", h=6)
            pdf.ln(1)
            self._count(b.text)
        elif b.kind == "para":
            self._body()
            self._multi(b.text)
            pdf.ln(2.5)
            self._count(b.text)
        elif b.kind == "meta":
            for item in b.items:
                key, _, value = item.partition(": ")
                self._body("B", 10)
                pdf.cell(45, LINE_H, key + ":")
                self._body("", 10)
                self._multi(value, w=pdf.epw - 45, align="L")
                pdf.set_x(pdf.l_margin)
                self._count(item)
            pdf.ln(3)
        elif b.kind == "speaker":
            label_w = self._label_width(b.label)
            self._body("B", 10)
            pdf.cell(label_w, LINE_H, b.label)
            self._body()
            self._multi(b.text, w=pdf.epw - label_w, align="L")
            pdf.set_x(pdf.l_margin)
            pdf.ln(2)
            self._count(b.label, b.text)
        elif b.kind in ("bullets", "numbered"):
            self._body()
            for k, item in enumerate(b.items, start=1):
                marker = "-" if b.kind == "bullets" else f"{k}."
                pdf.set_x(pdf.l_margin + 4)
                pdf.cell(7, LINE_H, marker)
                self._multi(item, w=pdf.epw - 11, align="L")
                pdf.set_x(pdf.l_margin)
                pdf.ln(0.8)
                self._count(marker, item)
            pdf.ln(2)
        elif b.kind == "table":
            pdf.set_font("Helvetica", "", 9)
            ncols = len(b.rows[0])
            widths = TABLE_COL_WIDTHS.get(ncols)
            with pdf.table(
                col_widths=widths, text_align="LEFT", line_height=4.6, padding=1.2, width=pdf.epw
            ) as table:
                for row in b.rows:
                    r = table.row()
                    for cell in row:
                        r.cell(cell)
            pdf.ln(3)
            self._count(*(c for row in b.rows for c in row))
        elif b.kind == "texttable":
            pdf.set_font("Courier", "", 9)
            widths = [max(len(r[c]) for r in b.rows) + 2 for c in range(len(b.rows[0]))]
            for i, row in enumerate(b.rows):
                line = "".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
                pdf.cell(0, 4.4, line.rstrip(), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
                if i == 0:
                    pdf.cell(0, 4.4, "-" * (sum(widths) - 2), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
                self._count(*row)
            pdf.ln(3)
        else:  # pragma: no cover - programming error
            raise ValueError(f"unknown block kind {b.kind!r}")

    def _fit_last(self, b: Block) -> Block | None:
        """On the last page: shorten a paragraph/turn to what fits, or return None to stop."""
        text = b.text
        w = self.pdf.epw - (self._label_width(b.label) if b.kind == "speaker" else 0.0)
        self._body()
        sentences = text.split(". ")
        while sentences:
            candidate = ". ".join(sentences)
            if not candidate.endswith((".", "?", "]")):
                candidate += "."
            if self._height(candidate, w) + 3 <= self._remaining():
                return Block(b.kind, candidate, label=b.label)
            sentences.pop()
        return None

    def write(self, blocks: Iterator[Block]) -> bytes:
        """Consume blocks until the last page is full; return the PDF bytes."""
        for b in blocks:
            if self.pdf.page_no() < self.pages:
                self.render(b)
                continue
            if self._remaining() < 2 * LINE_H + 3:
                break
            if b.kind not in ("para", "speaker") and self._remaining() >= LAST_PAGE_BLOCK_ROOM:
                self.render(b)
                continue
            if b.kind not in ("para", "speaker"):
                b = Block("para", self.prose.paragraph(self.info.register, 2, 6))
            fitted = self._fit_last(b)
            if fitted is None:
                break
            self.render(fitted)
        got = self.pdf.page_no()
        if got != self.pages:
            raise RuntimeError(f"{self.info.title}: produced {got} pages, wanted {self.pages}")
        return bytes(self.pdf.output())


# --------------------------------------------------------------------------------------------
# DOCX rendering
# --------------------------------------------------------------------------------------------


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite a zip (DOCX) with fixed entry timestamps so identical content gives equal bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    stamp = FIXED_DATE.timetuple()[:6]
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for entry in src.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, src.read(entry.filename))
    return out.getvalue()


def write_docx(info: DocInfo, blocks: Iterator[Block], paragraphs: int) -> tuple[bytes, int, int]:
    """Render blocks into a DOCX until ``paragraphs`` body paragraphs were written.

    Returns ``(bytes, body_paragraphs, words)``. Headings, lists and tables are written as they
    come but only ``para``/``speaker`` blocks count towards ``paragraphs``.
    """
    doc = Document()
    doc.styles["Normal"].font.size = Pt(11)
    props = doc.core_properties
    props.title = info.title
    props.author = "qualarchive benchmark corpus"
    props.last_modified_by = "bench/corpus.py"
    props.subject = info.doc_type.replace("_", " ")
    props.created = FIXED_DATE.replace(tzinfo=None)
    props.modified = FIXED_DATE.replace(tzinfo=None)
    props.revision = 1
    section = doc.sections[0]
    section.header.paragraphs[0].text = info.header
    section.footer.paragraphs[0].text = "Confidential - for research use only."

    body = 0
    words = 0
    first_h1 = True
    for b in blocks:
        if body >= paragraphs:
            break
        if b.kind == "h1":
            doc.add_heading(b.text, level=0 if first_h1 else 1)
            first_h1 = False
            words += len(b.text.split())
        elif b.kind == "h2":
            doc.add_heading(b.text, level=2)
            words += len(b.text.split())
        elif b.kind in ("para", "speaker"):
            para = doc.add_paragraph()
            if b.label:
                para.add_run(b.label + " ").bold = True
            para.add_run(b.text)
            body += 1
            words += len(b.label.split()) + len(b.text.split())
        elif b.kind == "meta":
            for item in b.items:
                key, _, value = item.partition(": ")
                para = doc.add_paragraph()
                para.add_run(key + ": ").bold = True
                para.add_run(value)
                words += len(item.split())
        elif b.kind in ("bullets", "numbered"):
            style = "List Bullet" if b.kind == "bullets" else "List Number"
            for item in b.items:
                doc.add_paragraph(item, style=style)
                words += len(item.split())
        elif b.kind in ("table", "texttable"):
            table = doc.add_table(rows=len(b.rows), cols=len(b.rows[0]))
            table.style = "Table Grid"
            for r, row in enumerate(b.rows):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
                    words += len(cell.split())
    buf = io.BytesIO()
    doc.save(buf)
    return _normalise_zip(buf.getvalue()), body, words


# --------------------------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------------------------


def _file_entry(outdir: Path, path: Path, data: bytes, **extra: Any) -> dict[str, Any]:
    path.write_bytes(data)
    return {
        "path": path.relative_to(outdir).as_posix(),
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        **extra,
    }


def _make_pdf(outdir: Path, index: int, pages: int, seed: int) -> dict[str, Any]:
    """Write PDF number ``index`` (0-based) and return its manifest entry."""
    doc_type = DOC_TYPES[index % len(DOC_TYPES)]
    prose = Prose(random.Random(f"{seed}/pdf/{index}"))
    info, blocks = DOC_BUILDERS[doc_type](prose, index + 1)
    writer = PdfWriter(info, prose, pages)
    data = writer.write(blocks)
    return _file_entry(
        outdir,
        outdir / "pdf" / f"{index + 1:03d}-{doc_type}.pdf",
        data,
        format="pdf",
        doc_type=doc_type,
        title=info.title,
        pages=pages,
        words=writer.words,
    )


def _make_docx(outdir: Path, index: int, seed: int) -> dict[str, Any]:
    """Write DOCX number ``index`` (0-based, 10-30 body paragraphs) and return its entry."""
    doc_type = DOC_TYPES[index % len(DOC_TYPES)]
    prose = Prose(random.Random(f"{seed}/docx/{index}"))
    info, blocks = DOC_BUILDERS[doc_type](prose, 500 + index + 1)
    target = prose.rng.randint(10, 30)
    data, body, words = write_docx(info, blocks, target)
    return _file_entry(
        outdir,
        outdir / "docx" / f"{index + 1:03d}-{doc_type}.docx",
        data,
        format="docx",
        doc_type=doc_type,
        title=info.title,
        pages=None,
        paragraphs=body,
        words=words,
    )


def generate(
    outdir: Path,
    *,
    pdfs: int = DEFAULT_PDFS,
    pages_per_pdf: int = DEFAULT_PAGES_PER_PDF,
    docx: int = DEFAULT_DOCX,
    seed: int = DEFAULT_SEED,
    jobs: int = 1,
) -> list[dict[str, Any]]:
    """Write the corpus to ``outdir`` (``pdf/`` and ``docx/`` subfolders) and its manifest.

    Returns the manifest's file entries: ``path`` (relative to ``outdir``), ``format``,
    ``doc_type``, ``title``, ``pages`` (``None`` for DOCX), ``bytes``, ``sha256``, ``words``
    and, for DOCX, ``paragraphs``. Document types rotate transcript / meeting notes / policy.
    Each file has its own seeded random stream, so ``jobs`` > 1 (worker processes) gives the
    same bytes as ``jobs=1``.
    """
    if pdfs < 0 or docx < 0 or pages_per_pdf < 1:
        raise ValueError("pdfs and docx must be >= 0 and pages_per_pdf >= 1")
    outdir = Path(outdir)
    (outdir / "pdf").mkdir(parents=True, exist_ok=True)
    (outdir / "docx").mkdir(parents=True, exist_ok=True)

    entries: list[dict[str, Any]]
    if jobs <= 1:
        entries = [_make_pdf(outdir, i, pages_per_pdf, seed) for i in range(pdfs)]
        entries += [_make_docx(outdir, i, seed) for i in range(docx)]
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            pdf_futs = [pool.submit(_make_pdf, outdir, i, pages_per_pdf, seed) for i in range(pdfs)]
            docx_futs = [pool.submit(_make_docx, outdir, i, seed) for i in range(docx)]
            entries = [f.result() for f in pdf_futs + docx_futs]

    pdf_entries = [e for e in entries if e["format"] == "pdf"]
    docx_entries = [e for e in entries if e["format"] == "docx"]
    manifest = {
        "generator": "bench/corpus.py",
        "parameters": {"pdfs": pdfs, "pages_per_pdf": pages_per_pdf, "docx": docx, "seed": seed},
        "totals": {
            "files": len(entries),
            "pdf_files": len(pdf_entries),
            "docx_files": len(docx_entries),
            "pdf_pages": sum(e["pages"] for e in pdf_entries),
            "bytes": sum(e["bytes"] for e in entries),
            "pdf_bytes": sum(e["bytes"] for e in pdf_entries),
            "docx_bytes": sum(e["bytes"] for e in docx_entries),
            "words": sum(e["words"] for e in entries),
        },
        "files": entries,
    }
    (outdir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return entries


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: generate the corpus and print a JSON summary."""
    parser = argparse.ArgumentParser(
        description="Generate the deterministic ingest-benchmark corpus (PDF + DOCX)."
    )
    parser.add_argument("outdir", type=Path, help="directory to write the corpus into")
    parser.add_argument("--pdfs", type=int, default=DEFAULT_PDFS)
    parser.add_argument("--pages-per-pdf", type=int, default=DEFAULT_PAGES_PER_PDF)
    parser.add_argument("--docx", type=int, default=DEFAULT_DOCX)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes (output is identical for any value; default: all cores)",
    )
    args = parser.parse_args(argv)

    start = time.perf_counter()
    generate(
        args.outdir,
        pdfs=args.pdfs,
        pages_per_pdf=args.pages_per_pdf,
        docx=args.docx,
        seed=args.seed,
        jobs=args.jobs,
    )
    seconds = time.perf_counter() - start
    # Record how long generation took (the files themselves do not depend on it).
    manifest_path = args.outdir / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["generation"] = {"seconds": round(seconds, 2), "jobs": args.jobs}
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    summary = {
        "outdir": str(args.outdir),
        "generation_seconds": round(seconds, 2),
        **manifest["totals"],
    }
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
