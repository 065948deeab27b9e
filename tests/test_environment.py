"""The environment is never the student's fault: the contract behind "not graded
(environment)" (an exception that checks and services raise, a status, a verdict that no
cache keeps)."""

from __future__ import annotations

import errno
from datetime import UTC, datetime
from pathlib import Path

from grader.batch import store
from grader.batch.units import GradingUnit, Member
from grader.pipeline import outcome_of_exception
from grader.results import (
    CheckResult,
    EnvironmentFailure,
    Status,
    SubmissionResult,
    Verdict,
)
from grader.scoring import points_for


def _result(*statuses: Status, error: str | None = None, kind: str | None = None):
    result = SubmissionResult("hw", "ABC123", "repo", "2020-10-27T23:59:00+01:00")
    result.error, result.error_kind = error, kind
    for index, status in enumerate(statuses):
        result.checks.append(CheckResult(f"c{index}", status, 0.0, 1.0, "m"))
    return result


def test_environment_failure_becomes_its_own_status_and_costs_no_points():
    outcome = outcome_of_exception(EnvironmentFailure("bubblewrap is missing", kind="sandbox"))
    assert outcome.status == Status.ENVIRONMENT
    assert outcome.facts == {"environment": "sandbox"}
    assert "not graded (environment)" in outcome.message
    assert points_for(outcome, 3.0)[0] == 0.0


def test_a_full_disk_is_the_environment_and_a_bug_is_an_error():
    full = outcome_of_exception(OSError(errno.ENOSPC, "No space left on device"))
    assert full.status == Status.ENVIRONMENT and full.facts["environment"] == "disk"
    try:
        raise ValueError("bad row")
    except ValueError as exc:
        bug = outcome_of_exception(exc)
    assert bug.status == Status.ERROR and bug.facts["where"].startswith("test_environment.py:")


def test_one_verdict_for_every_state():
    assert _result(Status.PASS, Status.WARN).verdict == Verdict.PASS
    assert _result(Status.PASS, Status.FAIL).verdict == Verdict.FAIL
    assert _result(Status.PASS, Status.ENVIRONMENT).verdict == Verdict.ENVIRONMENT
    assert _result(error="repository not found").verdict == Verdict.ERROR
    assert _result(error="git: connection reset", kind="environment").verdict == (
        Verdict.ENVIRONMENT
    )
    assert not Verdict.ENVIRONMENT.graded and Verdict.FAIL.graded


def _unit(neptun: str) -> GradingUnit:
    deadline = datetime(2020, 10, 27, 22, 59, tzinfo=UTC)
    return GradingUnit(id=neptun, repo="repo", deadline=deadline, members=(Member(neptun),))


def test_an_environment_result_is_stored_but_never_served_from_the_cache(tmp_path: Path):
    unit = _unit("ABC123")
    ok = _result(Status.PASS)
    store.persist_unit(tmp_path, unit, ok, "key-1", lambda r: "<html>")
    assert store.is_done(tmp_path, unit, "key-1") is not None
    broken = _result(Status.PASS, Status.ENVIRONMENT)
    store.persist_unit(tmp_path, unit, broken, "key-2", lambda r: "<html>")
    assert (tmp_path / "ABC123" / "result.json").is_file()
    assert store.is_done(tmp_path, unit, "key-2") is None
    assert store.outcome_of(broken) == "error"


def test_a_fetch_stopped_by_the_environment_is_not_the_students_error(
    tmp_path: Path, monkeypatch
) -> None:
    from grader import pipeline
    from grader.testing import git_save, make_bare

    spec = pipeline.load_assignment("hw3-temperature")
    repo = git_save(tmp_path / "s", "a", date="2020-10-20T12:00:00+02:00", files={"a.py": "1"})
    assert repo

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pipeline, "fetch_submission", full_disk)
    result = pipeline.grade(spec, str(make_bare(tmp_path / "s")), "ABC123", tmp_path / "out")
    assert result.verdict == Verdict.ENVIRONMENT and result.error_kind == "environment"
    assert "disk is full" in result.error

    def git_down(*args, **kwargs):
        raise EnvironmentFailure("git could not reach github.com", kind="git")

    monkeypatch.setattr(pipeline, "fetch_submission", git_down)
    result = pipeline.grade(spec, "https://github.com/x/y", "ABC123", tmp_path / "out2")
    assert result.verdict == Verdict.ENVIRONMENT
    assert result.error == "git could not reach github.com"
