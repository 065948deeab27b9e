"""A class's grades in one table: ``OUT/grades.csv`` next to the class overview (as Otter's
``final_grades.csv``), the table ``grader batch`` ends with, and its ``--format json``.

Reads the batch's ``*/result.json`` (and the roster's names); never runs checks. One row
per student: id, name, verdict, score, maximum, percent, late penalty, and the points of
every check (one column each, in spec order), with why a submission was not graded.
Student-controlled text is written so that a spreadsheet never runs it as a formula.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from grader.exports.common import number, text_cell, write_csv
from grader.results import SubmissionResult, atomic_write, read_result
from grader.spec import AssignmentSpec

GRADES_FILE = "grades.csv"


@dataclass
class StudentGrade:
    student: str
    name: str = ""
    verdict: str = "error"  # pass | fail | error | environment
    score: float | None = None
    max_score: float | None = None
    late_penalty: float = 0.0
    commits_after_deadline: int = 0
    reason: str = ""  # why it was not graded
    checks: dict[str, float | None] = field(default_factory=dict)

    @property
    def percent(self) -> float | None:
        if self.score is None or not self.max_score:
            return None
        return round(100 * self.score / self.max_score, 1)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "percent": self.percent}


def _grade(result: SubmissionResult, name: str) -> StudentGrade:
    verdict = result.verdict
    graded = verdict.graded
    return StudentGrade(
        student=result.student, name=name, verdict=verdict.value,
        score=result.score if graded else None, max_score=result.max_score,
        late_penalty=result.late_penalty,
        commits_after_deadline=result.pin.commits_after_deadline,
        reason="" if graded else result.not_graded_reason,
        checks={c.id: (c.points if graded else None) for c in result.checks},
    )  # fmt: skip


def class_grades(
    out_dir: Path, spec: AssignmentSpec | None = None
) -> tuple[list[str], list[StudentGrade]]:
    """(check ids in spec order, one grade per ``OUT/<student>/result.json``, by id)."""
    from grader.overview import load_names

    try:
        names = load_names(out_dir)
    except ValueError:
        names = {}
    columns = [c.key for c in spec.checks] if spec else []
    grades = []
    for path in sorted(Path(out_dir).glob("*/result.json")):
        try:
            result = read_result(path)
        except Exception as exc:  # one broken file is one row, never a crash
            grades.append(StudentGrade(path.parent.name, names.get(path.parent.name, ""),
                                       reason=f"result.json unreadable: {exc}"[:300]))  # fmt: skip
            continue
        for check in result.checks:
            if check.id not in columns:
                columns.append(check.id)
        grades.append(_grade(result, names.get(result.student, "")))
    return columns, grades


def grades_csv(columns: list[str], grades: list[StudentGrade]) -> str:
    header = ["student", "name", "verdict", "score", "max_score", "percent", "late_penalty",
              "commits_after_deadline", *columns, "not_graded_reason"]  # fmt: skip
    rows = [
        [
            text_cell(g.student),
            text_cell(g.name),
            g.verdict,
            number(g.score),
            number(g.max_score),
            number(g.percent),
            number(g.late_penalty),
            str(g.commits_after_deadline),
            *(number(g.checks.get(c)) for c in columns),
            text_cell(g.reason),
        ]  # fmt: skip
        for g in grades
    ]
    return write_csv(header, rows)


def write_grades_csv(out_dir: Path, spec: AssignmentSpec | None = None) -> Path:
    """Write ``OUT/grades.csv`` (atomically) from the results in ``out_dir``."""
    columns, grades = class_grades(out_dir, spec)
    return atomic_write(Path(out_dir) / GRADES_FILE, grades_csv(columns, grades), sync=False)
