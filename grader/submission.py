"""A submission: one student's (or team's) repo pinned to a commit, or a working tree."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from grader import fetch
from grader.fetch import FetchError
from grader.ledger import FINAL
from grader.pin_evidence import DATES, PinBasis, pin_basis
from grader.pinning import PinDecision, find_anomalies, lateness_source, pin_commit
from grader.results import Anomaly, EnvironmentFailure, PinInfo
from grader.spec import AssignmentSpec, LateMode


@dataclass
class Snapshot:
    """The files of one pinned commit, checked out."""

    workdir: Path
    commit: str | None
    committed_at: datetime | None
    deadline: datetime
    late_at: datetime | None = None  # lateness counts from here (pushed after the snapshot)


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


def _decide(
    spec: AssignmentSpec, history: fetch.History, deadline: datetime, basis: PinBasis
) -> PinDecision:
    """Pin at the deadline on the line the evidence allows, or (late policies that accept
    late work) at the tip/cutoff."""
    if spec.late.mode == LateMode.NONE:
        decision = pin_commit(basis.first_parent, deadline, spec.pin.backdated)
        seen = {c.sha for c in decision.after}
        decision.after += [c for c in basis.pushed_after if c.sha not in seen]
        return decision
    limit = spec.cutoff_at or datetime.max.replace(tzinfo=UTC)
    decision = pin_commit(history.first_parent, limit, spec.pin.backdated)
    # late work is graded (with a penalty): report every first-parent commit after the deadline
    decision.after = [
        c for c in history.first_parent if c.committed_at > deadline or not basis.recorded(c.sha)
    ]
    return decision


def _judge_lateness(
    spec: AssignmentSpec,
    history: fetch.History,
    decision: PinDecision,
    deadline: datetime,
    pin: PinInfo,
    basis: PinBasis,
) -> None:
    """The date the late policy judges (``pin.late_at``): the graded commit's, unless
    - it is a backdated commit sitting on a late one (and backdated dates are not trusted):
      then the late commit's; or
    - the evidence shows it was pushed after the deadline snapshot: then it is late from the
      snapshot on, whatever its date says.
    ``pin.late_note`` says why when the judged date is not the commit's own."""
    assert decision.commit is not None
    commit = decision.commit
    judged = commit
    if spec.pin.backdated == "exclude":
        judged = lateness_source(history.first_parent, commit)
    late_at = judged.committed_at
    if judged is not commit and judged.committed_at > deadline:
        pin.late_note = (
            f"the graded commit {commit.sha[:10]} is dated "
            f"{commit.committed_at.isoformat()} (before the deadline) but sits on top "
            f"of {judged.sha[:10]}, dated {judged.committed_at.isoformat()} (after it): a "
            "commit cannot be made before the commits it builds on, so it is as late as that one"
        )
    observed = basis.observed_at
    if not basis.recorded(commit.sha) and observed is not None and observed > late_at:
        late_at = observed
        pin.late_note = (
            f"the graded commit {commit.sha[:10]} was not in the repository when it was "
            f"observed at {observed.isoformat()} ({basis.evidence}): it was pushed later, so "
            "it is late from then on, whatever its date says"
        )
    pin.late_at = late_at.isoformat()


def _anomalies(
    spec: AssignmentSpec, history: fetch.History, basis: PinBasis, deadline: datetime,
    now: datetime,
) -> list[Anomaly]:  # fmt: skip
    gap = spec.pin.author_committer_gap_days
    found = list(basis.anomalies)
    lines = [(history.first_parent, history.by_sha)]
    if basis.first_parent and basis.first_parent[0].sha not in history.by_sha:
        lines.append((basis.first_parent, basis.by_sha))  # a rewritten line: its own dates
    seen = {(a.sha, a.kind) for a in found}
    for first_parent, by_sha in lines:
        for anomaly in find_anomalies(first_parent, by_sha, deadline, now, gap):
            if (anomaly.sha, anomaly.kind) not in seen:
                seen.add((anomaly.sha, anomaly.kind))
                found.append(anomaly)
    return found


