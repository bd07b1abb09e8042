"""Transcription benchmark: word error rate, real-time factor and peak memory of the default
model (Whisper base, int8, beam 5, word timestamps, 2 threads) on speech synthesised here.

    python bench/transcribe.py [--out bench/results] [--quick]

The test set is made on the spot in a temporary directory (nothing is downloaded, nothing is
kept): short interview-style utterances from NHS settings, written below, spoken by espeak-ng in
a British and an American voice at different speeds; the same with pink noise mixed in at 12 dB
SNR; and two-voice dialogues (the two voices alternating, half a second apart). A separate set of
spoken numbers and e-mail addresses shows how Whisper writes them; it is not scored.

Word error rate: both texts are lower-cased, stripped of punctuation (hyphens and slashes split
words) and compared word by word (Levenshtein distance over words, divided by the reference's
word count); a variant's and the overall rate sum edits and reference words over their clips.

Real-time factor is processing time over audio time, probing and decoding included, for the
short clips (each padded by Whisper to 30 s, so this is the pessimistic figure) and for the clean
clips joined into one continuous recording (the figure that holds for interviews). Peak RSS is
measured in a fresh process per file: a short clip, the continuous recording, a 30-minute
recording of continuous speech (six transcription windows), and 60-minute and 6-hour
recordings that are mostly silence with an utterance every five minutes. Rates are rounded
down and costs up (``bench.harness``).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
import wave
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import cost, machine  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

UTTERANCES: tuple[str, ...] = (
    "I have worked on the stroke ward for about six years, mostly on night shifts.",
    "When the new electronic patient record went live, the first few weeks were honestly quite "
    "chaotic. Nobody knew where anything was.",
    "The nurses had to print the medication charts again because the system kept logging them "
    "out in the middle of the drug round.",
    "We were told the training would take two hours, but most of us needed a whole day.",
    "Our matron was really supportive. She came in at weekends to help with the handover, and "
    "she sat with the junior staff until they felt confident.",
    "The biggest problem was that the discharge letters did not reach the general practitioners "
    "in time.",
    "Patients kept asking why we were looking at a screen instead of talking to them.",
    "I think the digital programme was driven by the trust board rather than by the clinicians "
    "who actually use it every day.",
    "The pharmacy team found errors in the dose calculations during the first month.",
    "There was a lot of pressure from the national team to hit the go live date, even when the "
    "wards told them they were not ready.",
    "Some of the older consultants simply refused to use the tablets on the ward round.",
    "It has got better now. The system is faster and people know where to find things.",
    "We still keep a paper copy of the observations in case the network goes down at night.",
    "The clinical safety officer reviewed every change before it was released to the wards.",
    "If I could change one thing, I would give the ward clerks more time to learn the system.",
    "Our community nurses cannot get a signal in some of the villages, so they write their notes "
    "later in the car.",
)

# Spoken as written; what Whisper makes of them is reported, not scored.
NUMBER_PROBES: tuple[str, ...] = (
    "We saw forty two patients on the ward on the third of March.",
    "The patient's NHS number is four eight five, seven seven seven, three four five six.",
    "Call the office on oh one one three, four nine six, oh two three one.",
    "You can email me at sarah dot jones at nhs dot net.",
)

# (espeak-ng voice, words per minute)
VOICES = {"gb": ("en-gb", 150), "us": ("en-us+f3", 185)}
SNR_DB = 12.0
GAP_SECONDS = 0.5
SPELLINGS = {"programme": "program", "programmes": "programs"}  # British and American alike


@dataclass
class Clip:
    name: str
    variant: str
    path: Path
    reference: str


# ----------------------------------------------------------------------------------- synthesis


def synthesise(text: str, path: Path, *, voice: str, speed: int) -> Path:
    """Speak `text` with espeak-ng into a WAV file (22,050 Hz mono)."""
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text],
        check=True,
        capture_output=True,
    )
    return path


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as file:
        assert file.getsampwidth() == 2 and file.getnchannels() == 1
        frames = file.readframes(file.getnframes())
        return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0, file.getframerate()


def write_wav(path: Path, samples: np.ndarray, rate_hz: int) -> Path:
    clipped = np.clip(samples, -1.0, 32767 / 32768)
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate_hz)
        file.writeframes((clipped * 32768).astype("<i2").tobytes())
    return path


def add_noise(source: Path, target: Path, *, snr_db: float, seed: int) -> Path:
    """Mix ffmpeg's pink noise into `source` so that speech power / noise power = `snr_db`."""
    speech, rate_hz = read_wav(source)
    seconds = len(speech) / rate_hz + 1
    command = [
        "ffmpeg", "-v", "error", "-f", "lavfi", "-i",
        f"anoisesrc=color=pink:seed={seed}:sample_rate={rate_hz}:duration={seconds:.2f}", "-ac",
        "1", "-f", "s16le", "pipe:1",
    ]  # fmt: skip
    made = subprocess.run(command, check=True, capture_output=True)
    noise = np.frombuffer(made.stdout, dtype="<i2").astype(np.float32)[: len(speech)] / 32768.0
    voiced = speech[np.abs(speech) > 0.01]  # speech power over speech, not over its pauses
    speech_power = float(np.mean(np.square(voiced if len(voiced) else speech)))
    noise_power = float(np.mean(np.square(noise)))
    scale = np.sqrt(speech_power / (noise_power * 10 ** (snr_db / 10)))
    return write_wav(target, speech + noise * scale, rate_hz)


