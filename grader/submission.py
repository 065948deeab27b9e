"""A submission: one student's (or team's) repo pinned to a commit, or a working tree."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from grader import fetch
from grader.fetch import FetchError
from grader.pinning import PinDecision, find_anomalies, lateness_source, pin_commit
from grader.results import PinInfo
from grader.spec import AssignmentSpec, LateMode


@dataclass
class Snapshot:
    """The files of one pinned commit, checked out."""

    workdir: Path
    commit: str | None
    committed_at: datetime | None
    deadline: datetime


@dataclass
class Submission:
    student: str
    repo: str
    main: Snapshot
    pin: PinInfo
    mode: str = "pinned"
    milestones: dict[str, Snapshot] = field(default_factory=dict)

    def snapshot_for(self, milestone: str | None) -> Snapshot:
        return self.milestones.get(milestone, self.main) if milestone else self.main


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _decide(spec: AssignmentSpec, history: fetch.History, deadline: datetime) -> PinDecision:
    """Pin at the deadline, or (late policies that accept late work) at the tip/cutoff."""
    if spec.late.mode == LateMode.NONE:
        return pin_commit(history.first_parent, deadline, spec.pin.backdated)
    limit = spec.cutoff_at or datetime.max.replace(tzinfo=UTC)
    decision = pin_commit(history.first_parent, limit, spec.pin.backdated)
    # late work is graded (with a penalty): report every first-parent commit after the deadline
    decision.after = [c for c in history.first_parent if c.committed_at > deadline]
    return decision


def _judge_lateness(
    spec: AssignmentSpec,
    history: fetch.History,
    decision: PinDecision,
    deadline: datetime,
    pin: PinInfo,
) -> None:
    """The date the late policy judges (``pin.late_at``): the graded commit's, unless it is
    a backdated commit sitting on a late one (and backdated dates are not trusted): then
    the late commit's, and ``pin.late_note`` says why."""
    assert decision.commit is not None
    judged = decision.commit
    if spec.pin.backdated == "exclude":
        judged = lateness_source(history.first_parent, decision.commit)
    pin.late_at = judged.committed_at.isoformat()
    if judged is not decision.commit and judged.committed_at > deadline:
        pin.late_note = (
            f"the graded commit {decision.commit.sha[:10]} is dated "
            f"{decision.commit.committed_at.isoformat()} (before the deadline) but sits on top "
            f"of {judged.sha[:10]}, dated {judged.committed_at.isoformat()} (after it): a "
            "commit cannot be made before the commits it builds on, so it is as late as that one"
        )


def fetch_submission(
    spec: AssignmentSpec,
    repo: str,
    student: str,
    work_dir: Path,
    cache_dir: Path,
    deadline: datetime | None = None,
    now: datetime | None = None,
) -> Submission:
    """Mirror the repo, pin it at the deadline (and at each milestone), check out the files.

    Raises FetchError for a repo that cannot be graded (missing, empty, no branch, nothing
    before the deadline); the pipeline turns that into a failed result.
    """
    deadline = deadline or spec.deadline_for(student)
    now = now or fetch.now_utc()
    mirror_dir = fetch.mirror(repo, cache_dir)
    history = fetch.read_history(mirror_dir, spec.branch)
    decision = _decide(spec, history, deadline)
    pin = PinInfo(
        branch=history.branch,
        tip=history.tip.sha,
        commits_after_deadline=len(decision.after),
        first_after=_iso(decision.first_after),
        last_after=_iso(decision.last_after),
        commits_before_deadline=decision.before_count,
        anomalies=find_anomalies(
            history.first_parent, history.by_sha, deadline, now, spec.pin.author_committer_gap_days
        ),
    )
    if decision.commit is None:
        raise FetchError(decision.reason + f" (deadline {deadline.isoformat()})")
    _judge_lateness(spec, history, decision, deadline, pin)
    main = Snapshot(
        work_dir / "checkout", decision.commit.sha, decision.commit.committed_at, deadline
    )
    pin.symlinks_outside = fetch.checkout(mirror_dir, main.commit, main.workdir)
    submission = Submission(student, repo, main, pin)
    pin_milestones(spec, history, mirror_dir, work_dir, submission)
    return submission


