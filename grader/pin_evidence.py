"""What a pin rests on: a deadline snapshot from the ledger, GitHub's push times, or only
the commit dates the student's machine wrote.

With a ledger entry for the deadline, the line that is pinned is the first-parent history
of the HEAD recorded then, not of today's branch: a commit that was not reachable from it
was pushed after the snapshot and is never graded, whatever its date. A recorded HEAD that
is no longer on the branch means the history was rewritten after the snapshot: an anomaly
for the instructor ("recorded HEAD X is no longer on the branch"). Without an entry the
pin is today's (commit dates), and the result says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from grader import fetch, github_activity
from grader.fetch import FetchError
from grader.pinning import CommitInfo
from grader.results import Anomaly

LEDGER, GITHUB, DATES = "ledger", "github", "commit dates"
SHA_RE = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")
MAX_LISTED = 10


@dataclass
class PinBasis:
    evidence: str  # LEDGER, GITHUB or DATES
    first_parent: list[CommitInfo]  # the line to pin on, tip to root
    by_sha: dict[str, CommitInfo]
    pushed_after: list[CommitInfo] = field(default_factory=list)  # not in the recorded line
    anomalies: list[Anomaly] = field(default_factory=list)
    snapshot: dict[str, Any] | None = None  # the entry (or GitHub's answer) the pin rests on
    observed_at: datetime | None = None  # when the recorded HEAD was seen

    def recorded(self, sha: str) -> bool:
        """Whether ``sha`` was reachable from the recorded HEAD (always, for commit dates)."""
        return self.evidence == DATES or sha in self.by_sha


def _when(moment: datetime | str | None) -> str:
    if isinstance(moment, str):
        return moment
    return moment.isoformat(timespec="seconds") if moment else "?"


def _dates_only(history: fetch.History, snapshot: dict | None = None) -> PinBasis:
    return PinBasis(DATES, history.first_parent, history.by_sha, snapshot=snapshot)


def _on_recorded_line(
    mirror_dir: Path, history: fetch.History, head: str, observed: datetime | None,
    deadline: datetime, evidence: str, snapshot: dict[str, Any],
) -> PinBasis:  # fmt: skip
    """Pin on the line below ``head`` (seen at ``observed``); anomalies for what changed."""
    where = "the deadline snapshot" if evidence == LEDGER else "GitHub's push record"
    if not SHA_RE.match(head):
        return PinBasis(
            DATES, history.first_parent, history.by_sha, snapshot=snapshot,
            anomalies=[Anomaly(head[:40], "snapshot_unusable",
                               f"{where} names {head[:40]!r}, which is not a commit SHA; the pin "
                               "rests on commit dates only")],
        )  # fmt: skip
    try:
        recorded = (
            _line_below(head, history)  # still on the branch: no git call needed
            if head in history.by_sha
            else fetch.read_history_at(mirror_dir, head, history.branch)
        )
    except FetchError:
        return PinBasis(
            DATES, history.first_parent, history.by_sha, snapshot=snapshot,
            anomalies=[Anomaly(head, "snapshot_objects_missing",
                               f"{where} recorded HEAD {head[:10]}, which is not in the mirror "
                               "cache (taken with another cache, or its objects are gone); the "
                               "pin rests on commit dates only")],
        )  # fmt: skip
    basis = PinBasis(
        evidence, recorded.first_parent, recorded.by_sha, snapshot=snapshot, observed_at=observed
    )
    if head not in history.by_sha:
        basis.anomalies.append(
            Anomaly(
                head,
                "rewritten_after_snapshot",
                f"recorded HEAD {head[:10]} is no longer on the branch {history.branch}: the "
                f"history was rewritten (force-pushed) after {where} at {_when(observed)}; only "
                "commits reachable from the recorded HEAD are graded",
            )  # fmt: skip
        )
    basis.pushed_after = [c for c in history.first_parent if c.sha not in recorded.by_sha]
    backdated = [c for c in basis.pushed_after if c.committed_at <= deadline]
    for commit in backdated[:MAX_LISTED]:
        basis.anomalies.append(
            Anomaly(
                commit.sha,
                "pushed_after_snapshot",
                f"dated {commit.committed_at.isoformat()} (at or before the deadline) but not on "
                f"the branch at {where} ({_when(observed)}): pushed later; not graded",
            )  # fmt: skip
        )
    if len(backdated) > MAX_LISTED:
        basis.anomalies.append(
            Anomaly("", "pushed_after_snapshot", f"and {len(backdated) - MAX_LISTED} more such")
        )
    return basis


def _line_below(head: str, history: fetch.History) -> fetch.History:
    """The history below ``head``, a commit of ``history``: its first-parent line and every
    commit reachable from it."""
    by_sha = history.by_sha
    first_parent, sha = [], head
    while sha in by_sha:
        first_parent.append(by_sha[sha])
        parents = by_sha[sha].parents
        sha = parents[0] if parents else ""
    reachable: dict[str, CommitInfo] = {}
    todo = [head]
    while todo:
        sha = todo.pop()
        if sha in reachable or sha not in by_sha:
            continue
        reachable[sha] = by_sha[sha]
        todo.extend(by_sha[sha].parents)
    return fetch.History(history.branch, first_parent, reachable)


def pin_basis(
    mirror_dir: Path, history: fetch.History, entry: dict[str, Any] | None, repo: str,
    deadline: datetime,
) -> PinBasis:  # fmt: skip
    """The line to pin on and the evidence for it (see the module docstring)."""
    if entry is not None:
        summary = dict(entry)
        observed = _moment(entry.get("observed_at"))
        if entry.get("head"):
            return _on_recorded_line(
                mirror_dir, history, str(entry["head"]), observed, deadline, LEDGER, summary
            )
        basis = _dates_only(history, summary)
        basis.anomalies.append(
            Anomaly(
                "",
                "snapshot_failed",
                f"the deadline snapshot at {_when(observed)} could not read the repository: "
                f"{entry.get('error') or 'no HEAD recorded'}; the pin rests on commit dates only",
            )  # fmt: skip
        )
        return basis
    pushed = github_activity.evidence(repo, history.branch, deadline)
    if pushed is None:
        return _dates_only(history)
    if not pushed.get("head"):
        basis = _dates_only(history, {"github": pushed})
        if not pushed.get("error") and not pushed.get("activities"):
            return basis  # GitHub lists nothing for the branch: no evidence either way
        if pushed.get("error"):
            basis.anomalies.append(
                Anomaly("", "push_times_unavailable", f"GitHub push times: {pushed['error']}")
            )
        else:
            basis.anomalies.append(
                Anomaly(
                    "",
                    "no_push_by_deadline",
                    f"GitHub records no push to {history.branch} by the deadline; commits dated "
                    "before it were pushed later (a human should look)",
                )  # fmt: skip
            )
        return basis
    # what was not on the branch at the deadline arrived with a later push: the earliest
    # one's time is when lateness starts
    later = [_moment(a.get("timestamp")) for a in pushed.get("later_activities") or []]
    arrived = min((t for t in later if t is not None), default=deadline)
    return _on_recorded_line(
        mirror_dir, history, str(pushed["head"]), arrived, deadline, GITHUB, {"github": pushed}
    )


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
