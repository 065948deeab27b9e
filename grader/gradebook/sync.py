"""Result files <-> gradebook: import ``OUT/*/result.json`` and compare with it."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from grader.gradebook.errors import GradebookError
from grader.gradebook.rows import GradeRow, SyncReport, result_digest
from grader.results import SubmissionResult, read_result

if TYPE_CHECKING:
    from grader.gradebook.store import Gradebook


def _stored_digest(row: GradeRow) -> str | None:
    if not row.result_json:
        return None
    return hashlib.sha256(row.result_json.encode("utf-8")).hexdigest()


def _results(out_dir: str | Path, problems: list[str]) -> list[tuple[Path, SubmissionResult]]:
    out = Path(out_dir)
    if not out.is_dir():
        raise GradebookError(f"{out}: not a folder (expected a batch output folder)")
    found = []
    for path in sorted(out.glob("*/result.json")):
        try:
            found.append((path, read_result(path)))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            problems.append(f"{path}: cannot read ({type(exc).__name__}: {exc})")
    return found


def sync_from_dir(gradebook: Gradebook, out_dir: str | Path, run_id: str = "sync") -> SyncReport:
    """Record every readable result file; files already recorded count as unchanged."""
    report = SyncReport()
    for _path, result in _results(out_dir, report.problems):
        if gradebook.record(result, team=None, run_id=run_id):
            report.imported += 1
        else:
            report.unchanged += 1
    return report


def verify_dir(gradebook: Gradebook, out_dir: str | Path) -> list[str]:
    """Each problem found: a file whose result is not the student's current run."""
    problems: list[str] = []
    current: dict[str, dict[str, GradeRow]] = {}
    for path, result in _results(out_dir, problems):
        if result.assignment not in current:
            try:
                rows = gradebook.current(result.assignment)
            except GradebookError as exc:
                problems.append(f"{path}: {exc}")
                continue
            current[result.assignment] = {r.student: r for r in rows}
        _, digest = result_digest(result)
        rows_by_student = current[result.assignment]
        row = rows_by_student.get(result.student)
        if row is not None:
            if _stored_digest(row) != digest:
                problems.append(f"{path}: {result.student}'s current run differs from the file")
            continue
        # a team unit: every member's current run must be this one
        members = [r for r in rows_by_student.values() if r.team == result.student]
        if not members:
            problems.append(f"{path}: {result.student} is not in the gradebook")
        for member in members:
            if _stored_digest(member) != digest:
                problems.append(f"{path}: {member.student}'s current run differs from the file")
    return problems
