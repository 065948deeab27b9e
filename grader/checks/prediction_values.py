"""The values a line of text states for the target dates (used by ``prediction_sources``).

A value is a number in the plausible range, with an optional unit (``9.4``, ``9,4 fok``,
``12.1°C``, ``[12.1]celsius``, ``tensor([12.1])``, ``array([[12.1]], dtype=float32)``).
Never a value: the digits of a date (also a date written again without its year:
``2020.10.28 ... 10.28``), an index (``sample 58``, ``position 8``, ``preds[10]``), a
horizon or window (``30 days``, ``t+7``, ``window 3``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from grader.dates import find_date_matches, restated_spans


@dataclass(frozen=True)
class Wanted:
    """The dates to find, their labels and the plausible range of a value."""

    dates: tuple[date, ...]
    labels: tuple[str, ...] = ()
    min_celsius: float = -30.0
    max_celsius: float = 45.0

    def label(self, index: int) -> str:
        return self.labels[index] if self.labels else self.dates[index].isoformat()

    @property
    def years(self) -> list[int]:
        return sorted({d.year for d in self.dates})


@dataclass(frozen=True)
class Value:
    """A number read as a temperature: where it starts, its value, how it was written."""

    start: int
    value: float
    has_unit: bool
    decimals: int


NUMBER = re.compile(
    r"(?<![\w.])(?P<num>[-+−]?\d{1,3}(?:\.\d+|,\d{1,3}(?![\d,]))?)(?![\d.]*\d)"
    r"(?P<unit>\s*(?:°\s*C|℃|°|celsius|fok|degrees?(?:\s*C)?|C)(?![a-z]))?",
    re.IGNORECASE,
)
_HORIZON = re.compile(
    r"(?:\bt\s*\+\s*\d+\b)|(?:\b\d+\s*[-‑]?\s*(?:days?|weeks?|months?|napos|nap|napra|hetes|hét|"
    r"hónapos|hónap|d|w)(?![a-záéíóöőúüű]))",
    re.IGNORECASE,
)
# an index or a setting written next to its number: preds[10], sample 58, position 8, window 3
_INDEX = re.compile(
    r"(?<![\w.])[A-Za-z_][\w.]*\s?\[\s*[-+]?\d+(?:\s*[,:]\s*[-+]?\d*)*\s*\]"
    r"|(?<![\w.])(?:samples?|positions?|pos|index|idx|rows?|lines?|items?|elements?|elem|steps?|"
    r"batch(?:es)?|epochs?|window|lags?|look_?back|horizon|seq_len|units|neurons|layers?|"
    r"sor|minta|pozíció|pozicio|ablak|réteg|no\.|nr\.?)\s*[:=#]?\s*\d+(?![.,]?\d)"
    r"|#\d+(?![.,]?\d)",
    re.IGNORECASE,
)
# what wraps a value printed from an array or tensor (removed before reading a lone value)
_WRAPPER = re.compile(
    r"\b(?:dtype|device|grad_fn|requires_grad)\s*=\s*(?:<[^>]*>|'[^']*'|[\w.]+)"
    r"|\b(?:tensor|array|np\.float(?:32|64)|float(?:32|64)|torch\.\w+)\b|[\[\](),]",
    re.IGNORECASE,
)


def number_value(text: str) -> float:
    return float(text.replace("−", "-").replace(",", "."))


def decimals_of(text: str) -> int:
    """Digits after the decimal point (or comma) of a number as written."""
    match = re.search(r"[.,](\d+)", text)
    return len(match.group(1)) if match else 0


def blank(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def numbers(text: str, spans: list[tuple[int, int]], args: Wanted) -> list[Value]:
    """The plausible temperatures of ``text`` outside ``spans``, horizons and indexes."""
    blanked = blank(text, spans)
    blanked = _INDEX.sub(lambda m: " " * len(m.group(0)), blanked)
    blanked = _HORIZON.sub(lambda m: " " * len(m.group(0)), blanked)
    out = []
    for m in NUMBER.finditer(blanked):
        value = number_value(m["num"])
        if args.min_celsius <= value <= args.max_celsius:
            out.append(Value(m.start(), value, bool(m["unit"]), decimals_of(m["num"])))
    return out


def lone_value(line: str, args: Wanted) -> Value | None:
    """The one value a line consists of (``[13.3697]``, ``tensor([[9.35]])``, ``12.1 °C``)."""
    stripped = _WRAPPER.sub(" ", line).strip()
    match = NUMBER.fullmatch(stripped)
    if not stripped or match is None:
        return None
    value = number_value(match["num"])
    if not args.min_celsius <= value <= args.max_celsius:
        return None
    return Value(0, value, bool(match["unit"]), decimals_of(match["num"]))


def _pick(found: list[Value], after: int) -> Value | None:
    if not found:
        return None
    return min(found, key=lambda n: (not n.has_unit, not n.decimals, n.start < after,
                                     abs(n.start - after)))  # fmt: skip


def target_matches(text: str, args: Wanted) -> tuple[list, list]:
    """(every date match of the line, those that are target dates), by position."""
    targets = set(args.dates)
    matches = {}
    for year in args.years:
        for m in find_date_matches(text, year, prefer=targets):
            matches.setdefault(m.span, m)
    dated = sorted((m for m in matches.values() if m.value in targets), key=lambda m: m.span)
    return list(matches.values()), dated


def values_on_line(text: str, args: Wanted) -> list[tuple[date, Value]]:
    """The (target date, value) pairs a line of text states."""
    every, dated = target_matches(text, args)
    if not dated:
        return []
    spans = [m.span for m in every]
    # '2020.10.28 ... 10.28': the date written again without its year is no value
    numeric = [m.value for m in every if m.has_year and m.kind in ("ymd", "dmy")]
    spans += restated_spans(text, numeric, args.years[0]) if numeric else []
    found = numbers(text, spans, args)
    pairs = []
    for index, m in enumerate(dated):
        options = found
        end = dated[index + 1].span[0] if index + 1 < len(dated) else len(text)
        start = dated[index - 1].span[1] if index else 0
        if len(dated) > 1:  # several dates on a line: a value sits after its date, else before
            following = [n for n in found if m.span[1] <= n.start < end]
            options = following or [n for n in found if start <= n.start < m.span[0]]
        value = _pick(options, m.span[1])
        if value is not None:
            pairs.append((m.value, value))
    return pairs


def label_pattern(label: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in re.split(r"[\s_-]+", label.strip()) if w]
    return re.compile(r"(?<!\w)" + r"[\s_-]*".join(words) + r"(?!\w)", re.IGNORECASE)


# between a label and its value only separators and these words ('1 week ahead: 10.2')
_LABEL_GAP_WORDS = re.compile(
    r"\b(?:ahead|előre|prediction|predicted|forecast|előrejelzés|jóslat|becslés|value|"
    r"temp|temperature|hőmérséklet|mean|is|will be|lesz|tensor|array)\b",
    re.IGNORECASE,
)
_LABEL_GAP = re.compile(r"[\s:=|>\-–→()\[\],'\"*]*")


def label_values(line: str, labels: list[tuple[re.Pattern[str], date]], args: Wanted) -> list:
    """(date, value) for 'label: value' pairs: the value follows its label after a separator
    (``:``, ``=``, ``->``, ``|``), with nothing but words such as 'ahead' between them
    ('1 week ahead: 10.2', '| 1 week | 10.2 |')."""
    spans = [m.span for m in find_date_matches(line, args.years[0], prefer=args.dates)]
    marks = []
    for pattern, day in labels:
        for match in pattern.finditer(line):
            marks.append((match.start(), match.end(), day))
            spans.append(match.span())
    if not marks:
        return []
    found = numbers(line, spans, args)
    marks.sort()
    pairs = []
    for index, (_, end, day) in enumerate(marks):
        limit = marks[index + 1][0] if index + 1 < len(marks) else len(line)
        value = next((n for n in found if end <= n.start < limit), None)
        if value is None:
            continue
        gap = _LABEL_GAP_WORDS.sub(" ", line[end : value.start])
        if len(gap) <= 40 and _LABEL_GAP.fullmatch(gap) and re.search(r"[:=|>→]", gap):
            pairs.append((day, value))
    return pairs
