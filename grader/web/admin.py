"""Instructors only: course rules (the queue's similarity threshold), exports, whole
grades, students' secret links and imported regrade requests. Assistants get 403."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    get_flashed_messages,
    redirect,
    request,
    url_for,
)

from grader.exports import canvas_csv, grades_csv, junit_xml, moodle_csv
from grader.gradebook.errors import GradebookError
from grader.web.auth import instructor_required
from grader.web.render import current_user, desk, render

bp = Blueprint("admin", __name__)
EXPORTS = {
    "grades.csv": "the grader's CSV of effective grades",
    "moodle.csv": "Moodle grade import (ID number = Neptun code, with the feedback column)",
    "canvas.csv": "Canvas gradebook import",
    "junit.xml": "JUnit XML",
}


def _assignment(assignment: str) -> dict[str, Any]:
    found = next((a for a in desk().assignments() if a["id"] == assignment), None)
    if found is None:
        abort(404)
    return found


@bp.route("/rules", methods=["GET", "POST"])
@instructor_required
def rules() -> Any:
    if request.method == "POST":
        assignment = request.form.get("assignment", "")
        _assignment(assignment)
        try:
            value = float(request.form.get("threshold", "").strip().rstrip("%")) / 100
            desk().set_threshold(assignment, value)
            flash(f"{assignment}: the queue lists pairs from {value:.0%} on")
        except ValueError as exc:
            flash(f"{assignment}: not saved: {exc}")
        return redirect(url_for("admin.rules"))
    items = [dict(a, threshold=desk().threshold(a["id"])) for a in desk().assignments()]
    return render("web/rules.html.j2", assignments=items, staff=desk().config.staff,
                  messages=get_flashed_messages())  # fmt: skip


@bp.get("/a/<assignment>/exports")
@instructor_required
def exports(assignment: str) -> Any:
    return render("web/exports.html.j2", info=_assignment(assignment), exports=EXPORTS)


@bp.get("/a/<assignment>/exports/<name>")
@instructor_required
def export(assignment: str, name: str) -> Any:
    info = _assignment(assignment)
    rows = desk().rows(assignment)
    title = info["title"] or None
    if name == "grades.csv":
        text, kind = grades_csv(rows), "text/csv"
    elif name == "moodle.csv":
        text, kind = moodle_csv(rows, title), "text/csv"
    elif name == "canvas.csv":
        text, kind = canvas_csv(rows, title, None, info["max_points"]), "text/csv"
    elif name == "junit.xml":
        results = [r for r in (row.result() for row in rows) if r is not None]
        text, kind = junit_xml(results), "application/xml"
    else:
        abort(404)
    filename = f"{assignment.replace('/', '_')}-{name}"
    return Response(
        text, mimetype=kind,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )  # fmt: skip


@bp.post("/a/<assignment>/s/<student>/override")
@instructor_required
def override(assignment: str, student: str) -> Any:
    user = current_user() or {}
    try:
        points = float(request.form.get("points", "").replace(",", "."))
        desk().book.override(student, assignment, points, request.form.get("reason", ""),
                             str(user.get("name", "")))  # fmt: skip
        flash(f"{student}: grade set to {points:g}")
    except ValueError:
        flash(f"{student}: not saved: the grade must be a number")
    except GradebookError as exc:
        flash(f"{student}: not saved: {exc}")
    return redirect(url_for("pages.submission", assignment=assignment, student=student))


@bp.route("/links", methods=["GET", "POST"])
@instructor_required
def links() -> Any:
    store = desk().store
    if request.method == "POST":
        for student in store.students():
            store.link_token(student, create=True)
        flash("every student has a secret link")
        return redirect(url_for("admin.links"))
    rows = [(s, store.link_token(s, create=False)) for s in store.students()]
    base = request.host_url.rstrip("/")
    if request.args.get("format") == "csv":
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(["neptun", "link"])
        for student, token in rows:
            if token:
                writer.writerow([student, f"{base}{url_for('students.home', token=token)}"])
        return Response(
            buffer.getvalue(),
            mimetype="text/csv",
            headers={"Content-Disposition": 'attachment; filename="links.csv"'},
        )
    return render("web/links.html.j2", rows=rows, base=base, messages=get_flashed_messages())


@bp.post("/a/<assignment>/regrades/import")
@instructor_required
def import_regrades(assignment: str) -> Any:
    _assignment(assignment)
    upload = request.files.get("file")
    raw = upload.read() if upload else request.form.get("text", "").encode()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        flash("the CSV is not UTF-8 text; save it as CSV UTF-8 and try again")
        return redirect(url_for("pages.queue", assignment=assignment))
    rows = list(csv.DictReader(io.StringIO(text)))
    added, problems = desk().store.import_regrades(rows, assignment)
    flash(f"imported {added} regrade request(s)" + (f"; {len(problems)} skipped: "
          + "; ".join(problems[:5]) if problems else ""))  # fmt: skip
    return redirect(url_for("pages.queue", assignment=assignment))
