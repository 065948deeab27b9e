"""The instructor's observed temperatures for the ``predictions`` check, and placeholders.

The file is CSV, ``date,observed_celsius``, with ``#`` comment lines and an optional
header. Placeholder values (a file made before the official observations exist) are
marked IN the file, and are never used for a grade:

- a comment line ``# status: placeholder`` marks every row of the file, or
- a ``status`` column marks single rows (``2020-10-28,9.6,placeholder``; any other value,
  e.g. ``official``, is a real observation).

Without real observations the accuracy part is pending. Only the demo may score against
placeholders, and only when it asks for it explicitly: ``GRADER_DEMO_PLACEHOLDERS=1``
(``examples/make_examples.py`` sets it); the result then says so.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from grader.dates import parse_date

PLACEHOLDER_OPT_IN = "GRADER_DEMO_PLACEHOLDERS"
_FILE_MARKER = re.compile(r"^#\s*status\s*[:=]\s*placeholder\b", re.IGNORECASE)


class ObservationsError(ValueError):
    pass


@dataclass
class Observations:
    """Observed values per date, and the dates whose value is only a placeholder."""

    values: dict[date, float] = field(default_factory=dict)
    placeholders: set[date] = field(default_factory=set)

    @property
    def real(self) -> dict[date, float]:
        return {d: v for d, v in self.values.items() if d not in self.placeholders}


def read_observations(path: Path) -> Observations:
    """The file's rows; raises ObservationsError naming the line that does not parse."""
    found = Observations()
    text = path.read_text(encoding="utf-8-sig")
    whole_file = False
    status_column: int | None = None
    header_seen = False
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not "".join(row).strip():
            continue
        if row[0].strip().startswith("#"):
            whole_file = whole_file or bool(_FILE_MARKER.match(",".join(row).strip()))
            continue
        day = parse_date(row[0])
        if day is None and not header_seen and not found.values:
            header_seen = True  # a header row such as 'date,observed_celsius,status'
            names = [cell.strip().lower() for cell in row]
            status_column = names.index("status") if "status" in names else None
            continue
        try:
            if day is None or len(row) < 2:
                raise ValueError
            found.values[day] = float(row[1].strip().replace(",", "."))
        except ValueError:
            raise ObservationsError(
                f"{path.name}:{number}: expected 'YYYY-MM-DD,<observed °C>', got {','.join(row)!r}"
            ) from None
        marked = status_column is not None and status_column < len(row)
        if marked and row[status_column].strip().lower() == "placeholder":
            found.placeholders.add(day)
    if whole_file:
        found.placeholders = set(found.values)
    return found


def load_observations(path: Path) -> dict[date, float]:
    """``{date: observed}`` of every row, placeholders included (see ``read_observations``)."""
    return read_observations(path).values


@dataclass
class UsableObservations:
    """What scoring may use: ``values`` (None: pending), ``state`` for the facts
    (available, pending, placeholder, placeholder-demo) and a note for the report."""

    values: dict[date, float] | None
    state: str
    note: str = ""


def usable(observations: Observations | None, name: str) -> UsableObservations:
    """The observations scoring may use: placeholders only in the demo, when opted in."""
    if observations is None:
        return UsableObservations(None, "pending")
    if not observations.placeholders:
        return UsableObservations(observations.values, "available")
    count = len(observations.placeholders)
    if os.environ.get(PLACEHOLDER_OPT_IN) == "1":
        note = (f"scored against {count} PLACEHOLDER observation(s) from {name}: demo only "
                f"({PLACEHOLDER_OPT_IN}=1), not a grade")  # fmt: skip
        return UsableObservations(observations.values, "placeholder-demo", note)
    note = (f"{name} marks {count} value(s) as placeholders: not used for scoring (replace "
            "them with the official observations)")  # fmt: skip
    real = observations.real
    return UsableObservations(real or None, "available" if real else "placeholder", note)
