"""A student's own pages, reached through their secret link: their reports with the
reviewers' points and comments, and their regrade requests (open one, read the answer).
No login; the link is the key, and it shows nothing of anyone else."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, get_flashed_messages, redirect, request, url_for

from grader.gradebook.errors import GradebookError
from grader.report import report_context
from grader.web.render import desk, render

bp = Blueprint("students", __name__)


def _student(token: str) -> str:
    student = desk().store.student_for_token(token)
    if student is None:
        abort(404)
    return student


@bp.get("/s/<token>/")
def home(token: str) -> Any:
    student = _student(token)
    items = []
    for assignment in desk().store.assignments_of(student):
        row = desk().row(assignment, student)
        if row is not None:
            items.append({"id": assignment, "row": row})
    return render("web/student_home.html.j2", token=token, student=student, items=items)


@bp.get("/s/<token>/<assignment>")
def report(token: str, assignment: str) -> Any:
    student = _student(token)
    if assignment not in desk().store.assignments_of(student):
        abort(404)
    row = desk().row(assignment, student)
    result = row.result() if row else None
    if row is None or result is None:
        abort(404)
    context = report_context(result, None, row.decisions)
    requests = desk().store.regrades(assignment, student)
    return render(
        "web/student_report.html.j2", token=token, student=student, assignment=assignment,
        row=row, requests=requests, messages=get_flashed_messages(), **context,
    )  # fmt: skip


@bp.post("/s/<token>/<assignment>/regrade")
def regrade(token: str, assignment: str) -> Any:
    student = _student(token)
    if assignment not in desk().store.assignments_of(student):
        abort(404)
    try:
        number = desk().store.open_regrade(
            assignment, student, request.form.get("message", ""), request.form.get("check", "")
        )
        flash(f"Your regrade request #{number} was sent; the answer will appear on this page.")
    except GradebookError as exc:
        flash(f"Not sent: {exc}")
    return redirect(url_for("students.report", token=token, assignment=assignment))
