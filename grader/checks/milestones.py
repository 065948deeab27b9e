"""The ``milestones`` check: every required milestone was met by its own deadline.

It runs no check itself. It reads the results of the checks before it (``ctx.previous``):
a check tagged ``milestone: m1`` was graded at the commit pinned at M1's deadline, so its
result says whether M1's work was there in time. ``ctx.pin.milestones`` says which commit
that was, or why there was none.

A milestone is met when a commit was pinned at its deadline and each of its checks passed
(a warning counts as passed, a skipped check is left out). A failed check means it was not
met; a check that needs a human or could not finish (a grader error, not the student's
fault) leaves it undecided, and the result is MANUAL. Its checks are those listed under
``checks`` in the arguments, else every earlier *required* check tagged with it.

A student's self-check (``grader check``) inside a git repository pins each milestone in
the local history exactly as the instructor's run does, so it judges the same. Outside a
git repository there is nothing to pin: the result is pending (its points count in the
maximum, unearned), and the message names the deadlines the instructor's run will judge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from grader.checks.base import Args, Check, CheckContext
from grader.results import CheckOutcome, CheckResult, Evidence, Status

MET = "met"
NOT_MET = "not_met"
UNDECIDED = "undecided"  # a check needs a human or could not finish: a person decides
UNDECIDED_WORDS = {Status.MANUAL: "needs a human", Status.ERROR: "could not finish"}


class MilestonesArgs(Args):
    requires: list[str] = Field(min_length=1, description="milestone ids that must be met")
    checks: dict[str, list[str]] | None = Field(
        None,
        description=(
            "milestone id -> ids of the checks that must have passed for it; default: every "
            "earlier required check tagged with that milestone"
        ),
    )


class MilestoneSpecError(Exception):
    """The spec asks for something this check cannot judge; the message says what to fix."""


@dataclass
class MilestoneJudgement:
    id: str
    title: str
    deadline: str
    commit: str | None
    committed_at: str | None
    later_commits: int
    verdict: str = MET
    reason: str = ""
    checks: dict[str, str] = field(default_factory=dict)  # check id -> status

    @property
    def summary(self) -> str:
        """The verdict in a few words, for the milestone's own evidence row."""
        failed = [cid for cid, status in self.checks.items() if status == "fail"]
        if self.verdict == NOT_MET and not self.commit:
            return self.reason
        later = (
            f"; {self.later_commits} commit(s) after the milestone deadline do not count"
            if self.later_commits and self.verdict != MET
            else ""
        )
        if failed and self.verdict == NOT_MET:
            return f"failed: {', '.join(failed)}{later}"
        manual = [cid for cid, status in self.checks.items() if status in ("manual", "error")]
        return f"undecided: {', '.join(manual)}{later}" if manual else ""

    def facts(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "deadline": self.deadline,
            "commit": self.commit,
            "committed_at": self.committed_at,
            "commits_after_deadline": self.later_commits,
            "met": self.verdict == MET,
            "verdict": self.verdict,
            "checks": self.checks,
            "reason": self.reason,
        }


def _short(sha: str | None) -> str:
    return sha[:10] if sha else "none"


def checks_for(ctx: CheckContext, milestone: str, listed: list[str] | None) -> list[CheckResult]:
    """The earlier results that decide one milestone. Raises MilestoneSpecError."""
    previous = {r.id: r for r in ctx.previous}
    if listed is None:
        chosen = [r for r in ctx.previous if r.milestone == milestone and r.required]
        if not chosen:
            raise MilestoneSpecError(
                f"no required check before this one is tagged `milestone: {milestone}`; tag "
                f"the checks that define {milestone} (before this check) or list them in "
                f"args.checks.{milestone}"
            )
        return chosen
    later = {c.key for c in ctx.spec.checks} - set(previous)
    results = []
    for check_id in listed:
        if check_id not in previous:
            where = "comes after this check; move it before" if check_id in later else (
                "is not a check of this spec"
            )  # fmt: skip
            raise MilestoneSpecError(f"args.checks.{milestone}: check {check_id!r} {where}")
        result = previous[check_id]
        if result.milestone != milestone:
            graded = (
                f"at milestone {result.milestone}'s commit" if result.milestone else
                "at the final commit"
            )  # fmt: skip
            raise MilestoneSpecError(
                f"args.checks.{milestone}: check {check_id!r} is graded {graded}, so it says "
                f"nothing about {milestone}; tag it `milestone: {milestone}`"
            )
        results.append(result)
    return results


