"""Probing and transcription on the real model, real ffmpeg and speech synthesised by espeak-ng.

The model directory is assembled from the installed packages into a temporary cache, so these
tests also prove the assembly and the pinned checksums. Media are made by ffmpeg on the spot.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from bench.transcribe import (
    UTTERANCES,
    join,
    normalise,
    read_wav,
    sparse_recording,
    synthesise,
    word_error_rate,
    write_wav,
)
from service.transcription import engine
from service.transcription.engine import (
    MODEL_FILES,
    Transcriber,
    TranscriptionFailed,
    default_model_dir,
)
from service.transcription.probe import ProbeFailed, probe

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
    reason="ffmpeg/ffprobe are not installed: no media can be made or read",
)

# Measured on these clips: 0.0 (utterance 3, en-gb), 0.0 (utterance 15, en-us), 0.033 (utterance
# 0 + 1, dialogue); all three together 0.018. The bounds leave room for another CPU's arithmetic.
CLIP_WER_BOUND = 0.15
TOTAL_WER_BOUND = 0.10


def needs_espeak() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng): no speech to test on")


# ------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache") / "whisper-base"


@pytest.fixture(scope="module")
def transcriber(model_cache: Path) -> Iterator[Transcriber]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUALARCHIVE_MODEL_CACHE", str(model_cache))
        yield Transcriber()


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """Three clips: a British voice, an American voice, and the two in dialogue."""
    needs_espeak()
    work = tmp_path_factory.mktemp("speech")
    gb = synthesise(UTTERANCES[3], work / "gb.wav", voice="en-gb", speed=150)
    us = synthesise(UTTERANCES[15], work / "us.wav", voice="en-us+f3", speed=185)
    first = synthesise(UTTERANCES[0], work / "first.wav", voice="en-gb", speed=150)
    second = synthesise(UTTERANCES[1], work / "second.wav", voice="en-us+f3", speed=185)
    dialogue = join([first, second], work / "dialogue.wav")
    return {
        "gb": (gb, UTTERANCES[3]),
        "us": (us, UTTERANCES[15]),
        "dialogue": (dialogue, f"{UTTERANCES[0]} {UTTERANCES[1]}"),
    }


MakeMedia = Callable[..., Path]


@pytest.fixture()
def ffmpeg(tmp_path: Path) -> MakeMedia:
    """Make a file with ffmpeg: a 3-second tone (and a test picture with `video=True`)."""

    def make(name: str, *args: str, video: bool = False, seconds: float = 3) -> Path:
        path = tmp_path / name
        inputs = ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
        if video:
            inputs += ["-f", "lavfi", "-i", f"testsrc=duration={seconds}:size=160x120:rate=10"]
        subprocess.run(
            ["ffmpeg", "-y", "-v", "error", *inputs, *args, str(path)],
            check=True,
            capture_output=True,
        )
        return path

    return make


# ---------------------------------------------------------------------------------- the model


def test_model_directory_is_assembled_from_the_packages(model_cache: Path) -> None:
    directory = default_model_dir(model_cache)
    assert directory == model_cache
    assert sorted(p.name for p in directory.iterdir()) == sorted(MODEL_FILES)
    for name, (size, _) in MODEL_FILES.items():
        assert (directory / name).stat().st_size == size
    assert not engine._check_model_dir(directory)  # every pinned SHA-256 matches
    # No staging directory is left behind.
    assert [p.name for p in directory.parent.iterdir()] == [directory.name]


def test_a_damaged_model_directory_is_rebuilt(tmp_path: Path) -> None:
    target = tmp_path / "whisper-base"
    target.mkdir()
    (target / "config.json").write_text("{}")
    (target / "model.bin").write_bytes(b"not a model")
    assert default_model_dir(target) == target
    assert not engine._check_model_dir(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["whisper-base"]


def test_a_cache_that_cannot_be_written_fails_with_a_reason(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the cache's parent should be")
    with pytest.raises(TranscriptionFailed) as failed:
        default_model_dir(blocked / "whisper-base")
    assert "writable directory" in failed.value.reason


def test_an_incomplete_custom_model_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"")
    with pytest.raises(TranscriptionFailed) as failed:
        Transcriber(tmp_path)
    assert "model directory is incomplete" in failed.value.reason
    assert "tokenizer.json" in failed.value.detail


# ------------------------------------------------------------------------------ transcription


def test_transcribes_synthesised_speech(
    transcriber: Transcriber, speech: dict[str, tuple[Path, str]]
) -> None:
    edits = words = 0
    for name, (path, reference) in speech.items():
        duration = read_wav(path)[0].size / read_wav(path)[1]
        transcript = transcriber.transcribe(path)
        hypothesis = " ".join(s.text for s in transcript.segments)
        wer = word_error_rate(reference, hypothesis)
        assert wer <= CLIP_WER_BOUND, f"{name}: WER {wer:.3f} for {hypothesis!r}"
        edits += round(wer * len(normalise(reference)))
        words += len(normalise(reference))

        assert transcript.language == "en"
        assert transcript.language_probability > 0.5
        assert transcript.duration_seconds == pytest.approx(duration, abs=0.05)
        assert transcript.model == "faster-whisper-base"
        assert transcript.model_sha256 == MODEL_FILES["model.bin"][1]
        assert transcript.engine_version.startswith("faster-whisper ")

        all_words = [w for s in transcript.segments for w in s.words]
        assert all_words, name
        starts = [w.start for w in all_words]
        assert starts == sorted(starts), f"{name}: word starts out of order"
        for word in all_words:
            assert 0 <= word.start <= word.end <= transcript.duration_seconds
            assert 0 <= word.probability <= 1
        for segment in transcript.segments:
            assert segment.text == "".join(w.text for w in segment.words).strip()
            assert segment.start <= segment.words[0].start
            assert segment.end >= segment.words[-1].end
            assert isinstance(segment.low_confidence, bool)
    assert edits / words <= TOTAL_WER_BOUND


def test_a_recording_longer_than_the_limit_is_refused(
    transcriber: Transcriber, speech: dict[str, tuple[Path, str]]
) -> None:
    with pytest.raises(TranscriptionFailed) as failed:
        transcriber.transcribe(speech["gb"][0], max_seconds=2)
    assert "too long to transcribe" in failed.value.reason
    assert "2.0 s are accepted" in failed.value.reason


@pytest.mark.slow
@pytest.mark.timeout(900)  # about 130 s here
def test_a_six_hour_recording_is_transcribed_in_bounded_memory(
    model_cache: Path, transcriber: Transcriber, speech: dict[str, tuple[Path, str]], tmp_path: Path
) -> None:
    """Six hours, an utterance every five minutes: decoded as a stream and transcribed window by
    window in a process of its own, whose peak memory is that of a short clip (about 520 MiB
    here), where six hours held in memory would take 1.3 GiB for the samples alone."""
    # (The transcriber fixture has joined the model into model_cache for the child to load.)
    long_file = sparse_recording([speech["gb"][0]], tmp_path / "six-hours.flac", minutes=360)
    measured = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "transcribe.py"), "--measure", str(long_file)],
        env={**os.environ, "QUALARCHIVE_MODEL_CACHE": str(model_cache)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(measured.stdout.strip().splitlines()[-1])
    assert figures["audio_seconds"] == pytest.approx(6 * 3600, abs=1)
    assert figures["peak_rss_mib"] < 900, figures
    # 72 utterances of 17 words: nearly all of them are there, once each.
    assert 72 * 17 * 0.9 <= figures["words"] <= 72 * 17 * 1.1, figures


def test_silence_has_no_segments_and_no_language(transcriber: Transcriber, tmp_path: Path) -> None:
    path = write_wav(tmp_path / "silence.wav", np.zeros(16_000 * 4, dtype=np.float32), 16_000)
    transcript = transcriber.transcribe(path)
    assert transcript.segments == []
    assert transcript.language == "und"
    assert transcript.duration_seconds == pytest.approx(4.0)


def test_words_at_a_window_boundary_are_kept_once(transcriber: Transcriber, tmp_path: Path) -> None:
    """Three utterances in 30-second windows, the second straddling the first window's end: the
    window is cut in the pause before it, and every word comes out once."""
    needs_espeak()
    texts = (UTTERANCES[14], UTTERANCES[8], UTTERANCES[6])
    clips = [
        read_wav(synthesise(text, tmp_path / f"u{i}.wav", voice="en-gb", speed=150))[0]
        for i, text in enumerate(texts)
    ]
    rate = 22_050
    # The middle utterance starts 3 s before the 30-second mark and runs well past it.
    lead = np.zeros(int(27 * rate) - len(clips[0]), dtype=np.float32)
    gap = np.zeros(int(0.6 * rate), dtype=np.float32)
    assert len(lead) > rate and len(clips[1]) > 5 * rate
    audio = np.concatenate([lead, clips[0], gap, clips[1], gap, clips[2]])
    path = write_wav(tmp_path / "boundary.wav", audio, rate)

    chunked = Transcriber(transcriber.model_dir, chunk_seconds=30)
    windows = []
    original = chunked._transcribe_window

    def spy(audio: np.ndarray, offset: float, language: str | None):  # type: ignore[no-untyped-def]
        windows.append((offset, len(audio) / 16_000))
        return original(audio, offset, language)

    chunked._transcribe_window = spy  # type: ignore[method-assign]
    transcript = chunked.transcribe(path)

    assert len(windows) == 2
    cut = windows[1][0]
    assert 27.0 < cut < 27.6, "the cut should fall in the pause before the middle utterance"
    hypothesis = " ".join(s.text for s in transcript.segments)
    reference = " ".join(texts)
    assert word_error_rate(reference, hypothesis) <= CLIP_WER_BOUND, hypothesis
    words = normalise(hypothesis)
    for distinctive in ("pharmacy", "calculations", "month", "clerks", "screen"):
        if distinctive in normalise(reference):
            assert words.count(distinctive) <= 1, f"{distinctive!r} repeated: {hypothesis}"
    assert abs(len(words) - len(normalise(reference))) <= 2, hypothesis
    starts = [w.start for s in transcript.segments for w in s.words]
    assert starts == sorted(starts)
    assert any(start > cut for start in starts) and any(start < cut for start in starts)


def test_a_window_ends_in_the_pause_nearest_its_end(tmp_path: Path) -> None:
    """Speech, a one-second pause from 40 s, then speech that the window's end cuts off."""
    needs_espeak()
    samples, rate = read_wav(
        synthesise(UTTERANCES[6], tmp_path / "u.wav", voice="en-gb", speed=150)
    )
    voiced = np.flatnonzero(np.abs(samples) > 0.01)
    samples = samples[voiced[0] : voiced[-1]]  # without espeak's leading and trailing silence
    at16k = np.interp(
        np.arange(0, len(samples) / rate, 1 / 16_000), np.arange(len(samples)) / rate, samples
    ).astype(np.float32)
    before = np.zeros(16_000 * 40 - len(at16k), np.float32)
    pause = np.zeros(16_000, dtype=np.float32)
    window = np.concatenate([before, at16k, pause, at16k[: 16_000 * 2]])
    cut = engine._pause_near_end(window)
    assert 40 * 16_000 < cut < 41 * 16_000


