"""Build the held-out de-identification set, tests/data/deid_heldout.jsonl, from its marked-up
source, tests/data/deid_heldout.src.txt, so that no offset is ever counted by hand.

    python bench/deid_heldout_build.py [--check]

Markup (see the source's header): ``[TYPE|text]`` is a ground-truth identifier, ``{text}`` a term
that must be kept; ``[N|#]`` is filled with an invented NHS number whose check digit is valid.
Each passage becomes one line: id, genre, kind (the first set's four kinds, so both sets read
alike), text, spans (start, end, type) and keep (start, end, term). ``--check`` rebuilds in memory
and fails if the committed file differs.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tests" / "data" / "deid_heldout.src.txt"
TARGET = ROOT / "tests" / "data" / "deid_heldout.jsonl"
CODES = {
    "P": "PERSON",
    "O": "ORGANISATION",
    "H": "HOSPITAL",
    "L": "LOCATION",
    "W": "WARD",
    "D": "DATE",
    "E": "EMAIL",
    "T": "PHONE",
    "PC": "POSTCODE",
    "N": "NHS_NUMBER",
    "J": "JOB_TITLE",
}
# Genre (issue 10's six) -> kind (the first set's four: interview, meeting, document, asr).
KINDS = {
    "interview": "interview",
    "group_interview": "interview",
    "observation": "meeting",
    "local_document": "document",
    "national_document": "document",
    "transcript": "asr",
}
MARK = re.compile(r"\[([A-Z]+)\|([^\[\]{}|]+)\]|\{([^\[\]{}|]+)\}")
HEADER = re.compile(r"^### (\S+) (\S+)$")


def nhs_number(rng: random.Random, form: str) -> str:
    """An invented ten-digit NHS number with a valid modulus-11 check digit, written 3-3-4 with
    spaces (``#``), with hyphens (``#-``) or as ten bare digits (``#0``)."""
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        if check == 11:
            check = 0
        if check != 10:
            s = "".join(map(str, [*digits, check]))
            sep = {"#": " ", "#-": "-", "#0": ""}[form]
            return f"{s[:3]}{sep}{s[3:6]}{sep}{s[6:]}"


def parse(source: str) -> list[dict[str, Any]]:
    rng = random.Random(10)  # fixed: the same numbers on every build
    blocks: list[tuple[str, str, list[str]]] = []
    for line in source.splitlines():
        if line.startswith("#") and not line.startswith("###"):
            continue
        header = HEADER.match(line)
        if header:
            blocks.append((header.group(1), header.group(2), []))
        elif blocks:
            blocks[-1][2].append(line.rstrip())
    passages = []
    for pid, genre, lines in blocks:
        if genre not in KINDS:
            raise ValueError(f"{pid}: unknown genre {genre}")
        marked = "\n".join(lines).strip()
        text, spans, keep, pos = [], [], [], 0
        length = 0
        for m in MARK.finditer(marked):
            text.append(marked[pos : m.start()])
            length += m.start() - pos
            if m.group(1):
                if m.group(1) not in CODES:
                    raise ValueError(f"{pid}: unknown type code {m.group(1)}")
                value = m.group(2)
                if m.group(1) == "N" and value in ("#", "#-", "#0"):
                    value = nhs_number(rng, value)
                spans.append(
                    {"start": length, "end": length + len(value), "type": CODES[m.group(1)]}
                )
            else:
                value = m.group(3)
                keep.append({"start": length, "end": length + len(value), "term": value})
            text.append(value)
            length += len(value)
            pos = m.end()
        text.append(marked[pos:])
        plain = "".join(text)
        for stray in "[]{}|":
            if stray in plain:
                raise ValueError(f"{pid}: stray {stray!r} left in the text")
        passages.append(
            {
                "id": f"heldout-{pid}",
                "genre": genre,
                "kind": KINDS[genre],
                "text": plain,
                "spans": spans,
                "keep": keep,
            }
        )
    return passages


def check(passages: list[dict[str, Any]], source: str) -> None:
    """Every span's text is what the source marked, and no kept term lies inside an identifier."""
    body = "\n".join(line for line in source.splitlines() if not line.startswith("#"))
    marked = [m.group(2) or m.group(3) for m in MARK.finditer(body)]
    got = [
        p["text"][s["start"] : s["end"]]
        for p in passages
        for s in sorted(p["spans"] + p["keep"], key=lambda s: s["start"])
    ]
    if len(got) != len(marked) or any(
        g != f and not (f.startswith("#") and re.fullmatch(r"\d{3}[ -]?\d{3}[ -]?\d{4}", g))
        for g, f in zip(got, marked, strict=True)
    ):
        raise ValueError("span texts do not match the source's marks")
    for p in passages:
        for k in p["keep"]:
            if any(k["start"] < s["end"] and s["start"] < k["end"] for s in p["spans"]):
                raise ValueError(f"{p['id']}: kept term {k['term']!r} inside an identifier")
        if p["text"] != p["text"].strip():
            raise ValueError(f"{p['id']}: leading or trailing space")


def render(passages: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in passages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed file differs")
    args = parser.parse_args(argv)
    source = SOURCE.read_text(encoding="utf-8")
    passages = parse(source)
    check(passages, source)
    out = render(passages)
    if args.check:
        same = TARGET.exists() and TARGET.read_text(encoding="utf-8") == out
        print("up to date" if same else "out of date: rebuild it")
        return 0 if same else 1
    TARGET.write_text(out, encoding="utf-8")
    counts: dict[str, int] = {}
    for p in passages:
        for s in p["spans"]:
            counts[s["type"]] = counts.get(s["type"], 0) + 1
    genres: dict[str, int] = {}
    for p in passages:
        genres[p["genre"]] = genres.get(p["genre"], 0) + 1
    words = sum(len(p["text"].split()) for p in passages)
    print(f"{len(passages)} passages, {words} words, genres {genres}")
    print(f"identifiers {sum(counts.values())}: {dict(sorted(counts.items()))}")
    print(f"kept terms {sum(len(p['keep']) for p in passages)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
