"""Fetching and pinning on real git repos with dated commits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.fetch import FetchError, mirror
from grader.pipeline import grade
from grader.spec import parse_spec_text
from grader.submission import fetch_submission
from grader.testing import build_file_tree, git, git_init, git_save, make_bare

SPEC = """\
id: t
title: T
course: c
deadline: "{deadline}"
checks:
  - check: files
    points: 1
"""


def spec_for(deadline: str = "2020-10-27 23:59", extra: str = ""):
    return parse_spec_text(SPEC.format(deadline=deadline) + extra, "t.yaml")


def fetch(tmp_path: Path, repo: Path, spec=None, **kw):
    spec = spec or spec_for()
    return fetch_submission(spec, str(repo), "ABC123", tmp_path / "work", tmp_path / "cache", **kw)


def test_dst_edge_commit_in_last_hour_is_on_time(tmp_path: Path) -> None:
    # 2020-10-25 23:59 Budapest is 22:59 UTC (summer time ended that day)
    repo = tmp_path / "s"
    first = git_save(repo, "a", date="2020-10-25T10:00:00+01:00", files={"a.txt": "1"})
    on_time = git_save(repo, "b", date="2020-10-25T22:30:00+00:00", files={"a.txt": "2"})
    git_save(repo, "c", date="2020-10-25T23:00:00+00:00", files={"a.txt": "3"})
    sub = fetch(tmp_path, repo, spec_for("2020-10-25 23:59"))
    assert sub.main.commit == on_time != first
    assert sub.pin.commits_after_deadline == 1
    assert (sub.main.workdir / "a.txt").read_text() == "2"


def test_commit_exactly_at_deadline_counts(tmp_path: Path) -> None:
    repo = tmp_path / "s"
    git_save(repo, "a", date="2020-10-27T12:00:00+01:00", files={"a.txt": "1"})
    exact = git_save(repo, "b", date="2020-10-27T23:59:00+01:00", files={"a.txt": "2"})
    git_save(repo, "c", date="2020-10-27T23:59:01+01:00", files={"a.txt": "3"})
    sub = fetch(tmp_path, repo)
    assert sub.main.commit == exact
    assert sub.pin.commits_after_deadline == 1


def test_backdated_commit_on_top_of_late_one(tmp_path: Path) -> None:
    repo = tmp_path / "s"
    good = git_save(repo, "a", date="2020-10-26T12:00:00+01:00", files={"a.txt": "1"})
    late = git_save(repo, "late", date="2020-10-29T12:00:00+01:00", files={"a.txt": "2"})
    backdated = git_save(repo, "old", date="2020-10-27T10:00:00+01:00", files={"a.txt": "3"})
    sub = fetch(tmp_path, repo)
    assert sub.main.commit == good
    assert sub.pin.commits_after_deadline == 2
    kinds = {(a.sha, a.kind) for a in sub.pin.anomalies}
    assert (backdated, "backdated_after_late") in kinds
    assert (backdated, "earlier_than_parent") in kinds
    assert late not in {a.sha for a in sub.pin.anomalies}
    trusting = spec_for(extra="pin:\n  backdated: include\n")
    assert fetch(tmp_path / "2", repo, trusting).main.commit == backdated


def test_merge_commits_follow_first_parent(tmp_path: Path) -> None:
    repo = tmp_path / "s"
    git_save(repo, "base", date="2020-10-20T12:00:00+02:00", files={"a.txt": "base"})
    git(repo, "checkout", "-q", "-b", "feature")
    # a side-branch commit dated after the deadline, merged before it: not first-parent
    git_save(repo, "side", date="2020-10-30T12:00:00+01:00", files={"b.txt": "side"})
    git(repo, "checkout", "-q", "main")
    git_save(repo, "main work", date="2020-10-21T12:00:00+02:00", files={"a.txt": "main"})
    git(repo, "merge", "-q", "--no-ff", "-m", "merge", "feature", date="2020-10-22T12:00:00+02:00")
    merge = git(repo, "rev-parse", "HEAD")
    sub = fetch(tmp_path, repo)
    assert sub.main.commit == merge
    assert (sub.main.workdir / "b.txt").read_text() == "side"
    assert sub.pin.commits_after_deadline == 0
    assert "earlier_than_parent" in {a.kind for a in sub.pin.anomalies}


def test_empty_repo_missing_repo_missing_branch_and_too_late(tmp_path: Path) -> None:
    empty = git_init(tmp_path / "empty")
    with pytest.raises(FetchError, match="empty"):
        fetch(tmp_path, empty)
    with pytest.raises(FetchError, match="not found"):
        fetch(tmp_path, tmp_path / "nope")
    repo = tmp_path / "s"
    git_save(repo, "a", date="2020-10-20T12:00:00+02:00", files={"a.txt": "1"})
    with pytest.raises(FetchError, match="branch 'dev' not found.*main"):
        fetch(tmp_path, repo, spec_for(extra="branch: dev\n"))
    late = tmp_path / "late"
    git_save(late, "a", date="2020-11-20T12:00:00+01:00", files={"a.txt": "1"})
    with pytest.raises(FetchError, match="no commit at or before the deadline"):
        fetch(tmp_path, late)


def test_failed_fetch_is_a_result_not_a_crash(tmp_path: Path) -> None:
    result = grade(spec_for(), str(tmp_path / "missing"), "ABC123", tmp_path / "out")
    assert result.error and "not found" in result.error
    assert result.checks == [] and result.score == 0


def test_symlink_out_of_tree_removed_and_reported(tmp_path: Path) -> None:
    repo = tmp_path / "s"
    build_file_tree(repo, {"a.txt": "1", "inside.txt": "x"})
    os.symlink("/etc/passwd", repo / "passwd")
    os.symlink("../../secret", repo / "up")
    os.symlink("inside.txt", repo / "ok-link")
    git_save(repo, "a", date="2020-10-20T12:00:00+02:00")
    sub = fetch(tmp_path, repo)
    assert sub.pin.symlinks_outside == ["passwd -> /etc/passwd", "up -> ../../secret"]
    assert not (sub.main.workdir / "passwd").exists()
    assert (sub.main.workdir / "ok-link").read_text() == "x"


def test_hooks_never_run_and_submodules_not_fetched(tmp_path: Path) -> None:
    repo = tmp_path / "s"
    git_save(repo, "a", date="2020-10-20T12:00:00+02:00", files={"a.txt": "1"})
    bare = make_bare(repo)
    marker = tmp_path / "hook-ran"
    hook = bare / "hooks" / "post-checkout"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    (repo / ".gitmodules").write_text('[submodule "x"]\n\tpath = x\n\turl = /nonexistent\n')
    sub = fetch(tmp_path, bare)
    assert not marker.exists()
    assert (sub.main.workdir / "a.txt").exists()


def test_mirror_second_fetch_gets_only_new(tmp_path: Path) -> None:
    repo = tmp_path / "s"
    git_save(repo, "a", date="2020-10-20T12:00:00+02:00", files={"a.txt": "1"})
    bare = make_bare(repo)
    first = mirror(str(bare), tmp_path / "cache")
    git(repo, "push", "-q", str(bare), "main")
    git_save(repo, "b", date="2020-10-21T12:00:00+02:00", files={"a.txt": "2"})
    git(repo, "push", "-q", str(bare), "main")
    again = mirror(str(bare), tmp_path / "cache")
    assert first == again
    assert len(git(again, "log", "--format=%H", "main").split()) == 2


def test_anomalies_future_and_author_gap(tmp_path: Path) -> None:
    repo = tmp_path / "s"
    git_save(
        repo,
        "a",
        date="2020-10-20T12:00:00+02:00",
        author_date="2020-10-01T12:00:00+02:00",
        files={"a.txt": "1"},
    )
    git_save(repo, "b", date="2099-01-01T12:00:00+01:00", files={"a.txt": "2"})
    sub = fetch(tmp_path, repo)
    kinds = {a.kind for a in sub.pin.anomalies}
    assert {"author_committer_gap", "future_date"} <= kinds
