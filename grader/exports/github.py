"""GitHub Actions output: a Markdown job summary, workflow-command annotations, step outputs.

Reads a SubmissionResult; runs nothing. Usable outside the action (any CI that reads
GitHub's workflow commands), and by ``grader check --format github``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from grader.feedback import fix_first, uncommitted_warning
from grader.results import CheckResult, Evidence, Status, SubmissionResult

ICON = {
    Status.PASS: ":white_check_mark:",
    Status.FAIL: ":x:",
    Status.WARN: ":warning:",
    Status.ERROR: ":boom:",
    Status.MANUAL: ":eyes:",
    Status.SKIPPED: ":fast_forward:",
    Status.ENVIRONMENT: ":construction:",
}
LEVEL = {
    Status.FAIL: "error",
    Status.ERROR: "error",
    Status.WARN: "warning",
    Status.MANUAL: "notice",
    Status.ENVIRONMENT: "warning",
}
# evidence verdicts that describe something fine, not a problem to annotate
OK_VERDICTS = {
    "present", "english", "in_language", "ok", "pass", "passed", "found", "consistent",
    "skipped", "not_enough_text", "info",
}  # fmt: skip
MAX_ANNOTATIONS = 50  # GitHub shows at most 10 per step and 50 per job


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _problem_rows(check: CheckResult) -> list[Evidence]:
    return [e for e in check.evidence if e.path and e.verdict not in OK_VERDICTS]


def annotations(result: SubmissionResult, root: Path | None = None, prefix: str = "") -> list[str]:
    """`::error file=...,line=...,title=...::message` lines for what needs fixing.

    A row names a file only when that file exists under ``root`` (a missing deliverable's
    glob is no file); ``prefix`` makes paths relative to the repository root when the
    checked folder is a subfolder.
    """
    lines: list[str] = []
    if result.error:
        return [f"::error title=Could not be graded::{escape_data(result.error)}"]
    for check in result.checks:
        level = LEVEL.get(check.status)
        if level is None:
            continue
        title = escape_property(f"{check.title or check.id} ({check.status.value})")
        rows = _problem_rows(check)
        for row in rows:
            props = []
            if root is None or (root / row.path).is_file():
                props.append(f"file={escape_property(prefix + row.path)}")
                if row.line:
                    props.append(f"line={int(row.line)}")
            props.append(f"title={title}")
            message = (
                f"{row.verdict.replace('_', ' ')}: {row.detail}" if row.detail else row.verdict
            )
            lines.append(f"::{level} {','.join(props)}::{escape_data(message)}")
        if not rows:
            lines.append(f"::{level} title={title}::{escape_data(check.message)}")
    return lines[:MAX_ANNOTATIONS]


def pinned_run_warnings(result: SubmissionResult) -> list[str]:
    """What only the instructor's run at the deadline can judge."""
    pin = result.pin
    notes = []
    if pin.commits_after_deadline:
        notes.append(
            f"{pin.commits_after_deadline} commit(s) on this branch are dated after the deadline "
            f"(deadline {result.deadline}); the instructor grades the last commit before it."
        )
    kinds = sorted({a.kind for a in pin.anomalies})
    if kinds:
        notes.append(
            "Commit dates that do not add up ("
            + ", ".join(k.replace("_", " ") for k in kinds)
            + "): backdated commits are not trusted by the instructor's run."
        )
    warning = uncommitted_warning(result)
    if warning:
        notes.append(warning + ".")
    notes.append(
        "Git history and lateness are judged only by the instructor's run, which pins your "
        "repository at the deadline."
    )
    notes += [  # not judged here: their points count in the maximum, not earned yet
        f"{c.title or c.id} ({c.max_points:g} points): judged by {c.pending}"
        for c in result.pending_checks
    ]
    return notes


def step_summary(
    result: SubmissionResult,
    report_dir: str | None = None,
    milestone_deadlines: Mapping[str, datetime] | None = None,
) -> str:
    """The Markdown written to $GITHUB_STEP_SUMMARY (``milestone_deadlines``: the spec's,
    so that a milestone past its deadline is said once, as missed)."""
    title = result.title or result.assignment
    if result.error:
        return f"## {title}\n\n:boom: **Could not be graded:** {_cell(result.error, 500)}\n"
    verdict = (
        ":white_check_mark: every required check passes"
        if result.required_ok
        else ":x: some required checks fail"
    )
    out = [
        f"## {_cell(title)}",
        "",
        f"**Score: {result.score:g} / {result.max_score:g}** &nbsp; {verdict}",
        "",
    ]
    fixes = fix_first(result, milestone_deadlines)
    if fixes:
        out += ["### Fix these first", ""]
        out += [f"1. **{_cell(f.title)}**: {_cell(f.message, 300)}" for f in fixes]
        out.append("")
    out += ["| | Check | Points | Message |", "| --- | --- | ---: | --- |"]
    for check in result.checks:
        name = _cell(check.title or check.id) + ("" if check.required else " _(optional)_")
        out.append(
            f"| {ICON[check.status]} | {name} | {check.points:g} / {check.max_points:g} "
            f"| {_cell(check.message)} |"
        )
    out += ["", "### Only the instructor's pinned run can judge", ""]
    out += [f"- {_cell(note, 400)}" for note in pinned_run_warnings(result)]
    if report_dir:
        out += ["", f"The HTML report and `result.json` are in `{_cell(report_dir)}` "
                "(uploaded as the workflow artifact)."]  # fmt: skip
    return "\n".join(out) + "\n"


def step_outputs(result: SubmissionResult, report_dir: Path) -> dict[str, str]:
    return {
        "report-dir": str(report_dir),
        "score": f"{result.score:g}",
        "max-score": f"{result.max_score:g}",
        "passed": "true" if result.required_ok else "false",
    }
