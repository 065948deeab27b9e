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
from grader.pin_evidence import PinBasis, pin_basis
from grader.pinning import PinDecision, find_anomalies, pin_commit
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


def _late_at(decision: PinDecision, basis: PinBasis) -> datetime | None:
    """A commit pushed after the deadline snapshot is late from the snapshot on, whatever
    its date says."""
    commit = decision.commit
    if commit is None or basis.recorded(commit.sha) or basis.observed_at is None:
        return None
    return max(commit.committed_at, basis.observed_at)


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
    main = Snapshot(
        work_dir / "checkout", decision.commit.sha, decision.commit.committed_at, deadline,
        _late_at(decision, basis),
    )  # fmt: skip
    pin.symlinks_outside = fetch.checkout(mirror_dir, main.commit, main.workdir, spec.limits)
    submission = Submission(student, repo, main, pin)
    for milestone in spec.milestones:
        m_deadline = spec.milestone_deadline(milestone.id)
        m_basis = pin_basis(mirror_dir, history, snapshots.get(milestone.id), repo, m_deadline)
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
            snap = Snapshot(
                work_dir / f"checkout-{milestone.id}",
                m_decision.commit.sha,
                m_decision.commit.committed_at,
                m_deadline,
            )
            removed = fetch.checkout(mirror_dir, snap.commit, snap.workdir, spec.limits)
            pin.symlinks_outside = sorted(set(pin.symlinks_outside) | set(removed))
            submission.milestones[milestone.id] = snap
            info.update(commit=snap.commit, committed_at=_iso(snap.committed_at))
        pin.milestones[milestone.id] = info
    return submission


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
    """A student's working tree as it is, uncommitted work included; no pinning.

    The pin info says what the instructor's pinned run would see differently.
    """
    path = path.resolve()
    deadline = spec.deadline_for(student)
    pin = PinInfo(mode="worktree")
    commit = committed_at = None
    repo_root = next((p for p in (path, *path.parents) if (p / ".git").exists()), None)
    if repo_root is not None:
        try:
            # the student's own tree, on their machine or CI: trusted to be theirs (a CI
            # checkout owned by another uid needs safe.directory, global config is never read)
            trust = fetch.trusting(repo_root)
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
            commit, committed_at = history.tip.sha, history.tip.committed_at
            decision = pin_commit(history.first_parent, deadline, spec.pin.backdated)
            pin.commits_before_deadline = decision.before_count
            pin.commits_after_deadline = len(decision.after)
            pin.first_after = _iso(decision.first_after)
            pin.last_after = _iso(decision.last_after)
            pin.anomalies = find_anomalies(
                history.first_parent, history.by_sha, deadline, fetch.now_utc(),
                spec.pin.author_committer_gap_days,
            )  # fmt: skip
        except (FetchError, EnvironmentFailure) as exc:
            pin.branch = f"(history not readable: {exc})"
    main = Snapshot(path, commit, committed_at, deadline)
    return Submission(student, str(path), main, pin, mode="worktree")
