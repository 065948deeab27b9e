"""The batch's writes to the gradebook, when its extra is installed.

A failure there is a warning, never a stop: the result files stay the source of truth and
``grader gradebook sync`` rebuilds the gradebook from them.
"""

from __future__ import annotations

import importlib

from grader.batch.units import GradingUnit
from grader.extras import require
from grader.results import SubmissionResult
from grader.roster import Roster
from grader.spec import AssignmentSpec


class GradebookSink:
    """The gradebook, when its module is installed; a failure there is a warning, since the
    result files stay the source of truth (``grader gradebook sync`` rebuilds from them)."""

    def __init__(self, url: str, run_id: str, warnings: list[str]):
        self.url, self.run_id, self.warnings, self.book = url, run_id, warnings, None
        try:
            require("sqlalchemy", "the gradebook")
            module = importlib.import_module("grader.gradebook")
        except ImportError as exc:
            warnings.append(f"gradebook not written: {exc}")
            return
        try:
            self.book = module.Gradebook(url)
        except Exception as exc:  # noqa: BLE001 - reported, the batch goes on
            warnings.append(f"gradebook {url} not used: {type(exc).__name__}: {exc}")

    def setup(self, spec: AssignmentSpec, digest: str, roster: Roster) -> None:
        """The assignment and the roster (students, teams) before any result."""
        if self.book is None:
            return
        try:
            self.book.add_assignment(
                spec.id, title=spec.title, course=spec.course, max_points=spec.max_points,
                spec_hash=digest,
            )  # fmt: skip
            self.book.add_roster(roster.entries)
        except Exception as exc:  # noqa: BLE001
            self.warnings.append(f"gradebook {self.url}: roster not added: {exc}")

    def record(self, result: SubmissionResult, unit: GradingUnit) -> None:
        """One member's own result. Team membership comes from the roster (``setup``):
        recording with ``team=`` would credit every member with this one copy."""
        if self.book is None:
            return
        try:
            self.book.record(result, team=None, run_id=self.run_id)
        except Exception as exc:  # noqa: BLE001
            self.warnings.append(f"gradebook: {result.student} not recorded: {exc}")
