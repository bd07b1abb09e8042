"""Every span the detector returns on both evaluation sets, dumped to JSON, so that a change
meant only to make detection faster can be shown to change nothing: dump before, dump after,
and the two files must be identical.

    python bench/deid_outputs.py OUT.json [--data tests/data/deid_eval.jsonl]
        [--heldout tests/data/deid_heldout.jsonl]
    cmp before.json after.json

Each passage is detected the three ways ``bench/deid_eval.py`` does (as the archive runs; with
no vocabulary; with exact matches dropped but nothing trimmed), and the speed benchmark's long
text (every passage of the first set, repeated to about 20,000 words, so that chunking is
exercised) once. Each span carries its start, end, type, score, recogniser and reason. The
passages' text is not written, only offsets, so that the dump says nothing the sets do not.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.deid_eval import load  # noqa: E402


def spans(detector: Any, text: str, **kwargs: Any) -> list[dict[str, Any]]:
    return [
        {
            "start": s.start,
            "end": s.end,
            "type": s.entity_type,
            "score": s.score,
            "recognizer": s.recognizer,
            "reason": s.reason.as_dict() if s.reason is not None else None,
        }
        for s in detector.detect(text, **kwargs)
    ]


def dump(detector: Any, passages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from service.deid.detect import Term
    from service.deid.vocabulary import DEFAULT_VOCABULARY

    out = []
    for passage in passages:
        deny = [Term(d["text"], d["entity_type"]) for d in passage.get("deny", [])]
        allow = passage.get("allow", [])
        common = {"deny": deny, "allow": allow}
        out.append(
            {
                "id": passage.get("id"),
                "after": spans(detector, passage["text"], vocabulary=DEFAULT_VOCABULARY, **common),
                "before": spans(detector, passage["text"], vocabulary=(), **common),
                "exact": spans(
                    detector,
                    passage["text"],
                    vocabulary=DEFAULT_VOCABULARY,
                    trim_allowed=False,
                    **common,
                ),
            }
        )
    return out


def long_text(passages: list[dict[str, Any]]) -> str:
    """The speed benchmark's text (``bench.deid_eval.speed``)."""
    text = "\n\n".join(p["text"] for p in passages)
    return "\n\n".join([text] * max(1, round(20_000 / len(text.split()))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--data", type=Path, default=Path("tests/data/deid_eval.jsonl"))
    parser.add_argument("--heldout", type=Path, default=Path("tests/data/deid_heldout.jsonl"))
    args = parser.parse_args(argv)

    from service.deid.detect import Detector

    detector = Detector()
    development = load(args.data)
    heldout = load(args.heldout)
    result = {
        "development": dump(detector, development),
        "heldout": dump(detector, heldout),
        "long_text": spans(detector, long_text(development)),
    }
    args.out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    counts = {k: sum(len(p["after"]) for p in v) for k, v in result.items() if k != "long_text"}
    print(f"{counts} spans after, {len(result['long_text'])} in the long text -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
