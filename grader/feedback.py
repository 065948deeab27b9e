"""What a student should do next, worded once for every front door (HTML report, terminal,
GitHub job summary): the "Fix these first" list and the self-check's warnings.

Reads results only. A milestone that cannot be fixed any more (its deadline has passed:
it is judged at the last commit before it) is one item, said as missed, not one item per
check tagged with it plus one for the ``milestones`` check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from grader.results import CheckResult, SubmissionResult
from grader.timefmt import format_moment, parse_moment

MAX_NAMED_FILES = 5


@dataclass
class FixItem:
    title: str
    message: str
    anchor: str  # the check id the report links to
    missed: bool = False  # a milestone past its deadline: nothing to fix, only to know
    checks: list[str] = field(default_factory=list)


def _milestone_deadlines(
    result: SubmissionResult, deadlines: Mapping[str, datetime | str] | None
) -> dict[str, datetime]:
    found: dict[str, datetime] = {}
    for mid, info in result.pin.milestones.items():
        moment = parse_moment(info.get("deadline")) if isinstance(info, Mapping) else None
        if moment is not None:
            found[mid] = moment
    for mid, value in (deadlines or {}).items():
        moment = parse_moment(value)
        if moment is not None:
            found.setdefault(mid, moment)
    return found


def _missed_milestone(
    result: SubmissionResult, milestone: str, deadline: datetime | None, now: datetime
) -> bool:
    if result.pin.mode != "worktree":
        return True  # graded at the milestone's own pinned commit: final
    return deadline is not None and deadline.tzinfo is not None and now > deadline


def fix_first(
    result: SubmissionResult,
    milestone_deadlines: Mapping[str, datetime | str] | None = None,
    now: datetime | None = None,
) -> list[FixItem]:
    """Required checks that fail, in spec order; a missed milestone once, as missed."""
    now = now or datetime.now(UTC)
    deadlines = _milestone_deadlines(result, milestone_deadlines)
    blocking = [c for c in result.checks if c.required and c.status.blocking]
    by_milestone: dict[str, list[CheckResult]] = {}
    for check in blocking:
        if check.milestone:
            by_milestone.setdefault(check.milestone, []).append(check)
    missed = {m for m in by_milestone if _missed_milestone(result, m, deadlines.get(m), now)}
    items: list[FixItem] = []
    said: set[str] = set()
    for check in blocking:
        milestone = check.milestone
        if milestone in missed:
            if milestone in said:
                continue
            said.add(milestone)
            items.append(_missed_item(result, milestone, by_milestone[milestone], deadlines))
        elif check.check == "milestones" and _covered(check, missed):
            continue
        else:
            items.append(FixItem(check.title or check.id, check.message, check.id))
    return items


def _covered(check: CheckResult, missed: set[str]) -> bool:
    """Whether every milestone the ``milestones`` check found not met is already listed."""
    judged = check.facts.get("milestones") if isinstance(check.facts, Mapping) else None
    if not isinstance(judged, Mapping) or not missed:
        return False
    unmet = {m for m, info in judged.items() if isinstance(info, Mapping)
             and info.get("verdict") != "met"}  # fmt: skip
    return bool(unmet) and unmet <= missed


def _missed_item(
    result: SubmissionResult, milestone: str, checks: list[CheckResult],
    deadlines: Mapping[str, datetime],
) -> FixItem:  # fmt: skip
    names = ", ".join(c.title or c.id for c in checks)
    deadline = deadlines.get(milestone)
    when = f" {format_moment(deadline)}" if deadline else ""
    if result.pin.mode == "worktree":
        message = (
            f"its deadline{when} has passed and here {names} "
            f"{'does' if len(checks) == 1 else 'do'} not pass; the instructor's run judges "
            "it at the last commit before that deadline, so nothing changed now counts for it"
        )
    else:
        message = f"{names} did not pass at the last commit before its deadline{when}"
    return FixItem(f"Milestone {milestone} missed", message, checks[0].id, True,
                   [c.id for c in checks])  # fmt: skip


def uncommitted_warning(result: SubmissionResult) -> str | None:
    """The self-check's "N uncommitted files here will not be seen by the pinned run"."""
    files = result.pin.uncommitted if result.pin.mode == "worktree" else []
    if not files:
        return None
    count = len(files)
    named = ", ".join(files[:MAX_NAMED_FILES]) + (", ..." if count > MAX_NAMED_FILES else "")
    noun = "file" if count == 1 else "files"
    return f"{count} uncommitted {noun} here will not be seen by the pinned run: {named}"
