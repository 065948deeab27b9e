"""Printing results to the terminal (rich)."""

from __future__ import annotations

import re

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from grader.results import Status, SubmissionResult, printable

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
    table = Table(
        title=Text(plain(f"{result.title or result.assignment} - {result.student}")),
        title_justify="left",
    )
    table.add_column("Check")
    table.add_column("Status")
    table.add_column("Points", justify="right")
    table.add_column("Message", overflow="fold")
    for check in result.checks:
        name = check.title or check.id
        if not check.required:
            name += " (optional)"
        table.add_row(
            Text(plain(name)),
            Text(check.status.value, style=STYLE[check.status]),
            f"{check.points:g}/{check.max_points:g}",
            Text(plain(check.message)),
        )
    console.print(table)
    late = f" (late penalty {result.late_penalty:g})" if result.late_penalty else ""
    console.print(f"[bold]Score: {result.score:g} / {result.max_score:g}[/]{late}")


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error <message>`` (escaped) to stderr; the exit to raise."""
    err_console.print(f"[red]error[/] {escape(plain(message))}")
    return typer.Exit(code)
