"""Plain data read out of the gradebook (no SQLAlchemy here; exporters import this)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from grader.results import SubmissionResult

if TYPE_CHECKING:
    from grader.gradebook.decisions import CheckDecision


@dataclass
class OverrideInfo:
    """A manual grade set by an instructor; it replaces the graded score."""

    points: float
    reason: str
    who: str
    created_at: str


@dataclass
class GradeRow:
    """One student's effective grade for one assignment.

    ``score`` is the effective grade: the override's points when there is an override,
    else the latest run's score (late penalty already subtracted), else None (no run yet,
    or the latest run could not grade the submission: ``error`` says why). None is never
    exported as 0.
    """

    student: str
    assignment: str
    name: str = ""
    email: str = ""
    team: str | None = None
    score: float | None = None
    max_score: float = 0.0
    graded_score: float | None = None
    late_penalty: float = 0.0
    late: bool = False  # the graded commit is dated after the deadline
    commits_after_deadline: int = 0  # later commits (ignored or penalised, per the spec)
    override: OverrideInfo | None = None
    error: str | None = None
    commit: str | None = None
    committed_at: str | None = None
    graded_at: str | None = None
    run_id: str | None = None
    runs: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    result_json: str | None = field(default=None, repr=False)
    # per-check decisions layered on the result (see grader.gradebook.decisions)
    decisions: dict[str, CheckDecision] = field(default_factory=dict)

    @property
    def ungraded(self) -> bool:
        """No grade to export: never graded, or the latest run could not grade it."""
        return self.score is None

    @property
    def status(self) -> str:
        """missing (never graded), error (could not be graded), override or graded."""
        if self.override is not None:
            return "override"
        if self.runs == 0:
            return "missing"
        return "error" if self.error else "graded"

    def result(self) -> SubmissionResult | None:
        """The full result of the latest run (None when never graded)."""
        if not self.result_json:
            return None
        return SubmissionResult.from_dict(json.loads(self.result_json))


@dataclass
class HistoryEntry:
    """One grading run or one override, in the order they happened."""

    kind: str  # "run" or "override"
    at: str
    score: float | None
    max_score: float = 0.0
    late_penalty: float = 0.0
    commit: str | None = None
    run_id: str | None = None
    error: str | None = None
    reason: str = ""
    who: str = ""
    team: str | None = None


@dataclass
class SyncReport:
    """What ``Gradebook.sync_from_dir`` did."""

    imported: int = 0
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)


def result_digest(result: SubmissionResult) -> tuple[str, str]:
    """(normalised JSON, SHA-256) of a result; equal for a result and its result.json."""
    text = json.dumps(json.loads(result.to_json()), sort_keys=True, ensure_ascii=False)
    return text, hashlib.sha256(text.encode("utf-8")).hexdigest()
