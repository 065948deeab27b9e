"""The staff's pages: the class, one submission with its per-check controls, a student's
history, the review queue, a similarity pair side by side; and the decisions they post."""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, abort, flash, get_flashed_messages, redirect, request, url_for

from grader.gradebook.decisions import CHECK, PAIR
from grader.gradebook.errors import GradebookError
from grader.gradebook.review import DecisionConflict
from grader.overview import _side as side_view
from grader.report import report_context
from grader.results import Status
from grader.web.auth import login_required
from grader.web.render import current_user, desk, render

bp = Blueprint("pages", __name__)


def _who() -> str:
    user = current_user() or {}
    return str(user.get("name") or user.get("login") or "")


def _points(text: str | None) -> float | None:
    """A form's points: blank means 'the graded points stand'; a comma decimal is fine."""
    text = (text or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise GradebookError(f"points must be a number, not {text!r}") from None
    if not math.isfinite(value):
        raise GradebookError(f"points must be a number, not {text!r}")
    return value


def _version(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


def _assignment_or_404(assignment: str) -> dict[str, Any]:
    found = next((a for a in desk().assignments() if a["id"] == assignment), None)
    if found is None:
        abort(404)
    return found


def _back(default: str) -> Any:
    target = request.form.get("next") or ""
    ok = target.startswith("/") and not target.startswith("//")
    return redirect(target if ok else default)


@bp.get("/")
@login_required
def home() -> Any:
    items = desk().assignments()
    queue = desk().queue()
    return render("web/home.html.j2", assignments=items, queue=queue,
                  messages=get_flashed_messages())  # fmt: skip


@bp.get("/a/<assignment>/")
@login_required
def class_page(assignment: str) -> Any:
    info = _assignment_or_404(assignment)
    rows = desk().rows(assignment)
    regrades = desk().store.regrades(assignment)
    table = []
    for row in rows:
        result = row.result()  # parsed once per row
        manual = [c for c in result.checks if c.status == Status.MANUAL] if result else []
        table.append({
            "row": row, "verdict": result.verdict.value if result else "missing",
            "open_manual": sum(1 for c in manual if c.id not in row.decisions
                               or row.decisions[c.id].points is None),
            "decided": len(row.decisions),
            "open_regrades": sum(1 for r in regrades
                                 if r["student"] == row.student and r["status"] == "open"),
        })  # fmt: skip
    return render("web/class.html.j2", info=info, table=table, pairs=desk().pairs(assignment),
                  messages=get_flashed_messages())  # fmt: skip


def _submission(
    assignment: str, student: str, status: int = 200, conflict: dict | None = None
) -> Any:
    info = _assignment_or_404(assignment)
    row = desk().row(assignment, student)
    if row is None:
        abort(404)
    result = row.result()
    entries = desk().store.history(assignment, student=student, kind=CHECK)
    entries = [e for e in entries if e.student == student]
    versions: dict[str, int] = {}
    latest: dict[str, Any] = {}
    for e in entries:
        versions[e.target], latest[e.target] = e.version, e
    regrades = desk().store.regrades(assignment, student)
    context: dict[str, Any] = {}
    if result is not None:
        context = report_context(result, None, row.decisions)
    return render(
        "web/submission.html.j2", status=status, info=info, row=row, entries=entries,
        versions=versions, latest=latest, regrades=regrades, conflict=conflict or {},
        messages=get_flashed_messages(), **context,
    )  # fmt: skip


@bp.get("/a/<assignment>/s/<student>/")
@login_required
def submission(assignment: str, student: str) -> Any:
    return _submission(assignment, student)


@bp.post("/a/<assignment>/s/<student>/check/<check_id>")
@login_required
def decide_check(assignment: str, student: str, check_id: str) -> Any:
    form = request.form
    try:
        points = _points(form.get("points"))
        entry = desk().store.decide_check(
            assignment, student, check_id, points=points, comment=form.get("comment", ""),
            reason=form.get("reason", ""), who=_who(),
            expected_version=_version(form.get("version")),
        )  # fmt: skip
    except DecisionConflict as exc:
        conflict = {
            "check": check_id, "message": str(exc), "current": exc.current,
            "mine": {k: form.get(k, "") for k in ("points", "comment", "reason")},
        }  # fmt: skip
        return _submission(assignment, student, status=409, conflict=conflict)
    except GradebookError as exc:
        flash(f"{check_id}: not saved: {exc}")
        return redirect(url_for("pages.submission", assignment=assignment, student=student)
                        + f"#check-{check_id}")  # fmt: skip
    flash(f"{check_id}: saved decision #{entry.id} ({entry.describe()})")
    return redirect(url_for("pages.submission", assignment=assignment, student=student)
                    + f"#check-{check_id}")  # fmt: skip


@bp.post("/decisions/<int:decision_id>/undo")
@login_required
def undo(decision_id: int) -> Any:
    try:
        entry = desk().store.undo(decision_id, who=_who(), reason=request.form.get("reason", ""))
        flash(f"decision #{decision_id} undone by #{entry.id} ({entry.describe()})")
    except DecisionConflict:
        flash(f"decision #{decision_id} was not undone: a later decision changed the same "
              "item; undo that one first")  # fmt: skip
    except GradebookError as exc:
        flash(f"decision #{decision_id} was not undone: {exc}")
    return _back(url_for("pages.home"))


@bp.get("/a/<assignment>/s/<student>/history")
@login_required
def history(assignment: str, student: str) -> Any:
    info = _assignment_or_404(assignment)
    try:
        runs = desk().book.history(student, assignment)
    except GradebookError:
        abort(404)
    decisions = desk().store.history(assignment, student=student)
    row = desk().row(assignment, student)
    return render("web/history.html.j2", info=info, student=student, row=row, runs=runs,
                  decisions=decisions)  # fmt: skip


@bp.get("/queue")
@login_required
def queue() -> Any:
    assignment = request.args.get("assignment") or None
    show = request.args.get("show", "open")
    items = desk().queue(assignment)
    if show == "open":
        items = {
            "manual": [m for m in items["manual"] if m.open],
            "pairs": [p for p in items["pairs"] if p.open],
            "regrades": [r for r in items["regrades"] if r["status"] == "open"],
        }
    return render("web/queue.html.j2", items=items, show=show, assignment=assignment,
                  assignments=desk().assignments(), messages=get_flashed_messages())  # fmt: skip


def _pair_page(assignment: str, a: str, b: str, status: int = 200, conflict: dict | None = None):
    info = _assignment_or_404(assignment)
    item = desk().pair(assignment, a, b)
    if item is None:
        abort(404)
    pair = item.pair
    entries = [e for e in desk().store.history(assignment, kind=PAIR)
               if e.target == "|".join(sorted((a, b)))]  # fmt: skip
    report = desk().similarity(assignment)
    return render(
        "web/pair.html.j2", status=status, info=info, item=item, pair=pair,
        left=side_view(pair.a, pair.sources_a, pair.regions_a),
        right=side_view(pair.b, pair.sources_b, pair.regions_b),
        threshold=report.threshold if report else 0.0, title=info["title"] or assignment,
        version=item.state.version, entries=entries, conflict=conflict or {},
        messages=get_flashed_messages(),
    )  # fmt: skip


@bp.route("/a/<assignment>/pair/<a>/<b>", methods=["GET", "POST"])
@login_required
def pair(assignment: str, a: str, b: str) -> Any:
    if request.method == "GET":
        return _pair_page(assignment, a, b)
    if desk().pair(assignment, a, b) is None:
        abort(404)
    form = request.form
    try:
        entry = desk().store.decide_pair(
            assignment, a, b, status=form.get("status", ""), note=form.get("note", ""),
            who=_who(), expected_version=_version(form.get("version")),
        )  # fmt: skip
    except DecisionConflict as exc:
        conflict = {"message": str(exc), "current": exc.current,
                    "mine": {k: form.get(k, "") for k in ("status", "note")}}  # fmt: skip
        return _pair_page(assignment, a, b, status=409, conflict=conflict)
    except GradebookError as exc:
        flash(f"not saved: {exc}")
    else:
        flash(f"saved decision #{entry.id} ({entry.describe()})")
    return redirect(url_for("pages.pair", assignment=assignment, a=a, b=b))


@bp.post("/a/<assignment>/regrade/<int:request_id>")
@login_required
def answer_regrade(assignment: str, request_id: int) -> Any:
    form = request.form
    try:
        entry = desk().store.answer_regrade(
            request_id, reply=form.get("reply", ""), who=_who(),
            expected_version=_version(form.get("version")), points=_points(form.get("points")),
        )  # fmt: skip
        flash(f"regrade request #{request_id} answered (decision #{entry.id})")
    except GradebookError as exc:  # a conflict too: the reply is repeated, never lost
        flash(f"regrade request #{request_id}: not saved: {exc}. Your reply was: "
              f"{form.get('reply', '')}")  # fmt: skip
    return _back(url_for("pages.queue"))
