"""Memory window by window: what a long recording of continuous speech costs as it is transcribed,
for each transcription window length asked for.

    python bench/transcribe_windows.py [--minutes 40] [--windows 300 600] [--out bench/results]

A recording of continuous speech is made here (espeak-ng reading a paragraph, looped by ffmpeg to
the length asked for, 16 kHz FLAC). For each window length a fresh process loads the default
model and transcribes it, printing its resident memory (VmRSS) and its peak so far (VmHWM) after
every window. Memory is bounded when the peak stops rising after the first windows; the peak
itself is what one worker needs. Times and memory are rounded up (``bench.harness``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import cost, machine  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

PARAGRAPH = (
    "When the new electronic patient record went live, the first few weeks were honestly quite "
    "chaotic. Nobody knew where anything was. The nurses had to print the medication charts "
    "again because the system kept logging them out in the middle of the drug round. We were "
    "told the training would take two hours, but most of us needed a whole day."
)


def memory_mib() -> dict[str, float]:
    """This process's resident memory now and at its peak, in MiB."""
    found = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0]) / 1024
    return {"rss_mib": found["VmRSS"], "peak_mib": found["VmHWM"]}


def trace(path: Path, window_seconds: float) -> dict[str, Any]:
    """In this process: transcribe `path` with windows of `window_seconds`, noting memory after
    each window."""
    from service.transcription import engine

    windows: list[dict[str, float]] = []
    transcribe_window = engine.Transcriber._transcribe_window

    def noted(self: Any, audio: Any, offset: float, language: str | None) -> Any:
        result = transcribe_window(self, audio, offset, language)
        windows.append({"starts_at_minute": round(offset / 60, 2), **memory_mib()})
        return result

    engine.Transcriber._transcribe_window = noted  # type: ignore[method-assign]
    transcriber = engine.Transcriber(chunk_seconds=window_seconds)
    loaded = memory_mib()
    began = time.perf_counter()
    transcript = transcriber.transcribe(path)
    seconds = time.perf_counter() - began
    return {
        "window_seconds": window_seconds,
        "audio_seconds": transcript.duration_seconds,
        "transcribe_seconds": seconds,
        "after_load": loaded,
        "windows": windows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=40)
    parser.add_argument("--windows", type=float, nargs="+", default=[300, 600])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--trace", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.trace:
        print(json.dumps(trace(args.trace, args.windows[0])))
        return 0

    runs = []
    with tempfile.TemporaryDirectory(prefix="qa-bench-windows-") as tmp:
        spoken, recording = Path(tmp) / "spoken.wav", Path(tmp) / "speech.flac"
        subprocess.run(
            ["espeak-ng", "-v", "en-gb", "-s", "150", "-w", str(spoken), PARAGRAPH], check=True
        )
        command = [
            "ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(spoken),
            "-t", str(args.minutes * 60), "-ar", "16000", "-ac", "1", "-c:a", "flac",
            str(recording),
        ]  # fmt: skip
        subprocess.run(command, check=True)
        for window in args.windows:
            done = subprocess.run(
                [sys.executable, __file__, "--trace", str(recording), "--windows", str(window)],
                check=True,
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            run = json.loads(done.stdout.strip().splitlines()[-1])
            peaks = [w["peak_mib"] for w in run["windows"]]
            summary = {
                "window_seconds": window,
                "windows": len(peaks),
                "transcribe_seconds": cost(run["transcribe_seconds"]),
                "real_time_factor": cost(run["transcribe_seconds"] / run["audio_seconds"], 3),
                "peak_rss_mib": cost(max(peaks), 0),
                "peak_after_first_window_mib": cost(peaks[0], 0),
                "rss_after_each_window_mib": [cost(w["rss_mib"], 0) for w in run["windows"]],
                "peak_after_each_window_mib": [cost(p, 0) for p in peaks],
            }
            print(json.dumps(summary), flush=True)
            runs.append(summary)

    result = {
        "benchmark": "transcribe_windows",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "recording": {"minutes": args.minutes, "speech": "espeak-ng en-gb, 150 wpm, looped"},
        "runs": runs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"transcribe-windows-{datetime.now(UTC).date().isoformat()}.json"
    target.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
