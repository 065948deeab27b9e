"""Watching a batch: an overall bar, one bar per stage (fetch, check, report) and a live
count of pass / fail / error, drawn with rich. The engine talks to a ``ProgressSink``."""

from __future__ import annotations

from typing import Any, Protocol

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from grader.batch.units import GradingUnit


class ProgressSink(Protocol):
    def start(self, units: list[GradingUnit], students: int) -> None: ...

    def probed(self, unit: GradingUnit, probe: Any) -> None: ...

    def submitted(self, unit: GradingUnit) -> None: ...

    def finished(self, unit: GradingUnit, outcome: str, cached: bool) -> None: ...

    def stop(self) -> None: ...


class NullProgress:
    """Records the events (tests and the Python API look at them); draws nothing."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def start(self, units: list[GradingUnit], students: int) -> None:
        self.events.append(("start", str(len(units))))

    def probed(self, unit: GradingUnit, probe: Any) -> None:
        self.events.append(("fetch", unit.id))

    def submitted(self, unit: GradingUnit) -> None:
        self.events.append(("submit", unit.id))

    def finished(self, unit: GradingUnit, outcome: str, cached: bool) -> None:
        self.events.append(("cached" if cached else "done", f"{unit.id}:{outcome}"))

    def stop(self) -> None:
        self.events.append(("stop", ""))


class RichProgress:
    """Bars on the terminal: 'all' (units done, with pass/fail/error/cached counts), then
    'fetch' (repositories probed), 'check' (units graded by workers) and 'report' (results
    written). Cached units skip check and report."""

    def __init__(self, console: Console | None = None):
        self.progress = Progress(
            TextColumn("{task.fields[stage]:>6}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.counts = {"pass": 0, "fail": 0, "error": 0, "cached": 0}
        self.tasks: dict[str, TaskID] = {}
        self.running = 0

    def _line(self) -> str:
        c = self.counts
        return (
            f"students: [green]{c['pass']} pass[/] [red]{c['fail']} fail[/] "
            f"[magenta]{c['error']} error[/]; units: [dim]{c['cached']} cached[/]"
        )

    def start(self, units: list[GradingUnit], students: int) -> None:
        total = len(units)
        self.progress.start()
        self.tasks["all"] = self.progress.add_task(self._line(), total=total, stage="all")
        self.tasks["fetch"] = self.progress.add_task("", total=total, stage="fetch")
        self.tasks["check"] = self.progress.add_task("", total=total, stage="check")
        self.tasks["report"] = self.progress.add_task("", total=total, stage="report")

    def probed(self, unit: GradingUnit, probe: Any) -> None:
        note = f"{unit.id}: {probe.state}" + (
            f" after {probe.tries} tries" if probe.tries > 1 else ""
        )
        self.progress.update(self.tasks["fetch"], advance=1, description=note)

    def submitted(self, unit: GradingUnit) -> None:
        self.running += 1
        self.progress.update(self.tasks["check"], description=f"{self.running} queued or running")

    def finished(self, unit: GradingUnit, outcome: str, cached: bool) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + len(unit.members)
        if cached:
            self.counts["cached"] += 1
            for stage in ("check", "report"):
                self.progress.update(self.tasks[stage], total=self.progress.tasks[self.tasks[stage]].total - 1)  # fmt: skip
        else:
            self.running -= 1
            self.progress.update(
                self.tasks["check"], advance=1, description=f"{self.running} queued or running"
            )
            self.progress.update(self.tasks["report"], advance=1, description=unit.label)
        self.progress.update(self.tasks["all"], advance=1, description=self._line())

    def stop(self) -> None:
        self.progress.stop()


class LineProgress:
    """One whole line per finished unit, for logs (CI, a pipe, a file) where bars would be
    redrawn or cut: ``[12/40] S012XZ (Student 12): pass (cached)``."""

    def __init__(self, console: Console):
        self.console = console
        self.total = 0
        self.done = 0

    def start(self, units: list[GradingUnit], students: int) -> None:
        self.total = len(units)
        self.console.print(f"grading {students} student(s) in {self.total} unit(s)")

    def probed(self, unit: GradingUnit, probe: Any) -> None:
        if probe.tries > 1:
            self.console.print(
                f"fetch {escape(unit.label)}: {escape(str(probe.state))} after {probe.tries} tries"
            )

    def submitted(self, unit: GradingUnit) -> None:
        pass

    def finished(self, unit: GradingUnit, outcome: str, cached: bool) -> None:
        self.done += 1
        note = " (cached)" if cached else ""
        line = f"\\[{self.done}/{self.total}] {escape(unit.label)}: {outcome}{note}"
        self.console.print(line, highlight=False)

    def stop(self) -> None:
        pass
