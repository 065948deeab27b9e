"""Printing results to the terminal (rich)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader.results import CheckResult, Status, SubmissionResult

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # error lines stay whole (file:line key)

STYLE = {
    Status.PASS: "green",
    Status.FAIL: "red",
    Status.WARN: "yellow",
    Status.ERROR: "magenta",
    Status.MANUAL: "blue",
    Status.SKIPPED: "dim",
    Status.ENVIRONMENT: "yellow",
}


def print_result(result: SubmissionResult) -> None:
    if result.error:
        console.print(f"[bold red]Could not be graded:[/] {result.error}", markup=True)
        return
    table = Table(
        title=f"{result.title or result.assignment} - {result.student}", title_justify="left"
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
            escape(name),
            f"[{STYLE[check.status]}]{'pending' if check.pending else check.status.value}[/]",
            f"{check.points:g}/{check.max_points:g}",
            escape(judged_at(result, check)),
            escape(check.message),
        )
    console.print(table)
    late = f" (late penalty {result.late_penalty:g})" if result.late_penalty else ""
    console.print(f"[bold]Score: {result.score:g} / {result.max_score:g}[/]{late}")
    if result.pin.late_note:
        console.print(f"[yellow]Late:[/] {escape(result.pin.late_note)}")
    pending = result.pending_checks
    if pending:
        console.print("Not judged in this run (their points count in the maximum, not earned yet):")
        for check in pending:
            console.print(
                f"  - {escape(check.title or check.id)}: judged by {escape(check.pending)}"
            )
    if result.assumptions:
        console.print(f"[dim]What the grader assumes:[/] {escape(result.assumptions)}")


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


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error <message>`` (escaped) to stderr; the exit to raise."""
    err_console.print(f"[red]error[/] {escape(message)}")
    return typer.Exit(code)
