"""Transcripts: WebVTT and SRT cues, and speaker-labelled turns in plain text.

Every cue or turn becomes a Segment element with its speaker and, where the file gives them,
its start and end in seconds. The text keeps what was said: timestamps, cue numbers, voice tags
and styling are removed, and the speaker is in `Element.speaker`, not in the text.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from pathlib import Path

from service.extraction.engine import (
    Block,
    Extraction,
    ExtractionFailed,
    Limits,
    OcrConfig,
    assemble,
    package_versions,
)
from service.extraction.paragraphs import classify, clean, split_paragraphs, strip_bullet

_TIME = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?"
# "Name: words", "[00:01:02] Name: words", "00:01 - Name: words", "Name (00:01:02): words".
# A label is a short name: up to five words, starting with a letter.
_TURN = re.compile(
    rf"""^\s*
    (?:[\[(]?(?P<time>{_TIME})[\])]?\s*[-–]?\s*)?
    (?P<speaker>[^\W\d_][\w.'’-]*(?:\ [\w.'’()-]+){{0,4}}?)
    (?:\s*[\[(](?P<time_after>{_TIME})[\])])?
    \s*:[ \t]+(?P<text>\S.*)$""",
    re.VERBOSE,
)
# A leading "Name:" on a subtitle cue; stricter, since cues have no document-level check.
_CUE_SPEAKER = re.compile(r"^\s*(?:-\s*)?(?P<speaker>[A-Z][\w.'’-]*(?: [\w.'’-]+){0,3}):\s+")
_TAG = re.compile(r"<[^>]*>|\{\\[^}]*\}")  # HTML-like cue tags and {\an8}-style SSA overrides

# Labels of notes and minutes, not people: "Date: 3 March", "Location: Ward 4".
# fmt: off
_NOT_SPEAKERS = frozenset({
    "date", "time", "place", "location", "site", "venue", "duration", "present", "attendees",
    "apologies", "agenda", "item", "action", "actions", "note", "notes", "subject", "re", "from",
    "to", "cc", "bcc", "title", "topic", "ref", "reference", "page", "tel", "phone", "email",
    "e-mail", "summary",
})
# fmt: on
# Plain text counts as a transcript when at least this many paragraphs, and this share of them,
# open with a speaker label used at least twice.
_MIN_TURNS = 3
_MIN_TURN_SHARE = 0.4


def read_vtt(path: Path, media_type: str, *, ocr: OcrConfig, limits: Limits) -> Extraction:
    import webvtt
    from webvtt.errors import MalformedCaptionError, MalformedFileError

    from service.extraction.plaintext import decode

    text = decode(path.read_bytes())
    try:
        captions = webvtt.from_string(text).captions
    except (MalformedFileError, MalformedCaptionError) as exc:
        raise ExtractionFailed(
            "The file is not valid WebVTT (it should start with a WEBVTT line, followed by cues "
            f"with times like 00:01:02.000 --> 00:01:05.000): {exc}."
        ) from exc
    blocks = []
    for caption in captions:
        speaker, said = caption.voice, _cue_text(caption.text)
        if speaker is None:
            speaker, said = _leading_speaker(said)
        blocks.append(
            Block(
                "Segment",
                said,
                speaker=clean(speaker) if speaker else None,
                start_time=caption.start_time.in_milliseconds() / 1000,
                end_time=caption.end_time.in_milliseconds() / 1000,
            )
        )
    return assemble(blocks, engine="webvtt-py", engine_version=package_versions("webvtt-py"))


def read_srt(path: Path, media_type: str, *, ocr: OcrConfig, limits: Limits) -> Extraction:
    import srt

    from service.extraction.plaintext import decode

    text = decode(path.read_bytes())
    blocks = []
    try:
        for subtitle in srt.parse(text):
            speaker, said = _leading_speaker(_cue_text(subtitle.content))
            blocks.append(
                Block(
                    "Segment",
                    said,
                    speaker=speaker,
                    start_time=subtitle.start.total_seconds(),
                    end_time=subtitle.end.total_seconds(),
                )
            )
    except srt.SRTParseError as exc:
        raise ExtractionFailed(
            "The file is not valid SRT (numbered cues, each with times like "
            "00:01:02,000 --> 00:01:05,000 and then its text) and could not be read."
        ) from exc
    return assemble(blocks, engine="srt", engine_version=package_versions("srt"))


def _cue_text(text: str) -> str:
    return clean(html.unescape(_TAG.sub("", text)))


def _leading_speaker(text: str) -> tuple[str | None, str]:
    match = _CUE_SPEAKER.match(text)
    if match is None:
        return None, text
    return match.group("speaker"), text[match.end() :]


def text_blocks(text: str) -> list[Block]:
    """Blocks for plain text: Segments with speakers when the text reads as a transcript,
    otherwise paragraphs classified as Title, ListItem or NarrativeText."""
    paragraphs = [p.strip("\n") for p in re.split(r"\n[ \t]*\n", _normalise(text)) if p.strip()]
    return turn_blocks(paragraphs) or _paragraph_blocks(text)


def label_turns(blocks: list[Block]) -> list[Block]:
    """For word-processor files: if the paragraphs read as a transcript, each "Name: words"
    paragraph becomes a Segment with its speaker (and time); headings, lists and tables keep
    their type. Otherwise the blocks are returned as they are."""
    speakers = _speakers([b.text for b in blocks if b.type != "Table"])
    if speakers is None:
        return blocks
    result = []
    for block in blocks:
        match = _TURN.match(block.text) if block.type != "Table" else None
        if match and _label(match.group("speaker")) in speakers:
            time = match.group("time") or match.group("time_after")
            result.append(
                Block(
                    "Segment",
                    clean(match.group("text")),
                    page=block.page,
                    speaker=clean(match.group("speaker")),
                    start_time=_seconds(time) if time else None,
                )
            )
        else:
            result.append(block)
    return result


def turn_blocks(paragraphs: list[str]) -> list[Block] | None:
    """Segments with speakers and times if these paragraphs read as a transcript ("Name: words",
    "[00:01:02] Name: words"), else None."""
    speakers = _speakers(paragraphs)
    return None if speakers is None else _transcript_blocks(paragraphs, speakers)


def _speakers(paragraphs: list[str]) -> set[str] | None:
    """The speaker labels, if enough of the paragraphs are turns to call them a transcript."""
    labels: Counter[str] = Counter()
    for paragraph in paragraphs:
        for line in paragraph.splitlines():
            match = _TURN.match(line)
            if match:
                labels[_label(match.group("speaker"))] += 1
    speakers = {
        label for label, count in labels.items() if count >= 2 and label not in _NOT_SPEAKERS
    }
    turns = sum(labels[label] for label in speakers)
    if turns >= _MIN_TURNS and turns >= _MIN_TURN_SHARE * len(paragraphs):
        return speakers
    return None


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")


def _label(speaker: str) -> str:
    return " ".join(speaker.split()).casefold()


def _paragraph_blocks(text: str) -> list[Block]:
    blocks = []
    for paragraph in split_paragraphs(text):
        cleaned = clean(paragraph)
        kind = classify(cleaned)
        blocks.append(Block(kind, strip_bullet(cleaned) if kind == "ListItem" else cleaned))
    return blocks


def _transcript_blocks(paragraphs: list[str], speakers: set[str]) -> list[Block]:
    """Each turn ("Name: words", with the lines that follow it up to the next turn or blank
    line) is a Segment; a paragraph without a label continues the current speaker's turn as a
    Segment of its own. Text before the first turn (a title, the date, who was present) stays
    ordinary paragraphs."""
    blocks: list[Block] = []
    speaker: str | None = None
    for paragraph in paragraphs:
        # Lines of this paragraph before its first turn, then the lines of each turn in it.
        unlabelled: list[str] = []
        turn_lines: list[str] = []
        for line in paragraph.splitlines():
            match = _TURN.match(line)
            if match and _label(match.group("speaker")) in speakers:
                _close_turn(blocks, turn_lines)
                _add_unlabelled(blocks, unlabelled, speaker)
                speaker = clean(match.group("speaker"))
                time = match.group("time") or match.group("time_after")
                start_time = _seconds(time) if time else None
                blocks.append(Block("Segment", "", speaker=speaker, start_time=start_time))
                turn_lines.append(match.group("text"))
            elif turn_lines:
                turn_lines.append(line)
            else:
                unlabelled.append(line)
        _close_turn(blocks, turn_lines)
        _add_unlabelled(blocks, unlabelled, speaker)
    return blocks


def _close_turn(blocks: list[Block], lines: list[str]) -> None:
    if lines:
        blocks[-1].text = clean(" ".join(lines))
        lines.clear()


def _add_unlabelled(blocks: list[Block], lines: list[str], speaker: str | None) -> None:
    if not lines:
        return
    if speaker is None:
        blocks.extend(_paragraph_blocks("\n".join(lines)))
    else:
        blocks.append(Block("Segment", clean(" ".join(lines)), speaker=speaker))
    lines.clear()


def _seconds(stamp: str) -> float:
    parts = stamp.replace(",", ".").split(":")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return seconds
