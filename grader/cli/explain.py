"""`grader explain`: an assignment in words, for the student who is about to start it."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.markup import escape

from grader.cli import app
from grader.cli.core import SpecArg, load_or_exit
from grader.cli.output import console, fail
from grader.spec import AssignmentSpec, LateMode
from grader.timefmt import format_moment


def _local_zone(name: str | None) -> tzinfo | None:
    if name is None:
        return datetime.now().astimezone().tzinfo  # this computer's zone
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise fail(f"--tz {name!r}: not an IANA time zone (e.g. Europe/Budapest)") from None


def both_times(moment: datetime, spec: AssignmentSpec, local: tzinfo | None) -> str:
    """The moment in the course's zone, and in the student's when that differs."""
    course = f"{format_moment(moment)} {spec.timezone}"
    if local is None:
        return course
    mine = moment.astimezone(local)
    if mine.utcoffset() == moment.utcoffset() and mine.replace(tzinfo=None) == moment.replace(
        tzinfo=None
    ):
        return f"{course} (the same as your local time)"
    return f"{course} = {format_moment(mine)} your local time"


def late_words(spec: AssignmentSpec) -> str:
    late = spec.late
    if late.mode == LateMode.NONE:
        return (
            "the last commit at or before the deadline is graded; later commits are not "
            "seen (they are listed in the report)"
        )
    if late.mode == LateMode.ZERO:
        return "the latest commit is graded, but any late work scores zero"
    cutoff = f"; nothing after {format_moment(spec.cutoff_at)} is accepted" if late.cutoff else ""
    return (
        f"the latest commit is graded; each started {late.unit} late costs {late.percent:g}% "
        f"of the points (at most {late.cap:g}%){cutoff}"
    )


@app.command("explain")
def explain(
    spec_ref: SpecArg,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz",
            metavar="ZONE",
            help="your time zone (default: this computer's), e.g. Asia/Tokyo",
        ),
    ] = None,
) -> None:
    """What an assignment asks and how it is graded: the checks and their points, the
    deadline(s) in the course's time and yours, late work, and the stated assumptions."""
    spec = load_or_exit(spec_ref)
    local = _local_zone(tz)
    out = console
    out.print(f"[bold]{escape(spec.title)}[/]")
    out.print(escape(spec.course))
    out.print()
    out.print(f"[bold]Deadline[/]  {escape(both_times(spec.deadline_at, spec, local))}")
    for milestone in spec.milestones:
        when = both_times(spec.milestone_deadline(milestone.id), spec, local)
        out.print(f"[bold]Milestone {escape(milestone.id)}[/] ({escape(milestone.title)})  "
                  f"{escape(when)}")  # fmt: skip
    out.print(f"[bold]Late work[/]  {escape(late_words(spec))}")
    if spec.branch:
        out.print(f"[bold]Branch[/]  {escape(spec.branch)}")
    if spec.description:
        out.print()
        out.print("[bold]What the assignment asks, and what the grader assumes[/]")
        out.print(escape(" ".join(spec.description.split())))
    if spec.deliverables:
        out.print()
        out.print("[bold]Files to commit[/]")
        for item in spec.deliverables:
            out.print(f"  - {escape(item.description)}  [dim]({escape(', '.join(item.globs))})[/]")
    from grader.checks.registry import REGISTRY

    out.print()
    out.print(f"[bold]What is checked ({spec.max_points:g} points)[/]")
    for number, check in enumerate(spec.checks, 1):
        cls = REGISTRY.get(check.check)
        title = check.title or (cls.title if cls else check.check)
        tags = [f"{check.points:g} point{'s' if check.points != 1 else ''}"]
        tags.append("required" if check.required else "optional")
        if check.milestone:
            tags.append(f"graded at milestone {check.milestone}")
        out.print(f"{number:>3}. [bold]{escape(title)}[/] ({escape(', '.join(tags))})")
        if check.explanation:
            out.print(f"     {escape(' '.join(check.explanation.split()))}")
    out.print()
    out.print(
        f"Check your work any time: [bold]grader check {escape(spec_ref)} .[/] "
        "(the report lands in .grader/report.html)"
    )
