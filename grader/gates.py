"""Gates: preconditions of an assignment. An unmet gate makes the submission "not eligible"
(``Verdict.NOT_ELIGIBLE``) instead of costing points; its reason is shown first.

Two kinds, both declared in the spec:

- ``requires: [m1, m2]``: each milestone met by its own deadline, judged exactly as the
  ``milestones`` check judges it (every required check tagged with the milestone passed at
  the commit pinned at the milestone's deadline);
- ``gate: true`` on a check: that check passed (a warning counts as passed).

A gate is met (True), not met (False) or undecided (None: a check needs a human or could
not finish; a student's self-check judges milestones only inside its git repository, where
they are pinned in the local history as the instructor's run pins them). Only "not met" makes
the submission not eligible; an undecided gate is shown for a human to decide.
"""

from __future__ import annotations

from typing import Any

from grader.checks.base import CheckContext
from grader.checks.milestones import MET, NOT_MET, MilestoneSpecError, judge
from grader.results import CheckResult, Status
from grader.spec import AssignmentSpec
from grader.submission import Submission

PASSED = (Status.PASS, Status.WARN)


def _gate(kind: str, gate_id: str, title: str, met: bool | None, reason: str) -> dict[str, Any]:
    return {"id": gate_id, "kind": kind, "title": title, "met": met, "reason": reason}


def _milestone_gate(
    spec: AssignmentSpec, submission: Submission, checks: list[CheckResult], milestone: str
) -> dict[str, Any]:
    title = next((m.title for m in spec.milestones if m.id == milestone), milestone)
    deadline = spec.milestone_deadline(milestone).isoformat()
    if submission.mode == "worktree" and not submission.pin.milestones:
        return _gate(
            "milestone", milestone, title, None,
            f"judged at the last commit before {deadline}, and there is no complete git "
            "history here to find it (the instructor's pinned run judges it)",
        )  # fmt: skip
    ctx = CheckContext(
        spec=spec, check=spec.checks[0], workdir=submission.main.workdir,
        student=submission.student, repo=submission.repo, commit=submission.main.commit,
        committed_at=submission.main.committed_at, deadline=submission.main.deadline,
        pin=submission.pin, mode=submission.mode, previous=list(checks),
    )  # fmt: skip
    try:
        judgement = judge(ctx, milestone, None)
    except MilestoneSpecError as exc:  # validated up front; kept as a visible undecided gate
        return _gate("milestone", milestone, title, None, f"cannot be judged: {exc}")
    if judgement.verdict == MET:
        commit = (judgement.commit or "")[:10]
        return _gate("milestone", milestone, title, True, f"met by {deadline} (commit {commit})")
    met = False if judgement.verdict == NOT_MET else None
    words = "not met by its deadline" if met is False else "undecided"
    return _gate("milestone", milestone, title, met, f"{words} {deadline}: {judgement.reason}")


def _check_gate(result: CheckResult | None, check_id: str) -> dict[str, Any]:
    if result is None:
        return _gate("check", check_id, check_id, None, "the check did not run")
    title = result.title or result.id
    if result.status in PASSED:
        return _gate("check", check_id, title, True, f"passed: {result.message}")
    if result.status == Status.FAIL:
        return _gate("check", check_id, title, False, f"check {title!r} failed: {result.message}")
    return _gate(
        "check", check_id, title, None, f"undecided ({result.status.value}): {result.message}"
    )


def evaluate_gates(
    spec: AssignmentSpec, submission: Submission, checks: list[CheckResult]
) -> list[dict[str, Any]]:
    """Every gate of the spec, in order: required milestones first, then gate checks."""
    gates = [_milestone_gate(spec, submission, checks, m) for m in spec.requires]
    by_id = {c.id: c for c in checks}
    gates += [_check_gate(by_id.get(c.key), c.key) for c in spec.checks if c.gate]
    return gates
