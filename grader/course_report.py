"""The course outcome as a page (sortable, filterable, offline) and as CSV / Moodle import
files. Reads rule verdicts (``grader.rules``); never runs checks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from grader import __version__
from grader.course import Course
from grader.exports.common import number, text_cell, write_csv
from grader.rules import StudentOutcome
from grader.templating import environment

VERDICT_LABEL = {
    "pass": "pass", "fail": "fail", "not_eligible": "not eligible", "error": "not graded",
    "environment": "not graded (environment)", "missing": "missing",
}  # fmt: skip
RULE_RANK = {True: 0, None: 1, False: 2}


def _cell(outcome: StudentOutcome, assignment: str) -> dict[str, Any]:
    state = outcome.assignments.get(assignment)
    if state is None or state.result is None:
        return {"verdict": "missing", "label": "missing", "score": None, "tip": "no submission"}
    result = state.result
    tip = f"{VERDICT_LABEL.get(state.verdict, state.verdict)}"
    if result.unmet_gates:
        tip = f"not eligible: {result.unmet_gates[0].get('reason', '')}"
    elif result.error:
        tip = f"could not be graded: {result.error}"
    if state.override:
        tip += f"; override {state.override}"
    return {
        "verdict": state.verdict, "label": VERDICT_LABEL.get(state.verdict, state.verdict),
        "score": state.score, "max": state.max_score, "tip": tip[:500],
    }  # fmt: skip


def course_context(
    course: Course, outcomes: Sequence[StudentOutcome], semester: str | None = None
) -> dict[str, Any]:
    rules = [{"id": r.id, "title": r.title, "description": r.description} for r in course.rules]
    rows, data = [], []
    for outcome in outcomes:
        cells = [_cell(outcome, a.id) for a in course.assignments]
        verdicts = [
            {"word": v.word, "met": v.met, "reason": v.reason, "tip": _rule_tip(v)}
            for v in outcome.rules
        ]  # fmt: skip
        rows.append({"o": outcome, "cells": cells, "rules": verdicts})
        data.append({
            "id": outcome.student, "name": outcome.name, "outcome": outcome.outcome,
            "percent": outcome.percent,
            "assignments": [c["score"] for c in cells],
            "rules": [RULE_RANK[v["met"]] for v in verdicts],
            "text": " ".join([outcome.student, outcome.name, outcome.outcome,
                              *(v["reason"] for v in verdicts)]).lower(),
        })  # fmt: skip
    labels = sorted({o.outcome for o in outcomes})
    return {
        "course": course, "semester": semester, "rules": rules, "rows": rows,
        "assignments": [{"id": a.id, "title": a.title or a.id, "weight": a.weight}
                        for a in course.assignments],
        "outcomes": labels,
        "counts": {label: sum(o.outcome == label for o in outcomes) for label in labels},
        "data": {"rows": data}, "version": __version__,
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
    }  # fmt: skip


def _rule_tip(verdict: Any) -> str:
    lines = [f"{verdict.title}: {verdict.word}"]
    lines += [f"{'✓' if j.met else '✗' if j.met is False else '?'} {d}: {j.reason}"
              for d, j in verdict.conditions]  # fmt: skip
    return "\n".join(lines)[:1500]


def render_course(
    course: Course, outcomes: Sequence[StudentOutcome], semester: str | None = None
) -> str:
    """One self-contained HTML page (inline CSS and script, nothing from elsewhere)."""
    context = course_context(course, outcomes, semester)
    return environment().get_template("course.html.j2").render(**context)


def outcome_csv(course: Course, outcomes: Sequence[StudentOutcome]) -> str:
    """One row per student: each assignment's score and verdict, each rule, the outcome."""
    header = ["neptun", "name", "email"]
    for item in course.assignments:
        header += [f"{item.id} score", f"{item.id} max", f"{item.id} verdict"]
    header += [f"{r.id}" for r in course.rules] + [f"{r.id} reason" for r in course.rules]
    header += ["weighted_percent", "complete", "outcome"]
    out = []
    for outcome in outcomes:
        row = [outcome.student, text_cell(outcome.name), text_cell(outcome.email)]
        for item in course.assignments:
            state = outcome.assignments.get(item.id)
            row += [number(state.score) if state and state.result else "",
                    number(state.max_score) if state and state.result else "",
                    state.verdict if state else "missing"]  # fmt: skip
        row += [v.word for v in outcome.rules] + [text_cell(v.reason) for v in outcome.rules]
        row += [number(outcome.percent), "yes" if outcome.complete else "no", outcome.outcome]
        out.append(row)
    return write_csv(header, out)


def outcome_moodle(course: Course, outcomes: Sequence[StudentOutcome], item: str | None) -> str:
    """Moodle grade import CSV keyed by ID number (the Neptun code): the weighted total,
    the outcome as text, and the rules' reasons as feedback. Students with nothing graded
    are left out (an import never blanks a grade already in Moodle)."""
    name = item or course.title
    header = ["ID number", "Email address", "Full name", f"{name} total (%)",
              f"{name} outcome", f"{name} (Feedback)"]  # fmt: skip
    out = []
    for outcome in outcomes:
        if outcome.percent is None and not any(s.result for s in outcome.assignments.values()):
            continue
        feedback = "; ".join(f"{v.title}: {v.word}" + (f" ({v.reason})" if v.met is not True
                             else "") for v in outcome.rules)  # fmt: skip
        out.append([
            outcome.student, text_cell(outcome.email), text_cell(outcome.name),
            number(outcome.percent), text_cell(outcome.outcome), text_cell(feedback),
        ])  # fmt: skip
    return write_csv(header, out)