def judge(ctx: CheckContext, milestone: str, listed: list[str] | None) -> MilestoneJudgement:
    """Whether one milestone was met by its deadline. Raises MilestoneSpecError."""
    known = {m.id: m for m in ctx.spec.milestones}
    if milestone not in known:
        raise MilestoneSpecError(
            f"args.requires: {milestone!r} is not a milestone of this spec "
            f"(milestones: {', '.join(known) or 'none'})"
        )
    results = checks_for(ctx, milestone, listed)
    pin = ctx.pin.milestones.get(milestone, {})
    deadline = pin.get("deadline") or ctx.spec.milestone_deadline(milestone).isoformat()
    judgement = MilestoneJudgement(
        id=milestone,
        title=known[milestone].title,
        deadline=deadline,
        commit=pin.get("commit"),
        committed_at=pin.get("committed_at"),
        later_commits=int(pin.get("commits_after_deadline") or 0),
        checks={r.id: r.status.value for r in results},
    )
    if not judgement.commit:
        judgement.verdict = NOT_MET
        judgement.reason = "nothing committed by then" + (
            f" ({pin['error']})" if pin.get("error") else ""
        )
        return judgement
    failed = [r for r in results if r.status == Status.FAIL]
    undecided = [r for r in results if r.status in UNDECIDED_WORDS]
    if failed:
        judgement.verdict = NOT_MET
        at = f"at its pinned commit {_short(judgement.commit)} ({judgement.committed_at})"
        if len(failed) == 1:
            only = failed[0]
            judgement.reason = f"{at} check {only.id!r} failed ({only.message})"
        else:
            ids = ", ".join(repr(r.id) for r in failed[:-1]) + f" and {failed[-1].id!r}"
            judgement.reason = f"{at} checks {ids} failed (see each below)"
    elif undecided:
        judgement.verdict = UNDECIDED
        judgement.reason = " and ".join(
            f"check {r.id!r} {UNDECIDED_WORDS[r.status]} ({r.message})" for r in undecided
        )
    if judgement.verdict != MET and judgement.later_commits:
        judgement.reason += (
            f"; {judgement.later_commits} commit(s) after the milestone deadline do not count"
        )
    return judgement


def _evidence(judgement: MilestoneJudgement, results: list[CheckResult]) -> list[Evidence]:
    label = judgement.verdict.replace("_", " ")
    rows = [
        Evidence(
            f"{judgement.id} @ {_short(judgement.commit)}",
            label,
            f"{judgement.title}; deadline {judgement.deadline}; pinned commit "
            + (
                f"{_short(judgement.commit)} committed {judgement.committed_at}"
                if judgement.commit
                else "none"
            )
            + (f"; {judgement.summary}" if judgement.summary else ""),
        )
    ]
    for result in results:
        rows.append(
            Evidence(
                f"{judgement.id} / {result.id}",
                result.status.value,
                f"{result.points:g}/{result.max_points:g} points: {result.message}",
            )
        )
    return rows


class MilestonesCheck(Check):
    title = "Milestones met by their deadlines"
    Args = MilestonesArgs

    def run(self, ctx: CheckContext, args: MilestonesArgs) -> CheckOutcome:
        if ctx.mode == "worktree" and not ctx.pin.milestones:  # no git history to pin in
            deadlines = []
            for milestone in args.requires:
                try:
                    deadlines.append(f"{milestone} {ctx.spec.milestone_deadline(milestone)}")
                except KeyError:
                    deadlines.append(f"{milestone} (not a milestone of this spec)")
            return CheckOutcome(
                Status.SKIPPED,
                "judged at the last commit before each milestone deadline, and there is no "
                f"complete git history here to find it (a shallow clone?): {', '.join(deadlines)}",
                facts={"requires": list(args.requires)},
                pending="the instructor's pinned run (or a self-check inside the git repository)",
            )
        judgements: list[MilestoneJudgement] = []
        evidence: list[Evidence] = []
        stray = sorted(set(args.checks or {}) - set(args.requires))
        try:
            if stray:
                raise MilestoneSpecError(
                    f"args.checks names {', '.join(stray)}, which args.requires does not list"
                )
            for milestone in args.requires:
                listed = (args.checks or {}).get(milestone)
                judgement = judge(ctx, milestone, listed)
                judgements.append(judgement)
                evidence += _evidence(judgement, checks_for(ctx, milestone, listed))
        except MilestoneSpecError as exc:
            return CheckOutcome(
                Status.ERROR, f"the spec's milestones check cannot be judged: {exc}", evidence
            )
        facts = {"milestones": {j.id: j.facts() for j in judgements}}
        missed = [j for j in judgements if j.verdict == NOT_MET]
        pending = [j for j in judgements if j.verdict == UNDECIDED]
        if missed:
            message = "; ".join(
                f"{j.id} not met by its deadline {j.deadline}: {j.reason}" for j in missed
            )
            return CheckOutcome(Status.FAIL, message, evidence, facts, fraction=0.0)
        if pending:
            message = "; ".join(f"{j.id} undecided: {j.reason}" for j in pending)
            return CheckOutcome(Status.MANUAL, message, evidence, facts)
        met = ", ".join(f"{j.id} (commit {_short(j.commit)})" for j in judgements)
        return CheckOutcome(
            Status.PASS, f"every required milestone met in time: {met}", evidence, facts
        )
