"""Dates as students write them, in English and Hungarian.

``find_dates(text, year)`` finds every date in free text (a README line, a CSV row, a
notebook output); ``parse_date(text, year)`` reads one whole string as a date. Forms:

- with a year: ``2020-10-28``, ``2020.10.28.``, ``2020. 10. 28.``, ``2020/10/28``,
  ``28/10/2020``, ``28.10.2020``, ``28-10-2020``, ``October 28, 2020``, ``28 Oct 2020``,
  ``2020. október 28.``;
- without one (the year comes from the caller, e.g. the assignment's target dates):
  ``10.28``, ``10.28.`` (Hungarian month.day), ``28/10`` (day/month), ``Oct 28``,
  ``28 Oct``, ``28th of October``, ``okt. 28``, ``október 28-án``, ``nov. 3``.

A year-less numeric form (``10.28``, ``28/10``) is *weak*: it may as well be a number
(``9.4`` reads as September 4). ``find_dates`` drops a weak match when the same line has
a date written with a year or a month name, and, when ``prefer`` is given, when it is
not one of the preferred dates.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

Span = tuple[int, int]

_MONTH_WORDS: dict[int, tuple[str, ...]] = {
    1: ("january", "jan", "januar", "január"),
    2: ("february", "feb", "febr", "februar", "február"),
    3: ("march", "mar", "marc", "marcius", "márc", "március"),
    4: ("april", "apr", "aprilis", "ápr", "április"),
    5: ("may", "maj", "majus", "máj", "május"),
    6: ("june", "jun", "junius", "jún", "június"),
    7: ("july", "jul", "julius", "júl", "július"),
    8: ("august", "aug", "augusztus"),
    9: ("september", "sep", "sept", "szep", "szept", "szeptember"),
    10: ("october", "oct", "okt", "oktober", "október"),
    11: ("november", "nov"),
    12: ("december", "dec"),
}
MONTHS: dict[str, int] = {word: month for month, words in _MONTH_WORDS.items() for word in words}

_NAME = "|".join(sorted((re.escape(w) for w in MONTHS), key=len, reverse=True))
# a month name: whole word, optionally abbreviated with a dot
_MON = rf"(?P<mon>{_NAME})(?![a-záéíóöőúüű])\.?"
_MON2 = _MON.replace("?P<mon>", "?P<mon2>")
_LETTER_BEFORE = r"(?<![a-záéíóöőúüű0-9])"
# day suffixes: 28th, 3rd, 28-án, 28-ig, 24-i, 28.
_DSUF = r"(?:st|nd|rd|th)?(?:-(?:án|én|ára|ére|ig|i|a|e|jén|ján)(?![a-záéíóöőúüű]))?"
_YEAR = r"(?P<y>(?:19|20)\d\d)"
_NB = r"(?<![\d.])"  # not inside a longer number or date
_NB_WEAK = r"(?<![\d./\-−+])(?<!\d,)"  # nor after a sign or a decimal comma
_NA = r"(?![\d])"

_PATTERNS: list[tuple[str, str]] = [
    # 2020-10-28, 2020.10.28., 2020. 10. 28., 2020/10/28, 2020-10-28T12:00
    ("ymd", rf"{_NB}{_YEAR}(?P<s>[-./])\s?(?P<m>\d{{1,2}})(?P=s)\s?(?P<d>\d{{1,2}})\.?{_NA}"),
    # 28/10/2020, 28.10.2020, 28-10-2020
    ("dmy", rf"{_NB}(?P<d>\d{{1,2}})(?P<s>[-./])\s?(?P<m>\d{{1,2}})(?P=s)\s?{_YEAR}{_NA}"),
    # 2020. október 28., 2020 Oct 28
    ("y_mon_d", rf"{_NB}{_YEAR}\.?,?\s+{_MON}\s*(?P<d>\d{{1,2}}){_DSUF}\.?{_NA}"),
    # October 28, 2020 / Oct 28th 2020 / okt. 28 / november 24 / Oct 28
    (
        "mon_d",
        rf"{_LETTER_BEFORE}{_MON}\s*(?P<d>\d{{1,2}}){_DSUF}(?:\.|{_NA})"
        rf"(?:,?\s+{_YEAR}{_NA})?",
    ),
    # 28 Oct / 28th of October 2020 / 28. október
    (
        "d_mon",
        rf"{_NB}(?P<d>\d{{1,2}}){_DSUF}\.?\s*(?:of\s+)?{_MON2}(?:,?\s+{_YEAR}{_NA})?",
    ),
    # yearless numeric: 10.28 / 10.28. (month.day) and 28/10 (day/month) - weak
    ("md_dot", rf"{_NB_WEAK}(?P<m>\d{{1,2}})\.\s?(?P<d>\d{{1,2}})\.?{_NA}(?!\.\d)"),
    ("dm_slash", rf"{_NB_WEAK}(?P<d>\d{{1,2}})/(?P<m>\d{{1,2}}){_NA}(?!/\d)"),
]
_COMPILED = [(kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in _PATTERNS]
_WEAK = {"md_dot", "dm_slash"}

# parse_date also accepts a time after a full date, and the compact 20201028
_TIME_SUFFIX = re.compile(
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s?(?:Z|UTC|[+-]\d{2}:?\d{2}))?)?\s*$",
    re.IGNORECASE,
)
_COMPACT = re.compile(r"^((?:19|20)\d\d)(\d\d)(\d\d)$")


@dataclass(frozen=True)
class DateMatch:
    """One date found in text: where it is, how it was written, whether it had a year."""

    value: date
    span: Span
    text: str
    kind: str
    has_year: bool

    @property
    def weak(self) -> bool:
        return self.kind in _WEAK


def _month(word: str) -> int | None:
    key = unicodedata.normalize("NFC", word.lower().rstrip("."))
    return MONTHS.get(key)


def _build(match: re.Match[str], kind: str, year: int | None) -> DateMatch | None:
    groups = match.groupdict()
    given_year = groups.get("y")
    if groups.get("m"):
        month: int | None = int(groups["m"])
    else:
        month = _month(groups.get("mon") or groups.get("mon2") or "")
    if month is None:
        return None
    the_year = int(given_year) if given_year else year
    if the_year is None:
        return None
    try:
        value = date(the_year, month, int(groups["d"]))
    except ValueError:
        return None
    return DateMatch(value, match.span(), match.group(0), kind, given_year is not None)


def _candidates(line: str, year: int | None) -> list[DateMatch]:
    found: list[DateMatch] = []
    for kind, pattern in _COMPILED:
        for match in pattern.finditer(line):
            built = _build(match, kind, year)
            if built is not None:
                found.append(built)
    # longest, earliest first; drop anything overlapping a match already kept
    found.sort(key=lambda m: (-(m.span[1] - m.span[0]), m.span[0]))
    kept: list[DateMatch] = []
    for cand in found:
        if all(cand.span[1] <= k.span[0] or cand.span[0] >= k.span[1] for k in kept):
            kept.append(cand)
    return sorted(kept, key=lambda m: m.span[0])


def find_date_matches(
    text: str, year: int | None = None, prefer: Iterable[date] | None = None
) -> list[DateMatch]:
    """Every date in ``text`` with how it was written; spans index into ``text``.

    ``year`` completes year-less dates (without it they are skipped). Weak matches (a
    year-less numeric form) are dropped on a line that also has a strong date, and, when
    ``prefer`` is given, unless they are one of those dates.
    """
    preferred = set(prefer) if prefer is not None else None
    result: list[DateMatch] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        matches = _candidates(line, year)
        strong = any(not m.weak for m in matches)
        for m in matches:
            if m.weak and (strong or (preferred is not None and m.value not in preferred)):
                continue
            start, end = m.span
            result.append(
                DateMatch(m.value, (start + offset, end + offset), m.text, m.kind, m.has_year)
            )
        offset += len(line)
    return result


def restated_spans(text: str, days: Iterable[date], year: int | None = None) -> list[Span]:
    """Where ``text`` writes one of ``days`` again without its year as digits (``10.28``,
    ``28/10``): the digits of a date, never a number, even on a line that also has a full
    date (``# 2020.10.28 is sample 58 ... is 10.28``). Spans index into ``text``."""
    wanted = set(days)
    spans: list[Span] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        for kind, pattern in _COMPILED:
            if kind not in _WEAK:
                continue
            for match in pattern.finditer(line):
                built = _build(match, kind, year)
                if built is not None and built.value in wanted:
                    spans.append((match.start() + offset, match.end() + offset))
        offset += len(line)
    return spans


def find_dates(
    text: str, year: int | None = None, prefer: Iterable[date] | None = None
) -> list[tuple[date, Span]]:
    """``[(date, (start, end)), ...]`` for every date in ``text``, in order."""
    return [(m.value, m.span) for m in find_date_matches(text, year, prefer)]


def parse_date(text: str, year: int | None = None) -> date | None:
    """The date that ``text`` is, as a whole (surrounding blanks and quotes allowed).

    Without ``year`` only forms with a year count (what a data file's date column holds);
    a time after the date (``2020-10-27 13:00``, ``2020-10-27T00:00:00Z``) is allowed.
    """
    cleaned = text.strip().strip("\"'").strip()
    if not cleaned or len(cleaned) > 40:
        return None
    compact = _COMPACT.match(cleaned)
    if compact:
        try:
            return date(int(compact[1]), int(compact[2]), int(compact[3]))
        except ValueError:
            return None
    core = _TIME_SUFFIX.sub("", cleaned, count=1) if ":" in cleaned else cleaned
    for kind, pattern in _COMPILED:
        match = pattern.fullmatch(core)
        if match is None:
            continue
        built = _build(match, kind, year)
        if built is not None:
            return built.value
    return None
