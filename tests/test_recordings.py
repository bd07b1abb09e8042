"""Recordings through the API: consent-gated transcription with the real Whisper model, human
transcripts taking precedence, WebVTT, speaker assignment, de-identified audio, bad recordings."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from service.runtime import Runtime
from tests import files
from tests.conftest import Api, LiveServer
from tests.test_participants import consent, world

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("ffmpeg") is None,
    reason="needs espeak-ng and ffmpeg (make test installs them)",
)

SPEECH = (
    "The discharge team trialled the shared care record for three months. "
    "My NHS number is 943 476 5919."
)


def speak(text: str, voice: str = "en-gb") -> bytes:
    """Speech synthesised here: a 16 kHz mono WAV."""
    with tempfile.TemporaryDirectory() as tmp:
        raw, wav = Path(tmp) / "raw.wav", Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text], check=True)
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(raw), "-ar", "16000", "-ac", "1", str(wav)],
            check=True,
        )
        return wav.read_bytes()


def wait_file(api: Api, source_id: str, status: set[str], timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = api.get(f"/sources/{source_id}").json()
        recording = body["files"][0]
        if recording["extraction_status"] in status and body["status"] in ("ready", "failed"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.5)


def participant(alice: Api, scopes: str | None) -> dict:
    made = alice.post("/participants", json={"code": "P-017", "site": "RXA", "role": "clinical"})
    assert made.status_code == 201, made.text
    if scopes:
        assert consent(alice, made.json()["id"], scopes, "2024-01-10").status_code == 201
    return made.json()


@pytest.mark.slow
def test_recording_is_transcribed_once_consent_allows(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, _ = world(admin, clean, server)
    p17 = participant(alice, "archive")
    body = alice.upload(
        [("interview.wav", speak(SPEECH))], site="RXA", participants="P-017=Nurse A"
    ).json()
    held = wait_file(alice, body["id"], {"held"})
    assert "consent to transcribe from P-017" in held["files"][0]["extraction_reason"]
    assert "P-017" in held["status_reason"]

    assert (
        consent(alice, p17["id"], "archive,transcribe,share_team", "2024-02-01").status_code == 201
    )
    done = wait_file(alice, body["id"], {"complete"})
    assert done["status"] == "ready"
    text = alice.get(f"/sources/{body['id']}/text", params={"form": "identifiable"}).text.lower()
    for word in ("discharge", "shared care record", "months"):
        assert word in text, text
    doc = alice.get(
        f"/sources/{body['id']}/text", params={"form": "identifiable", "format": "json"}
    ).json()
    [part] = doc["parts"]
    assert part["engine"].startswith("faster-whisper")
    assert part["language"] == "en"
    assert part["low_confidence_segments"] >= 0
    segments = [e for e in part["elements"] if e["type"] == "Segment"]
    assert segments and all(s["start_time"] < s["end_time"] for s in segments)
    words = [w for s in segments for w in s["metadata"]["words"]]
    assert all(0 <= w["start"] <= w["end"] for w in words)
    for segment in segments:
        for word in segment["metadata"]["words"]:
            a, b = word["chars"]
            assert 0 <= a < b <= len(segment["text"])

    vtt = alice.get(f"/sources/{body['id']}/text", params={"form": "identifiable", "format": "vtt"})
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT\n\n00:00:")

    named = alice.patch(
        f"/sources/{body['id']}/segments",
        json={
            "file_id": body["files"][0]["id"],
            "first": 0,
            "last": len(segments) - 1,
            "speaker": "Nurse A",
        },
    )
    assert named.status_code == 200, named.text
    assert {e["speaker"] for e in named.json()["parts"][0]["elements"]} == {"Nurse A"}
    out_of_range = alice.patch(
        f"/sources/{body['id']}/segments",
        json={"file_id": body["files"][0]["id"], "first": 0, "last": 99, "speaker": "X"},
    )
    assert out_of_range.status_code == 422

    # A human transcript, once uploaded, becomes the source's text; both are kept.
    human = files.make_vtt([(0.0, 5.0, "Nurse A", "The discharge team trialled the record.")])
    attached = alice.http.post(
        f"/sources/{body['id']}/files",
        data={"file_kind": "transcript"},
        files=[("file", ("human.vtt", human, "text/vtt"))],
    )
    assert attached.status_code == 201, attached.text
    alice.wait(body["id"])
    default = alice.get(f"/sources/{body['id']}/text", params={"form": "identifiable"}).text
    assert default == "The discharge team trialled the record."
    machine = alice.get(
        f"/sources/{body['id']}/text",
        params={"form": "identifiable", "file_id": body["files"][0]["id"]},
    ).text
    assert "months" in machine.lower()


@pytest.mark.slow
def test_approved_recording_has_deidentified_audio(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    alice, _ = world(admin, clean, server)
    participant(alice, "archive,transcribe,share_team")
    body = alice.upload([("interview.wav", speak(SPEECH))], site="RXA", participants="P-017").json()
    wait_file(alice, body["id"], {"complete"})
    deadline = time.monotonic() + 120
    while alice.get(f"/sources/{body['id']}").json()["deid_status"] == "pending":
        assert time.monotonic() < deadline
        time.sleep(0.3)
    file_id = body["files"][0]["id"]
    url = f"/sources/{body['id']}/files/{file_id}/deidentified-audio"
    assert alice.get(url).status_code == 409  # not approved yet
    for r in alice.get(f"/sources/{body['id']}/redactions").json()["items"]:
        if r["status"] == "suggested":
            alice.patch(f"/sources/{body['id']}/redactions/{r['id']}", json={"status": "accepted"})
    # A person marks "discharge team": its words' times are where the tone must go.
    doc = alice.get(
        f"/sources/{body['id']}/text", params={"form": "identifiable", "format": "json"}
    ).json()
    [part] = doc["parts"]
    start = part["text"].lower().index("discharge team")
    marked = alice.post(
        f"/sources/{body['id']}/redactions",
        json={"file_id": file_id, "start": start, "end": start + 14, "entity_type": "ORGANISATION"},
    )
    assert marked.status_code == 201, marked.text
    [segment] = [e for e in part["elements"] if e["start"] <= start < e["end"]]
    words = [
        w
        for w in segment["metadata"]["words"]
        if segment["start"] + w["chars"][0] < start + 14
        and segment["start"] + w["chars"][1] > start
    ]
    toned = (min(w["start"] for w in words), max(w["end"] for w in words))
    assert alice.post(f"/sources/{body['id']}/redactions/approve").status_code == 200
    # The spoken NHS number, however Whisper grouped its digits, is gone from the shared text.
    shared = alice.get(f"/sources/{body['id']}/text").text
    assert "[NHS number]" in shared, shared
    assert not re.search(r"\d{3}", shared), shared
    deadline = time.monotonic() + 120
    while (audio := alice.get(url)).status_code == 409:
        assert time.monotonic() < deadline, audio.text
        time.sleep(0.3)
    assert audio.status_code == 200, audio.text
    assert audio.headers["content-type"] == "audio/ogg"
    samples = decoded(audio.content)
    original = len(speak(SPEECH)) / 32000  # 16 kHz, 16-bit mono
    assert abs(len(samples) / 32000 - original) < 0.5
    # Under the marked words: the tone (1 kHz) and nothing else.
    assert dominant_hz(samples, *toned) == pytest.approx(1000, abs=20)
    assert dominant_hz(samples, toned[1] + 0.5, toned[1] + 1.5) != pytest.approx(1000, abs=20)


def decoded(ogg: bytes) -> bytes:
    """An audio file's samples as 16 kHz mono 16-bit PCM."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audio"
        path.write_bytes(ogg)
        command = ["ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1"]
        return subprocess.run(
            [*command, "-ar", "16000", "-"], capture_output=True, check=True
        ).stdout


