"""Cleaning paragraph text, and telling headings and list items from running text cheaply.

Cleaning uses unstructured's cleaners (cheap regular expressions) plus a few fixes they leave
out. Classification here is for text we split into paragraphs ourselves (PDF text layers, OCR
output, plain text): a handful of tests on length, punctuation, capitals and type size, where
unstructured's own classifier would run spaCy on every paragraph.
"""

from __future__ import annotations

import re
import unicodedata

from unstructured.cleaners.core import (
    clean_bullets,
    clean_extra_whitespace,
    group_broken_paragraphs,
    replace_unicode_quotes,
)
from unstructured.nlp.patterns import UNICODE_BULLETS_RE

# Typographic ligatures (U+FB00-FB06) as PDF text layers produce them. unstructured's
# clean_ligatures also rewrites æ and œ, which are letters in Danish, Norwegian or French names,
# so only the presentation forms are expanded here.
_LIGATURES = str.maketrans(
    {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"}
)
# Characters that separate words without being spaces: tab, vertical tab (Word's manual line
# break), form feed, no-break and typographic spaces, line and paragraph separators.
_SPACES = re.compile(r"[\t\x0b\x0c\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
# Other control characters (NUL, C1 controls left after replace_unicode_quotes, ...), soft
# hyphens, zero-width spaces and byte-order marks: dropped.
_INVISIBLE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\u00ad\u200b\ufeff\ufffe]")

_NUMBERED = re.compile(r"^(?:\(?\d{1,3}[.)]|\(?[a-z][.)]|\(?[ivx]{1,4}[.)])\s+\S")
_SENTENCE_END = re.compile(r"[.!?;:,…\"”’)]$")
_LETTERS = re.compile(r"[^\W\d_]")


def clean(text: str) -> str:
    """One paragraph's text, normalised to a single line.

    NFC so that composed and decomposed accents compare equal; mojibake quotes repaired; control
    and invisible characters removed; every run of whitespace (newlines included) becomes one
    space.
    """
    text = unicodedata.normalize("NFC", text)
    text = replace_unicode_quotes(text)
    text = text.translate(_LIGATURES)
    text = _SPACES.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _INVISIBLE.sub("", text)
    # clean_extra_whitespace only folds newlines and runs of plain spaces, hence the line above.
    return clean_extra_whitespace(text)


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs of free text: blank lines separate paragraphs; lines broken only for layout
    are joined, while a block of short lines (an address, a list) stays one line per item."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    return [p for p in group_broken_paragraphs(text).split("\n\n") if p.strip()]


def classify(text: str, *, larger_type: bool = False) -> str:
    """unstructured's element category for one cleaned paragraph.

    `larger_type` says the paragraph is set in larger type than the body text around it, which
    for PDF pages is the best sign of a heading.
    """
    if UNICODE_BULLETS_RE.match(text) or _NUMBERED.match(text):
        return "ListItem"
    sample = text[:500]  # enough to judge, and long paragraphs stay cheap
    letters = len(_LETTERS.findall(sample))
    if letters == 0 or letters < 0.5 * len(sample.replace(" ", "")):
        return "UncategorizedText"
    words = text.split()
    # A short line without closing punctuation, standing alone, reads as a heading; a longer
    # one needs capitals (or larger type) as well.
    if (
        len(words) <= 12
        and not _SENTENCE_END.search(text)
        and (len(words) <= 6 or larger_type or text.isupper() or _mostly_capitalised(words))
    ):
        return "Title"
    if larger_type and len(words) <= 20:
        return "Title"
    return "NarrativeText"


def strip_bullet(text: str) -> str:
    """The text of a list item without its bullet character (numbers are kept)."""
    return clean_bullets(text) if UNICODE_BULLETS_RE.match(text) else text


def _mostly_capitalised(words: list[str]) -> bool:
    # "Findings from Wave Two" is a heading; "We then met the team" is a sentence fragment.
    alphabetic = [w for w in words if w[:1].isalpha()]
    if not alphabetic:
        return False
    capitalised = sum(1 for w in alphabetic if w[:1].isupper())
    return capitalised / len(alphabetic) > 0.6
