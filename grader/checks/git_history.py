"""`git_history`: committed on time, nothing hidden behind odd dates."""

from __future__ import annotations

from pydantic import Field

from grader.checks.base import Args, Check, CheckContext
from grader.results import CheckOutcome, Evidence, Status


class GitHistoryArgs(Args):
    min_commits: int = Field(1, ge=0, description="on-time commits expected at least")
    late_commits: str = Field("warn", pattern="^(ignore|warn|fail)$")
    anomalies: str = Field("warn", pattern="^(ignore|warn|fail)$")


class GitHistoryCheck(Check):
    title = "Git history and dates"
    Args = GitHistoryArgs

    def run(self, ctx: CheckContext, args: GitHistoryArgs) -> CheckOutcome:
        pin = ctx.pin
        facts = {
            "commits_before_deadline": pin.commits_before_deadline,
            "commits_after_deadline": pin.commits_after_deadline,
            "first_after": pin.first_after,
            "last_after": pin.last_after,
            "anomalies": [a.kind for a in pin.anomalies],
        }
        if ctx.mode == "worktree":
            return CheckOutcome(
                Status.SKIPPED,
                "judged only in the instructor's pinned run (it sees commits, not your files)",
                facts=facts,
                pending="the instructor's pinned run: it needs the server's copy of what was pushed",
            )
        problems: list[str] = []
        level = Status.PASS
        evidence = [Evidence(a.sha[:10], a.kind, a.detail) for a in pin.anomalies]

        def worse(status: Status) -> None:
            nonlocal level
            if status == Status.FAIL or level == Status.PASS:
                level = status

        if pin.commits_before_deadline < args.min_commits:
            problems.append(
                f"{pin.commits_before_deadline} commit(s) before the deadline, "
                f"{args.min_commits} expected"
            )
            worse(Status.FAIL)
        if pin.commits_after_deadline and args.late_commits != "ignore":
            problems.append(
                f"{pin.commits_after_deadline} commit(s) after the deadline "
                f"({pin.first_after} .. {pin.last_after}) are not graded"
            )
            worse(Status.FAIL if args.late_commits == "fail" else Status.WARN)
        if pin.anomalies and args.anomalies != "ignore":
            kinds = sorted({a.kind.replace("_", " ") for a in pin.anomalies})
            problems.append(f"{len(pin.anomalies)} date anomal(ies): {', '.join(kinds)}")
            worse(Status.FAIL if args.anomalies == "fail" else Status.WARN)
        if pin.symlinks_outside:
            problems.append(
                f"symlinks out of the repository removed: {', '.join(pin.symlinks_outside)}"
            )
            worse(Status.WARN)
            evidence += [
                Evidence(s.split(" -> ")[0], "symlink_removed", s) for s in pin.symlinks_outside
            ]
        if not problems:
            return CheckOutcome(
                Status.PASS,
                f"{pin.commits_before_deadline} commit(s) on time, no date anomalies",
                evidence,
                facts,
            )
        return CheckOutcome(level, "; ".join(problems), evidence, facts)
