"""Choosing the commit to grade from a branch's first-parent history, and spotting dates
that do not add up. Pure functions over commit metadata: no git here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from grader.results import Anomaly

FUTURE_TOLERANCE = timedelta(minutes=10)


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    parents: tuple[str, ...]
    authored_at: datetime
    committed_at: datetime
    subject: str = ""


@dataclass
class PinDecision:
    commit: CommitInfo | None
    after: list[CommitInfo] = field(default_factory=list)  # first-parent commits above the pin
    before_count: int = 0
    reason: str = ""

    @property
    def first_after(self) -> datetime | None:
        return min((c.committed_at for c in self.after), default=None)

    @property
    def last_after(self) -> datetime | None:
        return max((c.committed_at for c in self.after), default=None)


def pin_commit(
    first_parent: list[CommitInfo], deadline: datetime, backdated: str = "exclude"
) -> PinDecision:
    """Pick the commit to grade. ``first_parent`` runs from the tip to the root.

    The pin is the newest commit on the first-parent line whose committer date is at or
    before ``deadline``. With ``backdated='exclude'`` (the default) a commit dated before
    the deadline but sitting on top of a commit dated after it is not trusted: the pin is
    then the last commit below the first late one.
    """
    if not first_parent:
        return PinDecision(None, reason="the branch has no commits")
    chronological = list(reversed(first_parent))
    if backdated == "exclude":
        pinned_index = -1
        for index, commit in enumerate(chronological):
            if commit.committed_at > deadline:
                break
            pinned_index = index
    else:
        pinned_index = -1
        for index in range(len(chronological) - 1, -1, -1):
            if chronological[index].committed_at <= deadline:
                pinned_index = index
                break
    if pinned_index < 0:
        first = chronological[0].committed_at.isoformat()
        return PinDecision(
            None,
            after=chronological,
            reason=f"no commit at or before the deadline (the first commit is dated {first})",
        )
    return PinDecision(
        chronological[pinned_index],
        after=chronological[pinned_index + 1 :],
        before_count=pinned_index + 1,
    )


def lateness_source(first_parent: list[CommitInfo], commit: CommitInfo) -> CommitInfo:
    """The commit whose date the late policy judges for ``commit``: the latest-dated one
    among it and its first-parent ancestors. A commit cannot be made before the commits
    it sits on, so a backdated commit on top of a late one inherits that lateness.
    ``first_parent`` runs tip to root."""
    shas = [c.sha for c in first_parent]
    if commit.sha not in shas:
        return commit
    below = first_parent[shas.index(commit.sha) :]
    latest = max(below, key=lambda c: c.committed_at)
    return latest if latest.committed_at > commit.committed_at else commit


def find_anomalies(
    first_parent: list[CommitInfo],
    by_sha: dict[str, CommitInfo],
    deadline: datetime,
    now: datetime,
    gap_days: float = 2.0,
) -> list[Anomaly]:
    """Dates that a human should look at. ``first_parent`` runs tip to root."""
    anomalies: list[Anomaly] = []
    for commit in by_sha.values():
        for parent_sha in commit.parents:
            parent = by_sha.get(parent_sha)
            if parent and commit.committed_at < parent.committed_at:
                anomalies.append(
                    Anomaly(
                        commit.sha,
                        "earlier_than_parent",
                        f"committed {commit.committed_at.isoformat()}, before its parent "
                        f"{parent.sha[:10]} ({parent.committed_at.isoformat()})",
                    )
                )
        if commit.committed_at > now + FUTURE_TOLERANCE:
            anomalies.append(
                Anomaly(
                    commit.sha,
                    "future_date",
                    f"committed {commit.committed_at.isoformat()}, later than the fetch "
                    f"({now.isoformat(timespec='seconds')})",
                )
            )
        gap = abs(commit.committed_at - commit.authored_at)
        if gap > timedelta(days=gap_days):
            anomalies.append(
                Anomaly(
                    commit.sha,
                    "author_committer_gap",
                    f"authored {commit.authored_at.isoformat()} but committed "
                    f"{commit.committed_at.isoformat()} ({gap.days} days apart; "
                    "rebased, amended or re-dated)",
                )
            )
    late_seen: CommitInfo | None = None
    for commit in reversed(first_parent):
        if commit.committed_at > deadline:
            late_seen = late_seen or commit
        elif late_seen is not None:
            anomalies.append(
                Anomaly(
                    commit.sha,
                    "backdated_after_late",
                    f"dated {commit.committed_at.isoformat()} (before the deadline) but sits on "
                    f"top of {late_seen.sha[:10]}, dated {late_seen.committed_at.isoformat()} "
                    "(after it)",
                )
            )
    order = {"backdated_after_late": 0, "earlier_than_parent": 1, "future_date": 2}
    anomalies.sort(key=lambda a: (order.get(a.kind, 3), a.sha))
    return anomalies
