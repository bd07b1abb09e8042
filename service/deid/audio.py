"""De-identified audio: the recording with every redacted span replaced by a tone."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TONE_HZ = 1000
# A little either side of the words' own times: Whisper's word edges are approximate.
PAD_SECONDS = 0.15


class AudioRedactionFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def ranges_for(
    elements: Sequence[dict[str, Any]], spans: Sequence[tuple[int, int]]
) -> list[tuple[float, float]]:
    """The times to cover for redacted character spans of a machine transcript.

    Each element carries its words' times and their character positions within it; a span
    covers every word it touches. A span in a segment without word times covers the whole
    segment. Overlapping or touching ranges are merged.
    """
    found: list[tuple[float, float]] = []
    for element in elements:
        if element.get("start_time") is None:
            continue
        for span_start, span_end in spans:
            if span_end <= element["start"] or span_start >= element["end"]:
                continue
            words = (element.get("metadata") or {}).get("words") or []
            touched = [
                w
                for w in words
                if element["start"] + w["chars"][0] < span_end
                and element["start"] + w["chars"][1] > span_start
            ]
            if touched:
                found.append((min(w["start"] for w in touched), max(w["end"] for w in touched)))
            else:
                end = element.get("end_time") or element["start_time"]
                found.append((element["start_time"], end))
    merged: list[tuple[float, float]] = []
    for start, end in sorted((max(0.0, s - PAD_SECONDS), e + PAD_SECONDS) for s, e in found):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def bleep(
    source: Path,
    target: Path,
    ranges: Sequence[tuple[float, float]],
    *,
    timeout: float = 3600,
) -> None:
    """Write ``target`` (Ogg Opus, mono): ``source``'s audio, silenced under ``ranges`` with a
    tone laid over them instead."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioRedactionFailed(
            "De-identified audio needs ffmpeg, which is not installed on this server."
        )
    covered = "+".join(f"between(t,{start:.3f},{end:.3f})" for start, end in ranges) or "0"
    graph = (
        f"[0:a:0]aformat=channel_layouts=mono,aresample=48000,"
        f"volume=0:enable='{covered}'[speech];"
        f"sine=frequency={TONE_HZ}:sample_rate=48000,volume=0.2,"
        f"volume=0:enable='not({covered})'[tone];"
        f"[speech][tone]amix=inputs=2:duration=first:normalize=0[out]"
    )
    command = [
        ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(source),
        "-filter_complex", graph, "-map", "[out]",
        "-c:a", "libopus", "-b:a", "32k", "-f", "ogg", str(target),
    ]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise AudioRedactionFailed(
            f"Making the de-identified audio took longer than {timeout:.0f} s."
        ) from exc
    if result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        raise AudioRedactionFailed(
            "ffmpeg could not make the de-identified audio" + (f": {detail[0]}" if detail else ".")
        )
