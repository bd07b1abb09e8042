"""Ingest benchmark: the generated corpus through the API, until every source is ``ready``.

Runs ``qualarchive serve`` on embedded defaults (SQLite, local SeaweedFS, in-process workers, one
per core) in a temporary data directory, uploads the corpus of ``bench/corpus.py`` through
``POST /api/v1/sources`` and polls until every source is ready. PDFs and DOCX go in two phases so
the PDF figure compares with the baselines of ``bench/baseline_pdf.py`` on the same files.

    python bench/ingest.py [--corpus DIR] [--pdfs 40 --pages-per-pdf 55 --docx 20 --seed 20240115]
                           [--baseline bench/results/baseline-YYYY-MM-DD.json] [--out bench/results]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.corpus import generate  # noqa: E402
from bench.harness import Serve, cost, machine, rate  # noqa: E402

BIN = Path(sys.executable).parent
TOKEN = re.compile(r"\bqa_[A-Za-z0-9_-]{20,}")


def ingest(api: httpx.Client, entries: list[dict[str, Any]], corpus: Path) -> dict[str, Any]:
    """Upload every file as its own source, then wait until all are ready; time both."""
    started = time.perf_counter()
    ids = []
    for entry in entries:
        path = corpus / entry["path"]
        with path.open("rb") as handle:
            response = api.post(
                "/sources",
                data={"title": path.stem, "source_type": "document"},
                files=[("file", (path.name, handle, "application/octet-stream"))],
            )
        response.raise_for_status()
        ids.append(response.json()["id"])
    uploaded = time.perf_counter() - started
    # One list request per round (not one per source), so polling costs the server little.
    pending = set(ids)
    failed = []
    while pending:
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 200} | ({"cursor": cursor} if cursor else {})
            page = api.get("/sources", params=params).json()
            for body in page["items"]:
                if body["id"] in pending and body["status"] in ("ready", "failed"):
                    pending.discard(body["id"])
                    if body["status"] == "failed":
                        failed.append(body["status_reason"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        if pending:
            time.sleep(0.1)
    return {
        "files": len(ids),
        "upload_seconds": uploaded,
        "seconds_until_ready": time.perf_counter() - started,
        "failed": failed,
    }


def _costs(run: dict[str, Any]) -> dict[str, Any]:
    return {k: cost(v, 3) if isinstance(v, float) else v for k, v in run.items()}


def latest_baseline(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        found = sorted(Path("bench/results").glob("baseline-*.json"))
        path = found[-1] if found else None
    return json.loads(path.read_text()) if path else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, help="an existing corpus (else one is generated)")
    parser.add_argument("--pdfs", type=int, default=40)
    parser.add_argument("--pages-per-pdf", type=int, default=55)
    parser.add_argument("--docx", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20240115)
    parser.add_argument("--baseline", type=Path)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--server-log", type=Path, help="keep the server's log here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="qa-bench-ingest-") as tmp:
        work = Path(tmp)
        corpus = args.corpus or work / "corpus"
        if args.corpus is None:
            generate(
                corpus,
                pdfs=args.pdfs,
                pages_per_pdf=args.pages_per_pdf,
                docx=args.docx,
                seed=args.seed,
            )
        manifest = json.loads((corpus / "manifest.json").read_text())
        entries = manifest["files"]
        pdfs = [e for e in entries if e["format"] == "pdf"]
        docx = [e for e in entries if e["format"] == "docx"]
        pages = sum(int(e["pages"]) for e in pdfs)

        server = Serve(work, QUALARCHIVE_WORKERS=str(os.cpu_count() or 2))
        try:
            api = server.api()
            # Warm-up: the first job starts each worker's extraction sandbox.
            warm = ingest(api, pdfs[:2], corpus)
            pdf_run = ingest(api, pdfs, corpus)
            docx_run = ingest(api, docx, corpus)
        finally:
            server.stop()
            if args.server_log:
                args.server_log.write_bytes(server.log.read_bytes())

    pages_per_s = pages / pdf_run["seconds_until_ready"]
    report: dict[str, Any] = {
        "benchmark": "ingest",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "corpus": {
            "pdfs": len(pdfs),
            "pdf_pages": pages,
            "docx": len(docx),
            "seed": args.seed,
        },
        "workers": os.cpu_count() or 2,
        "warm_up": _costs(warm),
        "pdf": {**_costs(pdf_run), "pages_per_second": rate(pages_per_s)},
        "docx": {
            **_costs(docx_run),
            "files_per_second": rate(len(docx) / docx_run["seconds_until_ready"], 2),
        },
    }
    baseline = latest_baseline(args.baseline)
    if baseline:
        report["baseline"] = {}
        raw = baseline.get("pypdfium2", {}).get("pages_per_second")
        if raw:
            report["baseline"]["pypdfium2_pages_per_second"] = raw
            report["baseline"]["ingest_over_pypdfium2"] = rate(pages_per_s / raw, 3)
        fast = (baseline.get("unstructured_fast") or {}).get("pages_per_second")
        if fast:
            report["baseline"]["unstructured_fast_pages_per_second"] = fast
            report["baseline"]["ingest_over_unstructured_fast"] = rate(pages_per_s / fast)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"ingest-{datetime.now(UTC):%Y-%m-%d}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