def fetch_submission(
    spec: AssignmentSpec,
    repo: str,
    student: str,
    work_dir: Path,
    cache_dir: Path,
    deadline: datetime | None = None,
    now: datetime | None = None,
    snapshots: Mapping[str, dict[str, Any]] | None = None,
) -> Submission:
    """Mirror the repo, pin it at the deadline (and at each milestone), check out the files.

    ``snapshots`` are the ledger entries for this repository ("final" and milestone ids):
    each pin then rests on the HEAD recorded at its deadline (``grader.pin_evidence``).
    Raises FetchError for a repo that cannot be graded (missing, empty, no branch, nothing
    before the deadline); the pipeline turns that into a failed result.
    """
    deadline = deadline or spec.deadline_for(student)
    now = now or fetch.now_utc()
    snapshots = snapshots or {}
    mirror_dir = fetch.mirror(repo, cache_dir)
    history = fetch.read_history(mirror_dir, spec.branch)
    basis = pin_basis(mirror_dir, history, snapshots.get(FINAL), repo, deadline)
    decision = _decide(spec, history, deadline, basis)
    pin = PinInfo(
        branch=history.branch,
        tip=history.tip.sha,
        commits_after_deadline=len(decision.after),
        first_after=_iso(decision.first_after),
        last_after=_iso(decision.last_after),
        commits_before_deadline=decision.before_count,
        anomalies=_anomalies(spec, history, basis, deadline, now),
        evidence=basis.evidence,
        snapshot=basis.snapshot,
    )
    if decision.commit is None:
        raise FetchError(decision.reason + f" (deadline {deadline.isoformat()})")
    _judge_lateness(spec, history, decision, deadline, pin, basis)
    main = Snapshot(
        work_dir / "checkout", decision.commit.sha, decision.commit.committed_at, deadline
    )
    pin.symlinks_outside = fetch.checkout(mirror_dir, main.commit, main.workdir, spec.limits)
    submission = Submission(student, repo, main, pin)
    pin_milestones(spec, history, mirror_dir, work_dir, submission, snapshots=snapshots)
    return submission


def pin_milestones(
    spec: AssignmentSpec,
    history: fetch.History,
    git_dir: Path,
    work_root: Path,
    submission: Submission,
    inside: str = "",
    snapshots: Mapping[str, dict[str, Any]] | None = None,
    git_env: dict[str, str] | None = None,
) -> None:
    """Pin every milestone at its own deadline in ``history`` and check its commit out
    under ``work_root/checkout-<id>`` (``inside``: the submission's folder in the repo).
    The same for the instructor's run (a mirror, with the ledger's ``snapshots`` and
    GitHub's push times as evidence) and a self-check (the student's repo: its own dates,
    ``git_env`` trusting it). Each checkout is within the spec's limits."""
    pin = submission.pin
    for milestone in spec.milestones:
        m_deadline = spec.milestone_deadline(milestone.id)
        if submission.mode == "worktree":
            m_basis = PinBasis(DATES, history.first_parent, history.by_sha)
        else:
            entry = (snapshots or {}).get(milestone.id)
            m_basis = pin_basis(git_dir, history, entry, submission.repo, m_deadline)
        m_decision = pin_commit(m_basis.first_parent, m_deadline, spec.pin.backdated)
        info = {
            "deadline": m_deadline.isoformat(),
            "commit": None,
            "committed_at": None,
            "commits_after_deadline": len(m_decision.after) + len(m_basis.pushed_after),
            "evidence": m_basis.evidence,
        }
        if m_basis.snapshot:
            info["snapshot"] = m_basis.snapshot
        known = {(a.sha, a.kind) for a in pin.anomalies}
        pin.anomalies += [a for a in m_basis.anomalies if (a.sha, a.kind) not in known]
        if m_decision.commit is None:
            info["error"] = m_decision.reason
        else:
            target = work_root / f"checkout-{milestone.id}"
            removed = fetch.checkout(git_dir, m_decision.commit.sha, target, spec.limits, git_env)
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


def _porcelain_paths(status: str) -> list[str]:
    """The paths of ``git status --porcelain -z`` (raw names, never quoted; a rename's
    source path is skipped)."""
    paths, fields = [], status.split("\0")
    index = 0
    while index < len(fields):
        entry = fields[index]
        index += 1
        if len(entry) < 4:
            continue
        paths.append(entry[3:])
        if entry[0] in "RC":
            index += 1  # the original path of a rename or copy follows
    return paths


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
    # the student's own tree, on their machine or CI: trusted to be theirs (a CI checkout
    # owned by another uid needs safe.directory, global config is never read)
    trust = fetch.trusting(repo_root)
    try:
        status = fetch.run_git(
            "status", "--porcelain", "-z", "--untracked-files=all", "--", str(path),
            cwd=repo_root, env=trust,
        )  # fmt: skip
        inside = "" if repo_root == path else path.relative_to(repo_root).as_posix() + "/"
        pin.uncommitted = [
            name.removeprefix(inside)
            for name in _porcelain_paths(status)
            if ".grader/" not in f"/{name}"
        ]
        history = fetch.read_history(repo_root, None, trust)
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
        shallow = fetch.run_git("rev-parse", "--is-shallow-repository", cwd=repo_root, env=trust)
        if spec.milestones and shallow.strip() != "true":
            work_root = path / ".grader" / "milestones"
            pin_milestones(
                spec, history, repo_root, work_root, submission, inside.rstrip("/"), git_env=trust
            )
    except (FetchError, EnvironmentFailure) as exc:
        pin.branch = f"(history not readable: {exc})"
        pin.milestones.clear()
        submission.milestones.clear()
    return submission
