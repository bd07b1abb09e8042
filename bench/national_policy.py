"""What a national document's analyst reads under each rule for names: the detector on the
evaluation set's document passages, each of its spans accepted or not as the rule says.

    python bench/national_policy.py [--data tests/data/deid_eval.jsonl] [--out bench/results]

National documents are published without review, so what their policy accepts on detection is
all that is replaced. Every rule accepts the direct identifiers (``DIRECT_IDENTIFIERS``) and the
spans at or above the policy's score bar; they differ in which PERSON spans they accept besides:

- ``names left``: none (the policy before issue 10);
- ``names beside a direct identifier``: a PERSON span within ``NEAR`` characters of a direct
  identifier the detector found (a contact block, a patient's NHS number);
- ``names in a direct identifier's sentence``: a PERSON span with a direct identifier in the
  same sentence or line;
- ``every name``: the archive's policy for national documents (``PUBLISHED``).

For each rule: the ground-truth spans replaced (a span counts when an accepted span overlaps
it), by names, direct identifiers and the rest; the accepted spans that overlap no ground truth
(words replaced wrongly), listed; and the project's vocabulary occurrences replaced. The
passages' ground truth marks every name, the public ones included: "names replaced" is the share
of the names a study's ethics committee would have the archive replace at most.

Rates are rounded down (``bench.harness``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.deid_eval import load, overlaps, predict, vocabulary_occurrences  # noqa: E402
from bench.harness import machine, rate  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# Characters between a name and a direct identifier for "beside": a contact line's width.
NEAR = 120
SENTENCE_BREAK = re.compile(r"\n|[.;:]\s+[A-Z]")

Rule = Callable[[str, list[dict[str, Any]], dict[str, Any]], bool]


def rules() -> dict[str, Rule]:
    from service.deid.policy import DIRECT_IDENTIFIERS, PUBLISHED, Policy, status_on_detection

    names_left = Policy(
        auto_accept_at=PUBLISHED.auto_accept_at, review_required=PUBLISHED.review_required
    )

    def accepted_by(policy: Policy) -> Rule:
        def rule(text: str, spans: list[dict[str, Any]], span: dict[str, Any]) -> bool:
            status = status_on_detection(
                policy=policy, entity_type=span["type"], score=span["score"]
            )
            return status == "accepted"

        return rule

    def directs(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [s for s in spans if s["type"] in DIRECT_IDENTIFIERS]

    def beside(text: str, spans: list[dict[str, Any]], span: dict[str, Any]) -> bool:
        return accepted_by(names_left)(text, spans, span) or (
            span["type"] == "PERSON"
            and any(
                max(d["start"] - span["end"], span["start"] - d["end"]) <= NEAR
                for d in directs(spans)
            )
        )

    def same_sentence(text: str, spans: list[dict[str, Any]], span: dict[str, Any]) -> bool:
        if accepted_by(names_left)(text, spans, span):
            return True
        if span["type"] != "PERSON":
            return False
        for d in directs(spans):
            first, second = sorted((span, d), key=lambda s: s["start"])
            if not SENTENCE_BREAK.search(text[first["end"] : second["start"]]):
                return True
        return False

    return {
        "names left": accepted_by(names_left),
        "names beside a direct identifier": beside,
        "names in a direct identifier's sentence": same_sentence,
        "every name": accepted_by(PUBLISHED),
    }


def measure(
    passages: list[dict[str, Any]], predictions: list[list[dict[str, Any]]], rule: Rule
) -> dict[str, Any]:
    from service.deid.policy import DIRECT_IDENTIFIERS
    from service.deid.vocabulary import DEFAULT_VOCABULARY

    def group(kind: str) -> str:
        if kind == "PERSON":
            return "names"
        return "direct identifiers" if kind in DIRECT_IDENTIFIERS else "other identifiers"

    truth: dict[str, int] = {"names": 0, "direct identifiers": 0, "other identifiers": 0}
    replaced = dict.fromkeys(truth, 0)
    names_kept: list[dict[str, str]] = []
    wrong: list[dict[str, str]] = []
    vocabulary_total = vocabulary_replaced = 0
    occurrences = vocabulary_occurrences(passages, DEFAULT_VOCABULARY)
    for passage, predicted, found in zip(passages, predictions, occurrences, strict=True):
        text = passage["text"]
        accepted = [s for s in predicted if rule(text, predicted, s)]
        for span in passage["spans"]:
            kind = group(span["type"])
            truth[kind] += 1
            if any(overlaps(a, span) for a in accepted):
                replaced[kind] += 1
            elif kind == "names":
                names_kept.append({"id": passage["id"], "text": text[span["start"] : span["end"]]})
        for a in accepted:
            if not any(overlaps(a, span) for span in passage["spans"]):
                wrong.append(
                    {"id": passage["id"], "type": a["type"], "text": text[a["start"] : a["end"]]}
                )
        vocabulary_total += len(found)
        vocabulary_replaced += sum(1 for o in found if any(overlaps(o, a) for a in accepted))
    return {
        "replaced": {
            kind: {
                "truth": truth[kind],
                "replaced": replaced[kind],
                "rate": rate(replaced[kind] / truth[kind], 3) if truth[kind] else None,
            }
            for kind in truth
        },
        "wrongly_replaced": wrong,
        "vocabulary": {"occurrences": vocabulary_total, "replaced": vocabulary_replaced},
        "names_kept": names_kept,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "tests" / "data" / "deid_eval.jsonl")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)

    from service.deid.detect import Detector

    passages = [p for p in load(args.data) if p["kind"] == "document"]
    predictions = predict(Detector(), passages)
    results = {name: measure(passages, predictions, rule) for name, rule in rules().items()}
    result = {
        "benchmark": "national-policy",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "data": {"file": args.data.name, "passages": len(passages), "kind": "document"},
        "near_characters": NEAR,
        "rules": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"national-policy-{datetime.now(UTC).date().isoformat()}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    print(f"{len(passages)} document passages")
    print(f"{'rule':<42}{'names':>10}{'direct':>10}{'other':>10}{'wrong':>7}{'vocab':>7}")
    for name, row in results.items():
        cells = [
            f"{row['replaced'][k]['replaced']}/{row['replaced'][k]['truth']}"
            for k in ("names", "direct identifiers", "other identifiers")
        ]
        print(
            f"{name:<42}{cells[0]:>10}{cells[1]:>10}{cells[2]:>10}"
            f"{len(row['wrongly_replaced']):>7}{row['vocabulary']['replaced']:>7}"
        )
    for name, row in results.items():
        print(f"{name}: wrongly replaced {[w['text'] for w in row['wrongly_replaced']]}")
        print(f"{name}: names kept {[n['text'] for n in row['names_kept']]}")
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
