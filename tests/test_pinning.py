"""Pinning rules on commit metadata alone (no git)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from grader.pinning import CommitInfo, find_anomalies, pin_commit

CET = timezone(timedelta(hours=1))
DEADLINE = datetime(2020, 10, 27, 23, 59, tzinfo=CET)


def commit(
    sha: str, day: int, parent: str | None = None, hour: int = 12, authored: int | None = None
):
    at = datetime(2020, 10, day, hour, tzinfo=CET)
    author = datetime(2020, 10, authored, hour, tzinfo=CET) if authored else at
    return CommitInfo(sha, (parent,) if parent else (), author, at)


def test_pin_is_newest_on_time_commit() -> None:
    chain = [commit("c", 29, "b"), commit("b", 27, "a"), commit("a", 20)]
    decision = pin_commit(chain, DEADLINE)
    assert decision.commit.sha == "b"
    assert [c.sha for c in decision.after] == ["c"]
    assert decision.before_count == 2


def test_backdated_policy() -> None:
    chain = [commit("c", 26, "b"), commit("b", 29, "a"), commit("a", 20)]
    assert pin_commit(chain, DEADLINE).commit.sha == "a"
    assert pin_commit(chain, DEADLINE, backdated="include").commit.sha == "c"


def test_nothing_before_deadline_and_empty() -> None:
    decision = pin_commit([commit("a", 29)], DEADLINE)
    assert decision.commit is None and "no commit at or before" in decision.reason
    assert pin_commit([], DEADLINE).commit is None


def test_anomalies() -> None:
    chain = [commit("c", 26, "b"), commit("b", 29, "a", authored=20), commit("a", 20)]
    by_sha = {c.sha: c for c in chain}
    now = datetime(2020, 10, 28, tzinfo=CET)
    kinds = {(a.sha, a.kind) for a in find_anomalies(chain, by_sha, DEADLINE, now)}
    assert kinds == {
        ("c", "backdated_after_late"),
        ("c", "earlier_than_parent"),
        ("b", "future_date"),
        ("b", "author_committer_gap"),
    }
