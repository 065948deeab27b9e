"""Points from check outcomes, the one maximum, and the late policy.

The maximum of a submission (``SubmissionResult.max_score``, the only one every report,
page, gradebook row and export shows) is the sum of the points of the spec's checks that
apply to it: a check skipped because there is nothing of its kind to judge (an optional
notebooks check on a repository without notebooks) does not apply and counts for nothing
either way; a check this run could not judge (``pending``: the self-check cannot see the
server, the rerun was not asked for) still counts, with no points earned yet.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta

from grader.results import CheckOutcome, CheckResult, Status
from grader.spec import LateMode, LatePolicy

EARNS_ALL = {Status.PASS, Status.WARN}


def points_for(outcome: CheckOutcome, max_points: float) -> tuple[float, float]:
    """(points, max_points) for one outcome: a check that does not apply counts for nothing
    either way; a pending one keeps its maximum and earns nothing yet."""
    if outcome.status == Status.SKIPPED:
        return 0.0, (max_points if outcome.pending else 0.0)
    if outcome.fraction is not None:
        fraction = min(1.0, max(0.0, outcome.fraction))
        if outcome.status in (Status.ERROR, Status.MANUAL):
            fraction = 0.0
    else:
        fraction = 1.0 if outcome.status in EARNS_ALL else 0.0
    return round(max_points * fraction, 4), max_points


def maximum(checks: Iterable[CheckResult]) -> float:
    """The submission's maximum: the points of the checks that apply to it."""
    return round(sum(c.max_points for c in checks), 4)


def late_fraction(policy: LatePolicy, committed_at: datetime | None, deadline: datetime) -> float:
    """The share of the score lost for lateness (0..1)."""
    if committed_at is None or committed_at <= deadline or policy.mode == LateMode.NONE:
        return 0.0
    if policy.mode == LateMode.ZERO:
        return 1.0
    unit = timedelta(hours=1) if policy.unit == "hour" else timedelta(days=1)
    started_units = math.ceil((committed_at - deadline) / unit)
    return min(policy.cap, started_units * policy.percent) / 100.0