def join(paths: list[Path], target: Path, *, gap_seconds: float = GAP_SECONDS) -> Path:
    """Concatenate WAV files of one sample rate with `gap_seconds` of silence between them."""
    parts: list[np.ndarray] = []
    rate_hz = 0
    for path in paths:
        samples, rate_hz = read_wav(path)
        if parts:
            parts.append(np.zeros(int(gap_seconds * rate_hz), dtype=np.float32))
        parts.append(samples)
    return write_wav(target, np.concatenate(parts), rate_hz)


def sparse_recording(
    speech: list[Path], target: Path, *, minutes: float, every_seconds: float = 300
) -> Path:
    """A long FLAC recording that is silence with one utterance every `every_seconds`, streamed
    through ffmpeg's concat demuxer so that no long recording is ever held in memory here."""
    _, rate_hz = read_wav(speech[0])
    silence = target.parent / f"silence-{rate_hz}-{int(every_seconds)}.wav"
    if not silence.exists():
        write_wav(silence, np.zeros(int(every_seconds * rate_hz), dtype=np.float32), rate_hz)
    listing = target.with_suffix(".txt")
    entries = []
    for i in range(int(minutes * 60 // every_seconds)):
        entries += [speech[i % len(speech)], silence]
    listing.write_text("".join(f"file '{p}'\n" for p in entries))
    command = [
        "ffmpeg", "-y", "-v", "error", "-f", "concat", "-safe", "0", "-i", str(listing), "-t",
        str(minutes * 60), "-c:a", "flac", str(target),
    ]  # fmt: skip
    subprocess.run(command, check=True)
    return target


def build_test_set(work: Path) -> list[Clip]:
    clips: list[Clip] = []
    spoken: dict[str, list[Path]] = {}
    for key, (voice, speed) in VOICES.items():
        spoken[key] = []
        for i, text in enumerate(UTTERANCES):
            path = synthesise(text, work / f"clean-{key}-{i:02d}.wav", voice=voice, speed=speed)
            spoken[key].append(path)
            clips.append(Clip(path.stem, f"clean-{key}", path, text))
            noisy = add_noise(path, work / f"noisy-{key}-{i:02d}.wav", snr_db=SNR_DB, seed=i + 1)
            clips.append(Clip(noisy.stem, f"noisy-{key}", noisy, text))
    for i in range(0, len(UTTERANCES) - 1, 2):
        # Voices swap between dialogues so each speaks both first and second.
        first, second = ("gb", "us") if i % 4 == 0 else ("us", "gb")
        path = join([spoken[first][i], spoken[second][i + 1]], work / f"dialogue-{i // 2:02d}.wav")
        clips.append(Clip(path.stem, "dialogue", path, f"{UTTERANCES[i]} {UTTERANCES[i + 1]}"))
    return clips


# ------------------------------------------------------------------------------------- scoring


def normalise(text: str) -> list[str]:
    """Lower-case words without punctuation; hyphens and slashes separate words."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[-/–—]", " ", text)
    text = re.sub(r"[^\w\s]", "", text)
    return [SPELLINGS.get(word, word) for word in text.split()]


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Levenshtein distance over words: substitutions, deletions and insertions."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i] + [0] * len(hypothesis)
        for j, hyp_word in enumerate(hypothesis, start=1):
            current[j] = min(
                previous[j] + 1,
                current[j - 1] + 1,
                previous[j - 1] + (ref_word != hyp_word),
            )
        previous = current
    return previous[-1]


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref = normalise(reference)
    return edit_distance(ref, normalise(hypothesis)) / max(1, len(ref))


# ----------------------------------------------------------------------------------- measuring


def peak_rss_kib() -> int:
    """This process's peak resident memory since it was started (VmHWM, of its own address
    space). Not getrusage's ru_maxrss: Linux carries that across exec from the parent that
    spawned us (with vfork, the parent's own peak), which is the parent's figure, not ours."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def measure(path: Path, chunk_seconds: float | None = None) -> dict[str, Any]:
    """Load the default model and transcribe `path` in this process; meant for a fresh child
    process, so that its peak RSS is this file's alone."""
    from service.transcription.engine import Transcriber

    started = time.perf_counter()
    options = {"chunk_seconds": chunk_seconds} if chunk_seconds else {}
    transcriber = Transcriber(**options)
    loaded = time.perf_counter()
    transcript = transcriber.transcribe(path)
    done = time.perf_counter()
    peak_kib = peak_rss_kib()
    return {
        "audio_seconds": transcript.duration_seconds,
        "load_seconds": loaded - started,
        "transcribe_seconds": done - loaded,
        "peak_rss_mib": peak_kib / 1024,
        "segments": len(transcript.segments),
        "words": sum(len(s.words) for s in transcript.segments),
    }


def measure_in_child(path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--measure", str(path)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def memory_row(name: str, figures: dict[str, Any]) -> dict[str, Any]:
    return {
        "file": name,
        "audio_minutes": cost(figures["audio_seconds"] / 60, 1),
        "peak_rss_mib": cost(figures["peak_rss_mib"], 0),
        "load_seconds": cost(figures["load_seconds"]),
        "transcribe_seconds": cost(figures["transcribe_seconds"]),
        "real_time_factor": cost(figures["transcribe_seconds"] / figures["audio_seconds"], 3),
        "words": figures["words"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--quick", action="store_true", help="skip the 10-min, 60-min, 6-h files")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0
    for program in ("espeak-ng", "ffmpeg", "ffprobe"):
        if shutil.which(program) is None:
            sys.exit(f"{program} is not installed (apt-get install espeak-ng ffmpeg)")

    from service.transcription.engine import Transcriber, default_model_dir

    with tempfile.TemporaryDirectory(prefix="bench-transcribe-") as tmp:
        work = Path(tmp)
        print("synthesising the test set ...", flush=True)
        clips = build_test_set(work)
        probes = [
            synthesise(text, work / f"numbers-{i}.wav", voice=VOICES["gb"][0], speed=150)
            for i, text in enumerate(NUMBER_PROBES)
        ]
        started = time.perf_counter()
        default_model_dir()
        transcriber = Transcriber()
        load_seconds = time.perf_counter() - started

        rows: list[dict[str, Any]] = []
        audio_total = busy_total = 0.0
        low_confidence = segments_total = 0
        for clip in clips:
            began = time.perf_counter()
            transcript = transcriber.transcribe(clip.path)
            busy = time.perf_counter() - began
            audio_total += transcript.duration_seconds
            busy_total += busy
            hypothesis = " ".join(s.text for s in transcript.segments)
            ref = normalise(clip.reference)
            edits = edit_distance(ref, normalise(hypothesis))
            segments_total += len(transcript.segments)
            low_confidence += sum(s.low_confidence for s in transcript.segments)
            rows.append(
                {
                    "clip": clip.name,
                    "variant": clip.variant,
                    "seconds": round(transcript.duration_seconds, 2),
                    "language": transcript.language,
                    "edits": edits,
                    "reference_words": len(ref),
                    "hypothesis": hypothesis,
                }
            )
            print(f"{clip.name:18} WER {edits / max(1, len(ref)):.3f}  {hypothesis}", flush=True)

        numbers = []
        for text, path in zip(NUMBER_PROBES, probes, strict=True):
            transcript = transcriber.transcribe(path)
            written = " ".join(s.text for s in transcript.segments)
            numbers.append(
                {"spoken": text, "written": written, "has_digits": bool(re.search(r"\d", written))}
            )

        continuous = join(
            [c.path for c in clips if c.variant.startswith("clean-")],
            work / "continuous.wav",
            gap_seconds=0.8,
        )
        began = time.perf_counter()
        joined = transcriber.transcribe(continuous)
        continuous_rtf = (time.perf_counter() - began) / joined.duration_seconds
        del transcriber

        print("measuring peak memory in fresh processes ...", flush=True)
        memory = [
            memory_row("short clip", measure_in_child(clips[0].path)),
            memory_row("continuous speech", measure_in_child(continuous)),
        ]
        if not args.quick:
            # Six 5-minute windows of speech: memory must not grow from one to the next.
            dense = work / "dense-30min.flac"
            command = [
                "ffmpeg", "-v", "error", "-stream_loop", "-1", "-i", str(continuous), "-t", "1800",
                "-c:a", "flac", str(dense),
            ]  # fmt: skip
            subprocess.run(command, check=True)
            memory.append(memory_row("30 min continuous speech", measure_in_child(dense)))
            speech = [c.path for c in clips if c.variant == "clean-gb"]
            for minutes, label in ((60, "60 min mostly silence"), (360, "6 h mostly silence")):
                long_file = sparse_recording(
                    speech, work / f"sparse-{minutes}.flac", minutes=minutes
                )
                memory.append(memory_row(label, measure_in_child(long_file)))
                long_file.unlink()
            for row in memory:
                print(row, flush=True)

    variants: dict[str, dict[str, float | int]] = {}
    for row in rows:
        entry = variants.setdefault(row["variant"], {"clips": 0, "edits": 0, "reference_words": 0})
        entry["clips"] += 1
        entry["edits"] += row["edits"]
        entry["reference_words"] += row["reference_words"]
    for entry in variants.values():
        entry["word_error_rate"] = cost(entry["edits"] / entry["reference_words"], 3)
    edits = sum(r["edits"] for r in rows)
    words = sum(r["reference_words"] for r in rows)

    result = {
        "benchmark": "transcribe",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "engine": {
            "model": "faster-whisper-base (Whisper base, CTranslate2)",
            "compute_type": "int8",
            "beam_size": 5,
            "cpu_threads": 2,
            "word_timestamps": True,
            "vad_filter": True,
            "faster_whisper": metadata.version("faster-whisper"),
            "ctranslate2": metadata.version("ctranslate2"),
            "onnxruntime": metadata.version("onnxruntime"),
        },
        "test_set": {
            "utterances": len(UTTERANCES),
            "voices": {k: f"espeak-ng {v} at {s} wpm" for k, (v, s) in VOICES.items()},
            "noise": f"pink noise at {SNR_DB:g} dB SNR",
            "dialogue": f"two voices alternating, {GAP_SECONDS:g} s apart",
            "clips": len(clips),
            "audio_seconds": cost(audio_total, 1),
        },
        "model_load_seconds": cost(load_seconds),
        "real_time_factor": {
            "short_clips": cost(busy_total / audio_total, 3),
            "continuous_recording": cost(continuous_rtf, 3),
            "continuous_recording_minutes": cost(joined.duration_seconds / 60, 1),
            "target": 0.2,
        },
        "word_error_rate": {
            "overall": cost(edits / words, 3),
            "continuous_recording": cost(
                word_error_rate(
                    " ".join(c.reference for c in clips if c.variant.startswith("clean-")),
                    " ".join(s.text for s in joined.segments),
                ),
                3,
            ),
            "by_variant": variants,
        },
        "low_confidence_segments": {"flagged": low_confidence, "of": segments_total},
        "peak_memory": memory,
        "numbers_and_emails": numbers,
        "clips": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"transcribe-{datetime.now(UTC).date().isoformat()}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    summary = {k: result[k] for k in ("real_time_factor", "word_error_rate")}
    print(json.dumps(summary, indent=2))
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
