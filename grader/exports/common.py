"""Small helpers shared by the exporters."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: object) -> str:
    """A text cell that a spreadsheet will not run as a formula (OWASP CSV injection):
    a value starting with = + - @ gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def number(value: float | None) -> str:
    """Points as plain text: 2, 1.25, 0.3333 (at most 4 decimals, '.' as the separator);
    an empty cell for None."""
    if value is None:
        return ""
    text = f"{round(float(value), 4):.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def write_csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """RFC 4180 CSV text (quotes where needed, CRLF line ends, as spreadsheets expect)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()
