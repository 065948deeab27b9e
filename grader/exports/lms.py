"""Grade tables from gradebook rows: the grader's own CSV, Moodle and Canvas imports.

Moodle (Grades > Import > CSV file): the file has one row per student. On import choose
"Identify user by": map from ``ID number`` to "ID number" (at BME the Neptun code is the
Moodle ID number) or from ``Email address`` to "Email address"; then in "Grade item
mappings" map the grade column (named after the grade item, ``<item>``) to that item and,
if wanted, ``<item> (Feedback)`` to its feedback. Students without a grade are left out
of the file, so an import never blanks a grade already in Moodle.

Canvas (Grades > Import): the layout of Canvas's own export, ``Student, ID, SIS User ID,
SIS Login ID, Section, <Assignment name (Canvas id)>`` and a second ``Points Possible``
row. ``SIS User ID`` holds the Neptun code and ``SIS Login ID`` the e-mail; ``ID``
(Canvas's internal user id) is left empty, so Canvas matches on the SIS columns. Without
a Canvas assignment id the column is just the name and Canvas creates a new assignment.
Students without a grade are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from grader.exports.common import number, text_cell, write_csv
from grader.gradebook.decisions import student_feedback

if TYPE_CHECKING:
    from grader.gradebook.rows import GradeRow

GRADES_HEADER = [
    "neptun", "name", "email", "team", "assignment", "score", "max_score", "status",
    "graded_score", "late_penalty", "late", "commits_after_deadline", "override_points",
    "override_reason", "override_by", "error", "commit", "committed_at", "graded_at", "runs",
    "checks_pass", "checks_fail", "checks_warn", "checks_error", "checks_manual",
]  # fmt: skip


def grades_csv(rows: Sequence[GradeRow]) -> str:
    """Every student's effective grade with how it came about (one row per student)."""
    out = []
    for row in rows:
        over = row.override
        out.append([
            row.student, text_cell(row.name), text_cell(row.email), text_cell(row.team),
            row.assignment, number(row.score), number(row.max_score), row.status,
            number(row.graded_score), number(row.late_penalty), "yes" if row.late else "no",
            str(row.commits_after_deadline),
            number(over.points) if over else "", text_cell(over.reason) if over else "",
            text_cell(over.who) if over else "", text_cell(row.error), row.commit or "",
            row.committed_at or "", row.graded_at or "", str(row.runs),
            *(str(row.counts.get(k, 0)) for k in ("pass", "fail", "warn", "error", "manual")),
        ])  # fmt: skip
    return write_csv(GRADES_HEADER, out)


def feedback(row: GradeRow) -> str:
    """A one-line comment for the LMS: late penalty, override reason, grading error, and
    the reviewers' per-check comments and changed points (``grader.gradebook.decisions``)."""
    parts = []
    if row.override is not None:
        parts.append(f"Grade set by {row.override.who}: {row.override.reason}")
    parts.extend(student_feedback(row))
    if row.error:
        parts.append(f"Could not be graded: {row.error}")
    if row.late_penalty:
        parts.append(f"Late penalty: -{number(row.late_penalty)} points")
    if row.counts.get("fail") or row.counts.get("error"):
        parts.append(f"{row.counts.get('fail', 0) + row.counts.get('error', 0)} check(s) failed")
    return "; ".join(parts)


def moodle_csv(rows: Sequence[GradeRow], item: str | None = None) -> str:
    """Moodle grade import CSV; ``item`` is the Moodle grade item's name (default: the
    assignment title, else its id)."""
    name = item or _title(rows)
    header = ["ID number", "Email address", "Full name", name, f"{name} (Feedback)"]
    out = [
        [
            row.student,
            text_cell(row.email),
            text_cell(row.name),
            number(row.score),
            text_cell(feedback(row)),
        ]  # fmt: skip
        for row in rows
        if row.score is not None
    ]
    return write_csv(header, out)


def canvas_csv(
    rows: Sequence[GradeRow],
    assignment_name: str | None = None,
    canvas_id: str | None = None,
    points_possible: float | None = None,
) -> str:
    """Canvas gradebook import CSV with the ``Points Possible`` row (default: the highest
    maximum among the rows)."""
    name = assignment_name or _title(rows)
    column = f"{name} ({canvas_id})" if canvas_id else name
    max_points = points_possible
    if max_points is None:
        max_points = max((row.max_score for row in rows), default=0.0)
    header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column]
    out = [["    Points Possible", "", "", "", "", number(max_points)]]
    out += [
        [
            text_cell(row.name or row.student),
            "",
            row.student,
            text_cell(row.email),
            "",
            number(row.score),
        ]  # fmt: skip
        for row in rows
        if row.score is not None
    ]
    return write_csv(header, out)


def _title(rows: Sequence[GradeRow]) -> str:
    for row in rows:
        result = row.result()
        if result is not None and result.title:
            return result.title
    return rows[0].assignment if rows else "assignment"
