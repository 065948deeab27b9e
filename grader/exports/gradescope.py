"""Gradescope autograder ``results.json`` for one submission.

Follows Gradescope's documented schema (gradescope-autograders "Autograder
Specifications"): a top-level ``score`` (it overrides the sum of the tests, so the late
penalty and any override are honoured), ``execution_time``, ``output``, ``visibility``,
``stdout_visibility``, one entry in ``tests`` per check (``score``, ``max_score``,
``status`` passed/failed, ``name``, ``number``, ``output``, ``tags``, ``visibility``)
and an optional ``leaderboard``.

Running the grader as a Gradescope autograder: the autograder zip holds the grader wheel,
the spec, ``setup.sh`` and ``run_autograder``::

    # setup.sh (runs once, when the image is built)
    apt-get install -y python3-pip git
    pip3 install /autograder/source/grader-*.whl

    # run_autograder (runs per submission)
    #!/usr/bin/env bash
    grader gradescope /autograder/source/hw3-temperature.yaml

``grader gradescope SPEC`` self-checks ``/autograder/submission`` (the student id comes
from ``submission_metadata.json``) and writes ``/autograder/results/results.json``;
Gradescope applies its own late policy, so the late penalty here is the pinned one only
when results are exported from the gradebook (``grader gradebook export --format
gradescope``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from grader.results import CheckResult, Status, SubmissionResult

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
PASSED = {Status.PASS, Status.WARN}
MAX_OUTPUT = 8000


def _clip(text: str) -> str:
    return text if len(text) <= MAX_OUTPUT else text[: MAX_OUTPUT - 20] + "\n... (truncated)"


def _test_output(check: CheckResult) -> str:
    lines = [f"{check.status.value.upper()}: {check.message}"]
    for item in check.evidence:
        where = f"{item.path}:{item.line}" if item.line else item.path
        text = " - ".join(part for part in (where, item.verdict, item.detail) if part)
        if text:
            lines.append(f"  {text}")
    if check.explanation:
        lines.append(check.explanation)
    if not check.required:
        lines.append("(optional check)")
    return _clip("\n".join(lines))


def _summary(result: SubmissionResult, score: float, note: str) -> str:
    if result.error:
        lines = [f"Could not be graded: {result.error}"]
    else:
        lines = [f"Score: {score:g} / {result.max_score:g}"]
        if result.commit:
            lines.append(f"Graded commit: {result.commit}")
        if result.late_penalty:
            lines.append(f"Late penalty: -{result.late_penalty:g}")
        blocking = [c.title or c.id for c in result.checks if c.required and c.status.blocking]
        if blocking:
            lines.append("Required checks to fix: " + ", ".join(blocking))
    if note:
        lines.append(note)
    return _clip("\n".join(lines))


def _instructor_tests(check: CheckResult, number: int, visibility: str, hidden: str) -> list:
    """One Gradescope test per instructor test of a `tests` check; hidden tests get the
    spec's visibility for them (``hidden_visibility``, default after_published)."""
    tests = []
    for index, row in enumerate(check.facts.get("tests") or [], start=1):
        if not isinstance(row, dict):
            continue
        secret = row.get("visibility") == "hidden"
        where = (row.get("where") or {}).get("label")
        lines = [f"{str(row.get('status', '')).upper()}: {row.get('message') or ''}".strip()]
        if where:
            lines.append(f"where: {where}")
        test: dict[str, Any] = {
            "score": row.get("earned", 0.0),
            "max_score": row.get("points", 0.0),
            "name": f"{check.title or check.id}: {row.get('name', '')}",
            "number": f"{number}.{index}",
            "output": _clip("\n".join(lines)),
            "tags": [t for t in (check.check, "hidden" if secret else "public") if t],
            "visibility": hidden if secret else visibility,
        }
        if row.get("status") != "pending":
            test["status"] = "passed" if row.get("status") == "passed" else "failed"
        tests.append(test)
    return tests


def gradescope_results(
    result: SubmissionResult,
    *,
    score: float | None = None,
    note: str = "",
    visibility: str = "visible",
    stdout_visibility: str = "hidden",
    execution_time: float | None = None,
    leaderboard: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The results.json object; ``score`` replaces the result's score (an override)."""
    for key, value in (("visibility", visibility), ("stdout_visibility", stdout_visibility)):
        if value not in VISIBILITIES:
            raise ValueError(f"{key} must be one of {', '.join(VISIBILITIES)}, not {value!r}")
    final = result.score if score is None else score
    tests = []
    for number, check in enumerate(result.checks, start=1):
        if check.check == "tests" and check.facts.get("tests"):
            hidden = str(check.facts.get("hidden_visibility") or "after_published")
            tests += _instructor_tests(check, number, visibility, hidden)
            continue
        test: dict[str, Any] = {
            "score": check.points,
            "max_score": check.max_points,
            "name": check.title or check.id,
            "number": str(number),
            "output": _test_output(check),
            "tags": [t for t in (check.check, check.milestone) if t],
            "visibility": visibility,
        }
        if check.status != Status.SKIPPED:  # no status: Gradescope shows it as neutral
            test["status"] = "passed" if check.status in PASSED else "failed"
        tests.append(test)
    data: dict[str, Any] = {
        "score": round(float(final), 4),
        "output": _summary(result, final, note),
        "visibility": visibility,
        "stdout_visibility": stdout_visibility,
        "tests": tests,
    }
    if execution_time is not None:
        data["execution_time"] = max(0, round(execution_time))
    if leaderboard:
        board = []
        for entry in leaderboard:
            if not isinstance(entry.get("name"), str) or "value" not in entry:
                raise ValueError(f"a leaderboard entry needs 'name' and 'value': {entry!r}")
            board.append({k: entry[k] for k in ("name", "value", "order") if k in entry})
        data["leaderboard"] = board
    return data


def gradescope_json(result: SubmissionResult, **options: Any) -> str:
    """``results.json`` text (see ``gradescope_results`` for the options)."""
    return json.dumps(gradescope_results(result, **options), indent=2, ensure_ascii=False)
