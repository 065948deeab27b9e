"""Decisions are data: the layered view of a graded result plus the humans' decisions.

A grading run is never changed. A reviewer's decision on one check (points within the
check's maximum, a comment for the student) is a row of its own (``Decision``); this
module folds those rows over the graded result. ``effective_result`` and
``effective_rows`` are the one place that does it: exports, the student's report, the
review desk and the course status read grades through them.

No SQLAlchemy here except inside ``effective_rows`` (which reads the gradebook).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from grader.gradebook.rows import GradeRow, result_digest
from grader.results import SubmissionResult

if TYPE_CHECKING:
    from grader.gradebook.store import Gradebook

CHECK, PAIR, REGRADE = "check", "pair", "regrade"
KINDS = (CHECK, PAIR, REGRADE)
PAIR_STATUSES = ("open", "accepted", "dismissed")
REGRADE_OUTCOMES = ("changed", "unchanged")


@dataclass
class AuditEntry:
    """One decision row: who changed which target when, from what to what, and why."""

    id: int
    assignment: str
    kind: str  # check | pair | regrade
    student: str
    target: str
    version: int
    old: dict[str, Any]
    new: dict[str, Any]
    reason: str
    who: str
    at: str
    undoes: int | None = None
    run_digest: str | None = None

    def describe(self) -> str:
        """'points 0 -> 2, comment added' style summary of the change."""
        return describe_change(self.kind, self.old, self.new)


@dataclass
class CheckDecision:
    """The current human decision on one check (the fold of its audit rows)."""

    check_id: str
    points: float | None = None  # None: the graded points stand
    comment: str = ""  # for the student
    reason: str = ""  # why (the audit log; not shown to the student)
    who: str = ""
    at: str = ""
    version: int = 0
    run_digest: str | None = None  # the grading run the decision was made on
    graded_points: float | None = None  # filled in by effective_result

    @property
    def changes_points(self) -> bool:
        return self.points is not None


@dataclass
class DecisionState:
    """A target's current state and version (0: never decided)."""

    state: dict[str, Any] = field(default_factory=dict)
    version: int = 0
    who: str = ""
    at: str = ""
    reason: str = ""
    last_id: int | None = None


def _points_text(value: Any) -> str:
    return "graded" if value is None else f"{float(value):g}"


def describe_change(kind: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    parts = []
    if kind == CHECK:
        if old.get("points") != new.get("points"):
            parts.append(
                f"points {_points_text(old.get('points'))} -> {_points_text(new.get('points'))}"
            )
        if (old.get("comment") or "") != (new.get("comment") or ""):
            parts.append("comment " + ("changed" if new.get("comment") else "removed"))
    else:
        for key in ("status", "outcome"):
            if old.get(key) != new.get(key):
                parts.append(f"{key} {old.get(key) or 'open'} -> {new.get(key) or 'open'}")
        for key in ("note", "reply"):
            if (old.get(key) or "") != (new.get(key) or ""):
                parts.append(f"{key} " + ("changed" if new.get(key) else "removed"))
    return ", ".join(parts) or "no change"


def late_share(result: SubmissionResult) -> float | None:
    """The share of the check points the late policy took from this result (0..1); None
    when it cannot be told (a late submission that earned 0 points before the penalty)."""
    raw = sum(c.points for c in result.checks)
    if raw > 0:
        return min(1.0, max(0.0, result.late_penalty / raw))
    if result.late_penalty:
        return None
    try:
        from datetime import datetime

        late = bool(result.committed_at) and datetime.fromisoformat(
            str(result.committed_at)
        ) > datetime.fromisoformat(result.deadline)
    except (TypeError, ValueError):
        late = False
    return None if late else 0.0


def effective_result(
    result: SubmissionResult, decisions: Mapping[str, CheckDecision]
) -> SubmissionResult:
    """A copy of ``result`` with the decided points of each check and the score they make
    (the late policy's share applied as graded). The graded result is left unchanged;
    each decision's ``graded_points`` is filled in."""
    layered = SubmissionResult.from_dict(json.loads(result.to_json()))
    if not decisions or result.error:
        return layered
    share = late_share(result)
    changed = False
    for check in layered.checks:
        decision = decisions.get(check.id)
        if decision is None:
            continue
        decision.graded_points = check.points
        if decision.points is not None and decision.points != check.points:
            check.points = round(min(max(decision.points, 0.0), check.max_points), 4)
            changed = True
    if changed:
        raw = sum(c.points for c in layered.checks)
        layered.late_penalty = round(raw * (share or 0.0), 4)
        layered.score = round(raw - layered.late_penalty, 4)
    return layered


def apply_to_row(row: GradeRow, decisions: Mapping[str, CheckDecision]) -> GradeRow:
    """The row with its result layered: ``result()`` gives the effective result, ``score``
    its score (a whole-assignment override still wins), ``decisions`` the decisions."""
    result = row.result()
    if result is None or not decisions:
        return dataclasses.replace(row, decisions=dict(decisions))
    layered = effective_result(result, decisions)
    text, _ = result_digest(layered)
    score = row.score if row.override is not None else layered.score
    return dataclasses.replace(
        row,
        result_json=text,
        score=score,
        late_penalty=layered.late_penalty,
        decisions=dict(decisions),
    )


def effective_rows(book: Gradebook, assignment: str) -> list[GradeRow]:
    """Every student's grade for ``assignment`` as exports and course rules must see it:
    the latest run, the per-check decisions layered on it, a whole-assignment override
    on top."""
    from grader.gradebook.review import ReviewStore

    decided = ReviewStore(book).check_decisions(assignment)
    return [apply_to_row(row, decided.get(row.student, {})) for row in book.current(assignment)]


def student_feedback(row: GradeRow) -> list[str]:
    """The per-check lines a student reads: each comment, and each changed score."""
    result = row.result()
    titles = {c.id: c.title or c.id for c in result.checks} if result else {}
    lines = []
    for check_id, decision in row.decisions.items():
        title = titles.get(check_id, check_id)
        if decision.points is not None and decision.points != decision.graded_points:
            lines.append(
                f"{title}: {_points_text(decision.graded_points)} -> "
                f"{_points_text(decision.points)} points after review"
            )
        if decision.comment:
            lines.append(f"{title}: {decision.comment}")
    return lines
