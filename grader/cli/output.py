"""Printing results to the terminal (rich)."""

from __future__ import annotations

import os
import re

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from grader.feedback import fix_first, uncommitted_warning
from grader.results import CheckResult, Status, SubmissionResult, printable
from grader.spec import AssignmentSpec

LOG_WIDTH = 10_000  # not a terminal (a pipe, a file, a CI log): lines are never wrapped


def make_console(stderr: bool = False) -> Console:
    """Rich's layout on a terminal; elsewhere (a pipe, a file, a CI log) no wrapping at 80
    columns: tables take their natural width and lines stay whole (``COLUMNS`` still wins)."""
    probe = Console(stderr=stderr)
    if probe.is_terminal or os.environ.get("COLUMNS"):
        return Console(stderr=stderr, soft_wrap=stderr)
    return Console(stderr=stderr, width=LOG_WIDTH, soft_wrap=True)


console = make_console()
err_console = make_console(stderr=True)  # error lines stay whole (file:line key)

STYLE = {
    Status.PASS: "green",
    Status.FAIL: "red",
    Status.WARN: "yellow",
    Status.ERROR: "magenta",
    Status.MANUAL: "blue",
    Status.SKIPPED: "dim",
    Status.ENVIRONMENT: "yellow",
}


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(text: object) -> str:
    """Student text made safe for a terminal: control characters (escape sequences that
    could move the cursor, retitle the window or hide lines) and bytes that are not UTF-8
    become visible escapes (``\\x1b``). Pass it on as ``Text(...)`` or through ``escape``:
    never as Rich markup."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", printable(str(text)))


def print_result(result: SubmissionResult) -> None:
    """The result as a table; every student string as plain text (never markup)."""
    if result.error:
        console.print(Text("Could not be graded: ", style="bold red") + Text(plain(result.error)))
        return
    for gate in result.unmet_gates:  # the reason comes first
        console.print(f"[bold yellow]Not eligible:[/] {escape(plain(gate.get('title') or gate['id']))}: "
                      f"{escape(plain(gate.get('reason', '')))}")  # fmt: skip
    for anomaly in result.pin.anomalies:
        if anomaly.kind == "rewritten_after_snapshot":
            console.print(f"[bold yellow]History rewritten:[/] {escape(plain(anomaly.detail))}")
    table = Table(
        title=Text(plain(f"{result.title or result.assignment} - {result.student}")),
        title_justify="left",
    )
    table.add_column("Check")
    table.add_column("Status")
    table.add_column("Points", justify="right")
    table.add_column("Judged at")
    table.add_column("Message", overflow="fold")
    for check in result.checks:
        name = check.title or check.id
        if not check.required:
            name += " (optional)"
        table.add_row(
            Text(plain(name)),
            Text("pending" if check.pending else check.status.value, style=STYLE[check.status]),
            f"{check.points:g}/{check.max_points:g}",
            Text(plain(judged_at(result, check))),
            Text(plain(check.message)),
        )
    console.print(table)
    late = f" (late penalty {result.late_penalty:g})" if result.late_penalty else ""
    console.print(f"[bold]Score: {result.score:g} / {result.max_score:g}[/]{late}")
    if result.pin.late_note:
        console.print(f"[yellow]Late:[/] {escape(plain(result.pin.late_note))}")
    pending = result.pending_checks
    if pending:
        console.print("Not judged in this run (their points count in the maximum, not earned yet):")
        for check in pending:
            console.print(
                f"  - {escape(plain(check.title or check.id))}: judged by {escape(plain(check.pending))}"
            )
    if result.assumptions:
        console.print(f"[dim]What the grader assumes:[/] {escape(plain(result.assumptions))}")


def judged_at(result: SubmissionResult, check: CheckResult) -> str:
    """Which files a check judged: the working tree, or a commit (and for which milestone)."""
    if check.pending and not check.milestone:
        return "-"
    if check.milestone:
        at = f"{check.commit[:10]}" if check.commit else "no commit"
        return f"{check.milestone} pin {at}"
    if result.pin.mode == "worktree":
        return "working tree"
    return (check.commit or result.commit or "")[:10]


def print_next_steps(result: SubmissionResult, spec: AssignmentSpec | None = None) -> None:
    """The report's "Fix these first" list and the self-check's uncommitted-files warning,
    in the same words (``grader.feedback``); every student string escaped."""
    if result.error:
        return
    deadlines = {m.id: spec.milestone_deadline(m.id) for m in spec.milestones} if spec else None
    fixes = fix_first(result, deadlines)
    if fixes:
        console.print("[bold]Fix these first[/]")
        for number, item in enumerate(fixes, 1):
            style = "yellow" if item.missed else "red"
            console.print(
                f"{number:>3}. [{style}]{escape(plain(item.title))}[/]: {escape(plain(item.message))}"
            )
    warning = uncommitted_warning(result)
    if warning:
        console.print(f"[yellow]note[/] {escape(plain(warning))}")


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error <message>`` (escaped) to stderr; the exit to raise."""
    err_console.print(f"[red]error[/] {escape(plain(message))}")
    return typer.Exit(code)
