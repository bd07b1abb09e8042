"""Read what a recording holds, and refuse one that cannot be transcribed, with a reason.

`probe()` runs `ffprobe` for the streams and duration and then proves the claim cheaply: it decodes
the first second and a second near the end of the audio, so that a file whose header promises more
than its bytes hold (a cut-off upload, an MP4 whose index outlives its media) fails here, in
seconds, rather than hours into a transcription. WAV and Ogg get two checks of their own, because
ffmpeg quietly reads around what they hide: a WAV header declaring more data than the file holds
(ffmpeg clamps the duration to the file), and an Ogg stream cut off before its last page (ffmpeg
reports the duration of what is left).

Not caught: an MP3 without a length header (Xing/VBRI) cut off between frames, and a WebM written
live (browser recordings carry no duration): both are streams with nothing that says where they
should end, so what is there is what gets transcribed.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SAMPLE_RATE = 16_000  # what the checks decode to; the rate Whisper works at

# Formats ffmpeg reads that are not recordings, though ffprobe may find a "stream" in them.
_NOT_MEDIA = {"tty", "lrc", "srt", "webvtt", "ass", "image2", "png_pipe", "jpeg_pipe", "svg_pipe"}
_MOV_FAMILY = "mov,mp4,m4a,3gp,3g2,mj2"


@dataclass(frozen=True)
class AudioInfo:
    """The audio track a transcription would read (the file's first audio stream)."""

    duration_seconds: float
    codec: str  # ffmpeg's codec name: "pcm_s16le", "mp3", "aac", "opus", ...
    channels: int
    sample_rate: int
    container: str  # ffprobe's format name: "wav", "mp3", "mov,mp4,m4a,3gp,3g2,mj2", "ogg", ...
    has_video: bool  # a picture track other than cover art


class ProbeFailed(Exception):
    """The file cannot be transcribed. `reason` says why in words a researcher can act on;
    `detail` carries ffmpeg's own message, when there is one, for whoever supports them."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def probe(path: Path, *, timeout: float = 60) -> AudioInfo:
    """Describe the audio in `path`, or raise `ProbeFailed` if it is not usable audio.

    `timeout` bounds the whole probe (every ffmpeg run it makes), in seconds.
    """
    deadline = time.monotonic() + timeout
    size = _size(path)
    _check_wav_header(path, size)

    report = _ffprobe(path, deadline)
    streams: list[dict[str, Any]] = report.get("streams") or []
    fmt: dict[str, Any] = report.get("format") or {}
    container = str(fmt.get("format_name") or "")
    if not streams:
        if container == _MOV_FAMILY:
            raise ProbeFailed(_MOOV_REASON)
        raise ProbeFailed(
            "No audio or video could be found in the file: it is damaged or not a recording. "
            "Check that the right file was uploaded, or export the recording again."
        )
    if container in _NOT_MEDIA:
        raise ProbeFailed(_NOT_MEDIA_REASON)

    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    has_video = any(
        s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
        for s in streams
    )
    if audio is None:
        raise ProbeFailed(
            "The file has no audio track"
            + (" (it holds only video)" if has_video else "")
            + ": there is nothing to transcribe. Upload the file with the interview's sound."
        )

    codec = str(audio.get("codec_name") or "")
    if codec in ("", "unknown", "none"):
        tag = audio.get("codec_tag_string") or audio.get("codec_tag") or "unknown"
        raise ProbeFailed(_codec_reason(f"format tag {tag}"))
    channels = _int(audio.get("channels"))
    sample_rate = _int(audio.get("sample_rate"))
    if channels <= 0 or sample_rate <= 0:
        raise ProbeFailed(
            "The audio track's header is damaged (no channel count or sample rate). "
            "Export the recording again as WAV, MP3 or M4A."
        )

    duration = _float(audio.get("duration")) or _float(fmt.get("duration"))
    if duration is None:
        # Streams written live (a browser's WebM, a WAV piped out of a program) do not say how
        # long they are: read the packets through, without decoding them, to find out.
        duration = _demuxed_seconds(path, deadline)
        measured = True
    else:
        measured = False
    if duration <= 0:
        raise ProbeFailed(
            "The recording contains no audio (0 seconds long). Check that the right file was "
            "uploaded and that the recording was not stopped as soon as it started."
        )

    if container == "ogg":
        _check_ogg_end(path, size)

    _check_decodes_from_start(path, min(1.0, duration), deadline)
    if not measured and duration > 1.0:
        tail_start = max(0.0, duration - 1.5)
        if not _decodes_at(path, tail_start, 1.0, deadline):
            # A failed seek is not yet proof: read the packets through and compare.
            present = _demuxed_seconds(path, deadline)
            if present < duration - max(1.0, 0.02 * duration):
                raise ProbeFailed(_short_reason(duration, present))

    return AudioInfo(
        duration_seconds=duration,
        codec=codec,
        channels=channels,
        sample_rate=sample_rate,
        container=container,
        has_video=has_video,
    )


_MOOV_REASON = (
    "The MP4/M4A/MOV file is incomplete: its index (the 'moov' box) is missing or damaged, "
    "which happens when a recording is not stopped properly or a copy is cut short. Use the "
    "recording device's or app's repair or export function, or upload the original again."
)
_NOT_MEDIA_REASON = (
    "This is not an audio or video file that can be read (ffmpeg does not recognise its "
    "format). Check that the right file was uploaded, or export the recording again as WAV, MP3 "
    "or M4A."
)


def _codec_reason(what: str) -> str:
    return (
        f"The audio is in a format ({what}) that cannot be decoded here. Export the recording "
        "again as WAV, MP3 or M4A."
    )


def _short_reason(declared: float, present: float) -> str:
    return (
        f"The file is shorter than its header says ({describe_duration(declared)} declared, "
        f"about {describe_duration(present)} present): it was probably cut off while being "
        "recorded, copied or uploaded. Upload the complete file again."
    )


def describe_duration(seconds: float) -> str:
    """A duration as a person reads it: "4.2 s", "12 min 05 s", "6 h 00 min"."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _size(path: Path) -> int:
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ProbeFailed("The file does not exist.") from None
    except OSError as exc:
        raise ProbeFailed("The file cannot be read.", str(exc)) from None
    if not path.is_file():
        raise ProbeFailed("This is not a file.")
    if stat.st_size == 0:
        raise ProbeFailed(
            "The file is empty (0 bytes): the recording, copy or upload did not complete. "
            "Upload the file again."
        )
    return stat.st_size


def _check_wav_header(path: Path, size: int) -> None:
    """Fail a RIFF/WAVE file whose RIFF or data chunk claims more bytes than the file holds.

    Sizes of 0 and 0xFFFFFFFF are what programs writing to a pipe leave when they cannot go back
    to fill the header in: those mean "unknown", not a lie. RF64 (WAV over 4 GiB) is left to
    ffmpeg.
    """
    with path.open("rb") as file:
        head = file.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        unknown = (0, 0xFFFFFFFF)
        (riff_size,) = struct.unpack("<I", head[4:8])
        block_align = 1
        offset = 12
        for _ in range(1000):  # a WAV has a handful of chunks; a loop guard, not a limit
            file.seek(offset)
            chunk = file.read(8)
            if len(chunk) < 8:
                break
            chunk_id, chunk_size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if chunk_id == b"fmt ":
                fmt = file.read(16)
                if len(fmt) >= 14:
                    block_align = max(1, struct.unpack("<H", fmt[12:14])[0])
            if chunk_id == b"data":
                present = size - offset - 8
                if chunk_size not in unknown and chunk_size > present + block_align:
                    raise ProbeFailed(_wav_short_reason(path, chunk_size, present))
                break
            offset += 8 + chunk_size + (chunk_size & 1)
            if offset > size:
                raise ProbeFailed(
                    "The WAV file's header is damaged: a header chunk runs past the end of the "
                    "file. It was probably cut off while being copied or uploaded."
                )
        if riff_size not in unknown and riff_size + 8 > size + 1:
            raise ProbeFailed(
                f"The WAV file is shorter than its header says ({riff_size + 8:,} bytes "
                f"declared, {size:,} present): it was probably cut off while being copied or "
                "uploaded. Upload the complete file again."
            )


def _wav_short_reason(path: Path, declared: int, present: int) -> str:
    rate = _wav_byte_rate(path)
    if rate:
        return _short_reason(declared / rate, max(0, present) / rate)
    return (
        f"The WAV file is shorter than its header says ({declared:,} bytes of audio declared, "
        f"{max(0, present):,} present): it was probably cut off while being copied or uploaded. "
        "Upload the complete file again."
    )


def _wav_byte_rate(path: Path) -> int:
    with path.open("rb") as file:
        head = file.read(4096)
    at = head.find(b"fmt ")
    if at < 0 or len(head) < at + 20:
        return 0
    return int(struct.unpack("<I", head[at + 16 : at + 20])[0])


def _check_ogg_end(path: Path, size: int) -> None:
    """Fail an Ogg file whose last page is cut short or lacks the end-of-stream mark.

    An Ogg page is at most 65,307 bytes, so the last one starts within the file's last 64 KiB.
    The capture pattern "OggS" can also occur inside a page's data, so the page that counts is
    the one whose declared length ends exactly at the end of the file.
    """
    with path.open("rb") as file:
        file.seek(max(0, size - 65_536))
        base = max(0, size - 65_536)
        tail = file.read()
    at = tail.rfind(b"OggS")
    while at >= 0:
        header_end = at + 27
        if len(tail) >= header_end and tail[at + 4] == 0:
            segments = tail[at + 26]
            if len(tail) >= header_end + segments:
                length = 27 + segments + sum(tail[header_end : header_end + segments])
                if base + at + length == size:
                    if tail[at + 5] & 0x04:  # end-of-stream flag
                        return
                    break
        at = tail.rfind(b"OggS", 0, at)
    raise ProbeFailed(
        "The Ogg file ends abruptly (its last page is incomplete or not marked as the end of the "
        "stream): it was probably cut off while being recorded, copied or uploaded. Upload the "
        "complete file again."
    )


_TIMEOUT_REASON = (
    "Reading the file took too long; it may be damaged or on a slow disk. Try again, or export "
    "the recording again as WAV, MP3 or M4A."
)


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise ProbeFailed(_TIMEOUT_REASON)
    return left


def _run(args: list[str], deadline: float) -> subprocess.CompletedProcess[bytes]:
    program = shutil.which(args[0])
    if program is None:
        raise ProbeFailed(
            f"{args[0]} (part of ffmpeg) is not installed on the server, so recordings cannot be "
            "read. An administrator needs to install ffmpeg."
        )
    try:
        return subprocess.run(
            [program, *args[1:]],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=_remaining(deadline),
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ProbeFailed(_TIMEOUT_REASON) from None


def _ffprobe(path: Path, deadline: float) -> dict[str, Any]:
    done = _run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        deadline,
    )
    message = _first_error(done.stderr)
    if done.returncode != 0:
        if "moov atom not found" in done.stderr.decode(errors="replace"):
            raise ProbeFailed(_MOOV_REASON, message)
        raise ProbeFailed(_NOT_MEDIA_REASON, message)
    try:
        report = json.loads(done.stdout or b"{}")
    except ValueError:
        raise ProbeFailed(_NOT_MEDIA_REASON, "ffprobe wrote no readable report") from None
    return report if isinstance(report, dict) else {}


def _decode(path: Path, start: float, seconds: float, deadline: float) -> tuple[int, str]:
    """Decode `seconds` of the first audio track from `start`; the samples got and ffmpeg's
    first error line."""
    command = [
        "ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-ss", f"{start:.3f}", "-i", str(path),
        "-map", "0:a:0", "-t", f"{seconds:.3f}",
        "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "pipe:1",
    ]  # fmt: skip
    done = _run(command, deadline)
    return len(done.stdout) // 2, _first_error(done.stderr)


def _decodes_at(path: Path, start: float, seconds: float, deadline: float) -> bool:
    samples, _ = _decode(path, start, seconds, deadline)
    return samples >= 0.1 * seconds * SAMPLE_RATE


def _check_decodes_from_start(path: Path, seconds: float, deadline: float) -> None:
    samples, message = _decode(path, 0.0, seconds, deadline)
    if samples > 0:
        return
    if "Decoder" in message and "not found" in message:
        raise ProbeFailed(_codec_reason("no decoder for it is installed"), message)
    if "ended prematurely" in message or "partial file" in message:
        raise ProbeFailed(
            "The file ends before its audio does: it was probably cut off while being recorded, "
            "copied or uploaded. Upload the complete file again.",
            message,
        )
    raise ProbeFailed(
        "The audio could not be decoded from the start: the file is damaged. Export the "
        "recording again, or upload the original again.",
        message,
    )


def _demuxed_seconds(path: Path, deadline: float) -> float:
    """How far the first audio track's packets actually run, read without decoding them."""
    command = [
        "ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-i", str(path),
        "-map", "0:a:0", "-c", "copy", "-f", "null", "-progress", "pipe:1", "-",
    ]  # fmt: skip
    done = _run(command, deadline)
    seconds = 0.0
    for line in done.stdout.decode(errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key == "out_time_us" and value.strip().lstrip("-").isdigit():
            seconds = max(seconds, int(value) / 1_000_000)
    return seconds


def _first_error(stderr: bytes) -> str:
    for line in stderr.decode(errors="replace").splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def _float(value: object) -> float | None:
    try:
        number = float(str(value))
    except ValueError:
        return None
    return number if number == number and number >= 0 else None  # NaN is not a duration
