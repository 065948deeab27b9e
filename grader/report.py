"""HTML reports from results (Jinja2, autoescaped). Reads results; never runs checks."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from grader.feedback import fix_first, uncommitted_warning
from grader.pictures import check_pictures
from grader.results import SubmissionResult
from grader.spec import AssignmentSpec
from grader.templating import environment


def github_web_url(repo: str) -> str | None:
    match = re.match(r"^(?:https?://|git@)github\.com[/:]([\w.-]+)/([\w.-]+?)(?:\.git)?/?$", repo)
    return f"https://github.com/{match.group(1)}/{match.group(2)}" if match else None


def report_context(
    result: SubmissionResult, spec: AssignmentSpec | None, review: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The template's context; ``review`` maps check ids to the reviewers' decisions (see
    ``grader.gradebook.decisions``) when ``result`` is the layered, effective result."""
    web = github_web_url(result.repo)
    counts: dict[str, int] = {}
    for check in result.checks:
        counts[check.status.value] = counts.get(check.status.value, 0) + 1
    deadlines = {m.id: spec.milestone_deadline(m.id) for m in spec.milestones} if spec else None
    return {
        "r": result,
        "spec": spec,
        "commit_url": f"{web}/commit/{result.commit}" if web and result.commit else None,
        "repo_url": web,
        "counts": counts,
        "first_fix": fix_first(result, deadlines),
        "uncommitted": uncommitted_warning(result),
        "zone": spec.timezone if spec else None,
        "pictures": check_pictures(result),
        "verdict": result.verdict.value,
        "unmet_gates": result.unmet_gates,
        "evidence_words": pin_evidence_words(result),
        "review": dict(review or {}),
    }


def pin_evidence_words(result: SubmissionResult) -> str:
    """What the pin rests on, in one sentence for the instructor."""
    pin = result.pin
    snap = pin.snapshot or {}
    if pin.mode == "worktree":
        return ""
    if pin.evidence == "ledger":
        return (
            f"the deadline snapshot: ledger entry {snap.get('seq')}, HEAD "
            f"{str(snap.get('head') or '')[:10]} observed {snap.get('observed_at')} (UTC, the "
            "grader's clock); only commits reachable from it are graded"
        )
    if pin.evidence == "github":
        return (
            "GitHub's push record (activity API): the branch head at the deadline was "
            f"{str((snap.get('github') or {}).get('head') or '')[:10]}"
        )
    return "commit dates only (written by the student's machine; no snapshot at the deadline)"


def render_report(
    result: SubmissionResult,
    spec: AssignmentSpec | None = None,
    review: Mapping[str, Any] | None = None,
) -> str:
    """One self-contained HTML page (inline CSS, no scripts from elsewhere); with
    ``review``, the reviewers' points and comments per check."""
    context = report_context(result, spec, review)
    return environment().get_template("report.html.j2").render(**context)
