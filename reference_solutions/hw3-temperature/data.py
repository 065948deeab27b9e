"""Load a plain daily temperature CSV: `date,mean_celsius`, one row per day.

Lines starting with '#' are comments (a synthetic file says so in one). A missing day
in the middle of the series is filled by linear interpolation between its neighbours,
so that a window of N rows always means N consecutive days.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np


class DataError(ValueError):
    """The data file cannot be used; the message names the file and the line."""


@dataclass
class DailySeries:
    dates: list[date]  # consecutive days
    values: np.ndarray  # float32 °C, one per day
    synthetic: bool  # the file is marked as synthetic data
    filled_days: int = 0  # days that were missing and interpolated

    def until(self, last: date) -> DailySeries:
        """The series cut after ``last`` (inclusive)."""
        keep = [i for i, d in enumerate(self.dates) if d <= last]
        return DailySeries(
            [self.dates[i] for i in keep], self.values[keep], self.synthetic, self.filled_days
        )


def load_daily(path: str | Path) -> DailySeries:
    """Read the CSV; raise DataError with file:line for anything malformed."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file (run download.py or synthetic.py first)")
    synthetic = False
    rows: dict[date, float] = {}
    with path.open(encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or not "".join(row).strip():
                continue
            if row[0].startswith("#"):
                synthetic = synthetic or "SYNTHETIC" in ",".join(row).upper()
                continue
            if row[0].strip().lower() == "date":
                continue  # the header
            try:
                day = date.fromisoformat(row[0].strip())
                rows[day] = float(row[1])
            except (ValueError, IndexError):
                raise DataError(
                    f"{path}:{number}: expected 'YYYY-MM-DD,<mean °C>', got {','.join(row)!r}"
                ) from None
    if len(rows) < 400:
        raise DataError(f"{path}: {len(rows)} days of data; at least 400 are needed")
    known = sorted(rows)
    dates = [known[0] + timedelta(days=n) for n in range((known[-1] - known[0]).days + 1)]
    ordinals = np.array([d.toordinal() for d in known], dtype=np.float64)
    filled = np.interp([d.toordinal() for d in dates], ordinals, [rows[d] for d in known])
    return DailySeries(dates, filled.astype(np.float32), synthetic, len(dates) - len(known))
