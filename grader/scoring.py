"""Points from check outcomes, and the late policy."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from grader.results import CheckOutcome, Status
from grader.spec import LateMode, LatePolicy

EARNS_ALL = {Status.PASS, Status.WARN}


def points_for(outcome: CheckOutcome, max_points: float) -> tuple[float, float]:
    """(points, max_points) for one outcome; skipped checks count for nothing either way."""
    if outcome.status == Status.SKIPPED:
        return 0.0, 0.0
    if outcome.fraction is not None:
        fraction = min(1.0, max(0.0, outcome.fraction))
        if outcome.status in (Status.ERROR, Status.MANUAL):
            fraction = 0.0
    else:
        fraction = 1.0 if outcome.status in EARNS_ALL else 0.0
    return round(max_points * fraction, 4), max_points


def late_fraction(policy: LatePolicy, committed_at: datetime | None, deadline: datetime) -> float:
    """The share of the score lost for lateness (0..1)."""
    if committed_at is None or committed_at <= deadline or policy.mode == LateMode.NONE:
        return 0.0
    if policy.mode == LateMode.ZERO:
        return 1.0
    unit = timedelta(hours=1) if policy.unit == "hour" else timedelta(days=1)
    started_units = math.ceil((committed_at - deadline) / unit)
    return min(policy.cap, started_units * policy.percent) / 100.0