def dominant_hz(pcm: bytes, start: float, end: float) -> float:
    import numpy as np

    window = np.frombuffer(pcm, dtype=np.int16)[int(start * 16000) : int(end * 16000)]
    spectrum = np.abs(np.fft.rfft(window.astype(float)))
    return float(np.fft.rfftfreq(len(window), 1 / 16000)[int(np.argmax(spectrum))])


def video_only() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "video.mp4"
        source = "testsrc=duration=2:size=160x120:rate=10"
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                source,
                "-pix_fmt",
                "yuv420p",
                str(path),
            ],
            check=True,
        )
        return path.read_bytes()


BAD = {
    "empty-audio.wav": (lambda: files.make_wav(seconds=0), "contains no audio"),
    "cut-off.wav": (lambda: files.make_wav(seconds=2)[:2000], "shorter than its header says"),
    "silent-film.mp4": (video_only, "no audio track"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_recordings_fail_with_a_reason(
    admin: Api, clean: Runtime, server: LiveServer, name: str
) -> None:
    make, phrase = BAD[name]
    body = admin.upload([(name, make())], source_type="interview").json()
    done = wait_file(admin, body["id"], {"failed"})
    assert done["status"] == "failed"
    assert phrase in done["files"][0]["extraction_reason"], done
    job = admin.get(f"/jobs/{done['files'][0]['job_id']}").json()
    assert (job["status"], job["attempts"]) == ("failed", 1)


@pytest.mark.slow
def test_an_mp3_named_wav_is_transcribed_and_described(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wav, mp3 = Path(tmp) / "speech.wav", Path(tmp) / "speech.mp3"
        wav.write_bytes(speak(SPEECH))
        seconds = (wav.stat().st_size - 44) / 32000  # 16 kHz, 16-bit mono
        subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(wav), "-c:a", "libmp3lame", str(mp3)], check=True
        )
        data = mp3.read_bytes()
    body = admin.upload([("interview.wav", data)], source_type="interview").json()
    assert body["files"][0]["media_type"] == "audio/mpeg"
    done = wait_file(admin, body["id"], {"complete"})
    media = done["files"][0]["media"]
    assert (media["container"], media["codec"], media["channels"]) == ("mp3", "mp3", 1)
    assert media["duration_seconds"] == pytest.approx(seconds, abs=0.1)
    text = admin.get(f"/sources/{body['id']}/text", params={"form": "identifiable"}).text
    assert "discharge" in text.lower(), text


@pytest.mark.slow
def test_a_timed_human_transcript_s_redactions_are_toned_too(
    admin: Api, clean: Runtime, server: LiveServer
) -> None:
    """A transcriber heard a name the machine did not: redacted in the human transcript, it is
    toned in the audio over its cue's times."""
    alice, _ = world(admin, clean, server)
    participant(alice, "archive,transcribe,share_team")
    body = alice.upload([("interview.wav", speak(SPEECH))], site="RXA", participants="P-017").json()
    wait_file(alice, body["id"], {"complete"})
    human = files.make_vtt(
        [
            (0.0, 2.5, "Nurse A", "The discharge team at Ashworth trialled it."),
            (2.5, 9.0, "Nurse A", "The shared care record, for three months."),
        ]
    )
    attached = alice.http.post(
        f"/sources/{body['id']}/files",
        data={"file_kind": "transcript"},
        files=[("file", ("human.vtt", human, "text/vtt"))],
    )
    assert attached.status_code == 201, attached.text
    [human_id] = [f["id"] for f in attached.json()["files"] if f["kind"] == "transcript"]
    alice.wait(body["id"])
    deadline = time.monotonic() + 120
    while alice.get(f"/sources/{body['id']}").json()["deid_status"] == "pending":
        assert time.monotonic() < deadline
        time.sleep(0.3)
    # Only the human transcript's redaction counts: everything suggested is turned down.
    for r in alice.get(f"/sources/{body['id']}/redactions").json()["items"]:
        if r["status"] != "rejected":
            alice.patch(f"/sources/{body['id']}/redactions/{r['id']}", json={"status": "rejected"})
    text = alice.get(
        f"/sources/{body['id']}/text", params={"form": "identifiable", "file_id": human_id}
    ).text
    start = text.index("Ashworth")
    marked = alice.post(
        f"/sources/{body['id']}/redactions",
        json={"file_id": human_id, "start": start, "end": start + 8, "entity_type": "HOSPITAL"},
    )
    assert marked.status_code == 201, marked.text
    assert alice.post(f"/sources/{body['id']}/redactions/approve").status_code == 200
    url = f"/sources/{body['id']}/files/{body['files'][0]['id']}/deidentified-audio"
    deadline = time.monotonic() + 120
    while (audio := alice.get(url)).status_code == 409:
        assert time.monotonic() < deadline, audio.text
        time.sleep(0.3)
    assert audio.status_code == 200, audio.text
    samples = decoded(audio.content)
    assert dominant_hz(samples, 0.2, 2.4) == pytest.approx(1000, abs=20)
    assert dominant_hz(samples, 3.0, 5.0) != pytest.approx(1000, abs=20)
