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


def shared_maximum(rows: Sequence[GradeRow]) -> float:
    """The one maximum an LMS column holds: the largest among the graded students (their
    maxima differ when a check does not apply to some of them, e.g. an optional notebook)."""
    return max((row.max_score for row in rows if row.score is not None), default=0.0)


def scaled_score(row: GradeRow, maximum: float) -> tuple[float | None, str]:
    """The score on the LMS column's ``maximum``: a student whose own maximum is lower is
    scaled (9.75 of 10 is 10.725 of 11: the same share), and the note says so."""
    if row.score is None or not row.max_score or row.max_score == maximum or not maximum:
        return row.score, ""
    scaled = round(row.score * maximum / row.max_score, 4)
    note = (
        f"{number(row.score)} of your {number(row.max_score)} points (a check does not apply "
        f"to your submission), scaled to {number(scaled)} of {number(maximum)}"
    )
    return scaled, note


def moodle_csv(
    rows: Sequence[GradeRow], item: str | None = None, maximum: float | None = None
) -> str:
    """Moodle grade import CSV; ``item`` is the Moodle grade item's name (default: the
    assignment title, else its id). Scores are on one ``maximum`` (default: the shared
    maximum; see ``scaled_score``)."""
    name = item or _title(rows)
    maximum = shared_maximum(rows) if maximum is None else maximum
    header = ["ID number", "Email address", "Full name", name, f"{name} (Feedback)"]
    out = []
    for row in rows:
        if row.score is None:
            continue
        score, note = scaled_score(row, maximum)
        comment = "; ".join(p for p in (note, feedback(row)) if p)
        out.append(
            [row.student, text_cell(row.email), text_cell(row.name), number(score),
             text_cell(comment)]
        )  # fmt: skip
    return write_csv(header, out)


def canvas_csv(
    rows: Sequence[GradeRow],
    assignment_name: str | None = None,
    canvas_id: str | None = None,
    points_possible: float | None = None,
) -> str:
    """Canvas gradebook import CSV with the ``Points Possible`` row (default: the shared
    maximum); a student whose own maximum is lower is scaled to it (``scaled_score``)."""
    name = assignment_name or _title(rows)
    column = f"{name} ({canvas_id})" if canvas_id else name
    max_points = shared_maximum(rows) if points_possible is None else points_possible
    header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column]
    out = [["    Points Possible", "", "", "", "", number(max_points)]]
    out += [
        [
            text_cell(row.name or row.student),
            "",
            row.student,
            text_cell(row.email),
            "",
            number(scaled_score(row, max_points)[0]),
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
