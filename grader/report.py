"""HTML reports from results (Jinja2, autoescaped). Reads results; never runs checks."""

from __future__ import annotations

import re
from typing import Any

from grader.results import SubmissionResult
from grader.spec import AssignmentSpec
from grader.templating import environment


def github_web_url(repo: str) -> str | None:
    match = re.match(r"^(?:https?://|git@)github\.com[/:]([\w.-]+)/([\w.-]+?)(?:\.git)?/?$", repo)
    return f"https://github.com/{match.group(1)}/{match.group(2)}" if match else None


def report_context(result: SubmissionResult, spec: AssignmentSpec | None) -> dict[str, Any]:
    web = github_web_url(result.repo)
    counts: dict[str, int] = {}
    for check in result.checks:
        counts[check.status.value] = counts.get(check.status.value, 0) + 1
    first_fix = [c for c in result.checks if c.required and c.status.blocking]
    return {
        "r": result,
        "spec": spec,
        "commit_url": f"{web}/commit/{result.commit}" if web and result.commit else None,
        "repo_url": web,
        "counts": counts,
        "first_fix": first_fix,
        "verdict": result.verdict.value,
    }


def render_report(result: SubmissionResult, spec: AssignmentSpec | None = None) -> str:
    """One self-contained HTML page (inline CSS, no scripts from elsewhere)."""
    return environment().get_template("report.html.j2").render(**report_context(result, spec))