# ---------------------------------------------------------------------------------- offline


OFFLINE_CHILD = textwrap.dedent(
    """
    import json, socket, sys
    from pathlib import Path

    attempts = []

    def loopback(host):
        return str(host) in ("localhost", "127.0.0.1", "::1", "") or str(host).startswith("/")

    def audit(event, args):
        if event == "socket.connect":
            address = args[1]
            host = address[0] if isinstance(address, tuple) else address
            if not loopback(host):
                attempts.append(f"connect {address!r}")
                raise ConnectionRefusedError("network use during an offline test")
        elif event == "socket.getaddrinfo" and not loopback(args[0]):
            attempts.append(f"getaddrinfo {args[0]!r}")
            raise socket.gaierror("network use during an offline test")

    sys.addaudithook(audit)
    from service.transcription.engine import Transcriber
    transcript = Transcriber().transcribe(Path(sys.argv[1]))
    print(json.dumps({"attempts": attempts,
                      "text": " ".join(s.text for s in transcript.segments)}))
    """
)


def test_loads_and_transcribes_offline_without_downloading_or_telemetry(
    model_cache: Path, speech: dict[str, tuple[Path, str]], tmp_path: Path
) -> None:
    """In a fresh process with an empty HOME and no offline switches in its environment: no
    non-loopback connection is attempted (Python's socket audit events; with strace, every
    connect system call), nothing is downloaded, and onnxruntime leaves no telemetry files."""
    default_model_dir(model_cache)  # built by the package's own code; the child only verifies
    home = tmp_path / "home"
    home.mkdir()
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env |= {
        "HOME": str(home),
        "QUALARCHIVE_MODEL_CACHE": str(model_cache),
        "HF_HOME": str(tmp_path / "hf"),
        "XDG_CACHE_HOME": str(tmp_path / "xdg"),
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-c", OFFLINE_CHILD, str(speech["gb"][0])]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["attempts"] == []
    assert word_error_rate(speech["gb"][1], result["text"]) <= CLIP_WER_BOUND
    left_behind = [p for p in (home, tmp_path / "hf", tmp_path / "xdg") if p.exists()]
    assert [str(p) for d in left_behind for p in d.rglob("*")] == []

    if shutil.which("strace") is not None:
        trace = tmp_path / "strace.txt"
        traced = subprocess.run(
            ["strace", "-f", "-qq", "-e", "trace=connect", "-o", str(trace), *command],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert traced.returncode == 0, traced.stderr
        outward = [
            line
            for line in trace.read_text().splitlines()
            if re.search(r"AF_INET6?\b", line) and not re.search(r"127\.0\.0\.1|::1", line)
        ]
        assert outward == []


# ------------------------------------------------------------------------------------ probing


ACCEPTED = [
    ("tone.wav", ["-ar", "16000"], False, "wav", "pcm_s16le"),
    ("tone.mp3", ["-c:a", "libmp3lame"], False, "mp3", "mp3"),
    # An MP3 renamed .wav: what the bytes are decides, not the name.
    ("mislabelled.wav", ["-c:a", "libmp3lame", "-f", "mp3"], False, "mp3", "mp3"),
    ("tone.m4a", ["-c:a", "aac"], False, "mov,mp4,m4a,3gp,3g2,mj2", "aac"),
    ("tone.flac", [], False, "flac", "flac"),
    ("tone.ogg", ["-c:a", "libvorbis"], False, "ogg", "vorbis"),
    ("tone.opus", ["-c:a", "libopus"], False, "ogg", "opus"),
    ("tone.webm", ["-c:a", "libopus"], False, "matroska,webm", "opus"),
    ("film.mp4", ["-c:v", "libx264", "-c:a", "aac"], True, "mov,mp4,m4a,3gp,3g2,mj2", "aac"),
    ("film.mov", ["-c:v", "libx264", "-c:a", "aac"], True, "mov,mp4,m4a,3gp,3g2,mj2", "aac"),
    ("film.webm", ["-c:v", "libvpx", "-c:a", "libopus"], True, "matroska,webm", "opus"),
]


@pytest.mark.parametrize(("name", "args", "video", "container", "codec"), ACCEPTED)
def test_probe_accepts(
    ffmpeg: MakeMedia, name: str, args: list[str], video: bool, container: str, codec: str
) -> None:
    info = probe(ffmpeg(name, *args, video=video))
    assert info.duration_seconds == pytest.approx(3.0, abs=0.1)
    assert (info.container, info.codec, info.has_video) == (container, codec, video)
    assert info.channels == 1
    assert info.sample_rate in (16_000, 44_100, 48_000)


def test_probe_accepts_a_live_webm_without_a_duration(tmp_path: Path) -> None:
    """What a browser's MediaRecorder uploads: WebM written as a stream, with no duration."""
    path = tmp_path / "live.webm"
    command = [
        "ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=duration=3",
        "-c:a", "libopus", "-f", "webm", "pipe:1",
    ]  # fmt: skip
    with path.open("wb") as out:
        subprocess.run(command, stdout=out, check=True)
    assert probe(path).duration_seconds == pytest.approx(3.0, abs=0.1)


def half(path: Path) -> Path:
    data = path.read_bytes()
    cut = path.with_name(f"cut-{path.name}")
    cut.write_bytes(data[: len(data) // 2])
    return cut


def wav_claiming(path: Path, factor: int) -> Path:
    """The WAV with its RIFF and data sizes multiplied: a header that promises more than is
    there."""
    data = bytearray(path.read_bytes())
    at = data.find(b"data")
    for offset in (4, at + 4):
        struct.pack_into("<I", data, offset, struct.unpack_from("<I", data, offset)[0] * factor)
    liar = path.with_name(f"liar-{path.name}")
    liar.write_bytes(bytes(data))
    return liar


def wav_with_format_tag(path: Path, tag: int) -> Path:
    data = bytearray(path.read_bytes())
    struct.pack_into("<H", data, data.find(b"fmt ") + 8, tag)
    odd = path.with_name(f"tag-{path.name}")
    odd.write_bytes(bytes(data))
    return odd


def damaged_moov(path: Path) -> Path:
    data = bytearray(path.read_bytes())
    at = data.find(b"moov")
    data[at + 8 : at + 200] = bytes(192)
    broken = path.with_name(f"moov-{path.name}")
    broken.write_bytes(bytes(data))
    return broken


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


BAD: list[tuple[str, Callable[[MakeMedia, Path], Path], str]] = [
    ("empty file", lambda m, t: write(t / "empty.wav", b""), r"empty \(0 bytes\)"),
    (
        "0-second WAV",
        lambda m, t: m("zero.wav", "-t", "0"),
        r"no audio \(0 seconds long\)",
    ),
    (
        "WAV header claims ten times the data",
        lambda m, t: wav_claiming(m("tone.wav", "-ar", "16000"), 10),
        r"shorter than its header says \(30\.0 s declared, about 3\.0 s present\)",
    ),
    (
        "truncated WAV",
        lambda m, t: half(m("tone.wav", "-ar", "16000")),
        r"shorter than its header says",
    ),
    (
        "MP4 with a damaged moov box",
        lambda m, t: damaged_moov(m("film.mp4", "-c:v", "libx264", "-c:a", "aac", video=True)),
        r"index \(the 'moov' box\) is missing or damaged",
    ),
    (
        "MP4 cut before its moov box",
        lambda m, t: half(m("film.mp4", "-c:v", "libx264", "-c:a", "aac", video=True)),
        r"index \(the 'moov' box\) is missing or damaged",
    ),
    (
        "fast-start MP4 cut in half",
        lambda m, t: half(
            m("film.mp4", "-c:v", "libx264", "-c:a", "aac", "-movflags", "+faststart", video=True)
        ),
        r"shorter than its header says|ends before its audio does",
    ),
    ("truncated FLAC", lambda m, t: half(m("tone.flac")), r"shorter than its header says"),
    (
        "truncated MP3",
        lambda m, t: half(m("tone.mp3", "-c:a", "libmp3lame")),
        r"shorter than its header says",
    ),
    (
        "truncated Ogg",
        lambda m, t: half(m("tone.ogg", "-c:a", "libvorbis", seconds=20)),
        r"Ogg file ends abruptly",
    ),
    (
        "truncated WebM",
        lambda m, t: half(m("tone.webm", "-c:a", "libopus")),
        r"shorter than its header says|ends before its audio does",
    ),
    (
        "video-only MP4",
        lambda m, t: m("silent.mp4", "-map", "1:v", "-c:v", "libx264", video=True),
        r"no audio track \(it holds only video\)",
    ),
    (
        "unknown codec",
        lambda m, t: wav_with_format_tag(m("tone.wav", "-ar", "16000"), 0x7777),
        r"format \(format tag .*\) that cannot be decoded",
    ),
    (
        "garbage",
        lambda m, t: write(t / "noise.wav", np.random.default_rng(7).bytes(20_000)),
        r"not an audio or video file that can be read",
    ),
    (
        "a text file",
        lambda m, t: write(t / "notes.txt", b"Interview notes, ward 7.\n" * 40),
        r"not an audio or video file that can be read",
    ),
]


@pytest.mark.parametrize(("what", "make", "reason"), BAD, ids=[b[0] for b in BAD])
def test_probe_refuses_with_a_reason(
    ffmpeg: MakeMedia,
    tmp_path: Path,
    transcriber: Transcriber,
    what: str,
    make: Callable[[MakeMedia, Path], Path],
    reason: str,
) -> None:
    path = make(ffmpeg, tmp_path)
    with pytest.raises(ProbeFailed) as refused:
        probe(path)
    assert re.search(reason, refused.value.reason), refused.value.reason
    with pytest.raises(TranscriptionFailed) as failed:
        transcriber.transcribe(path)
    assert failed.value.reason == refused.value.reason


def test_probe_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProbeFailed, match="does not exist"):
        probe(tmp_path / "nowhere.wav")