def pin_milestones(
    spec: AssignmentSpec,
    history: fetch.History,
    git_dir: Path,
    work_root: Path,
    submission: Submission,
    inside: str = "",
) -> None:
    """Pin every milestone at its own deadline in ``history`` and check its commit out
    under ``work_root/checkout-<id>`` (``inside``: the submission's folder in the repo).
    The same for the instructor's run (a mirror) and a self-check (the student's repo)."""
    pin = submission.pin
    for milestone in spec.milestones:
        m_deadline = spec.milestone_deadline(milestone.id)
        m_decision = pin_commit(history.first_parent, m_deadline, spec.pin.backdated)
        info = {
            "deadline": m_deadline.isoformat(),
            "commit": None,
            "committed_at": None,
            "commits_after_deadline": len(m_decision.after),
        }
        if m_decision.commit is None:
            info["error"] = m_decision.reason
        else:
            target = work_root / f"checkout-{milestone.id}"
            removed = fetch.checkout(git_dir, m_decision.commit.sha, target)
            snap = Snapshot(
                target / inside if inside else target,
                m_decision.commit.sha,
                m_decision.commit.committed_at,
                m_deadline,
            )
            pin.symlinks_outside = sorted(set(pin.symlinks_outside) | set(removed))
            submission.milestones[milestone.id] = snap
            info.update(commit=snap.commit, committed_at=_iso(snap.committed_at))
        pin.milestones[milestone.id] = info


def worktree_submission(
    spec: AssignmentSpec, path: Path, student: str = "self-check"
) -> Submission:
    """A student's working tree as it is, uncommitted work included. Inside a git
    repository the milestones are pinned in the local history as the instructor's run pins
    them (their commits are checked out under ``PATH/.grader/milestones/``).

    The pin info says what the instructor's pinned run would see differently.
    """
    path = path.resolve()
    deadline = spec.deadline_for(student)
    pin = PinInfo(mode="worktree")
    main = Snapshot(path, None, None, deadline)
    submission = Submission(student, str(path), main, pin, mode="worktree")
    repo_root = next((p for p in (path, *path.parents) if (p / ".git").exists()), None)
    if repo_root is None:
        return submission
    try:
        status = fetch.run_git(
            "status", "--porcelain", "--untracked-files=all", "--", str(path), cwd=repo_root
        )
        inside = "" if repo_root == path else path.relative_to(repo_root).as_posix() + "/"
        pin.uncommitted = [
            line[3:].removeprefix(inside)
            for line in status.splitlines()
            if line.strip() and ".grader/" not in line
        ]
        history = fetch.read_history(repo_root, None)
        pin.branch = history.branch
        pin.tip = history.tip.sha
        main.commit, main.committed_at = history.tip.sha, history.tip.committed_at
        decision = pin_commit(history.first_parent, deadline, spec.pin.backdated)
        pin.commits_before_deadline = decision.before_count
        pin.commits_after_deadline = len(decision.after)
        pin.first_after = _iso(decision.first_after)
        pin.last_after = _iso(decision.last_after)
        pin.anomalies = find_anomalies(
            history.first_parent, history.by_sha, deadline, fetch.now_utc(),
            spec.pin.author_committer_gap_days,
        )  # fmt: skip
        # a shallow clone (CI's default) lacks the commits a milestone is pinned at
        shallow = fetch.run_git("rev-parse", "--is-shallow-repository", cwd=repo_root)
        if spec.milestones and shallow.strip() != "true":
            work_root = path / ".grader" / "milestones"
            pin_milestones(spec, history, repo_root, work_root, submission, inside.rstrip("/"))
    except FetchError as exc:
        pin.branch = f"(history not readable: {exc})"
        pin.milestones.clear()
        submission.milestones.clear()
    return submission
