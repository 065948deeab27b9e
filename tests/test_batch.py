"""Batch engine: cache keys, probing with retries, resumable persistence, teams, executors."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader import pipeline
from grader.batch import (
    Backoff,
    BatchError,
    BatchOptions,
    NullProgress,
    gpu_need,
    is_transient,
    probe,
    run_batch,
)
from grader.batch import engine as engine_module
from grader.batch.cache import retry
from grader.batch.executors import DaskExecutor, ExecutorError, LocalExecutor, dask_address
from grader.batch.units import GradingUnit, Member
from grader.batch.worker import grade_payload
from grader.cli import app
from grader.results import Verdict, read_result
from grader.roster import load_roster
from grader.spec import parse_spec_text
from grader.testing import git, git_save, make_bare, make_class, write_roster

SPEC = """\
id: hw
title: HW
course: c
deadline: "2020-10-27 23:59"
deliverables:
  - glob: "readme.md"
    description: "README"
  - glob: "**/*prediction*.*"
    description: "the predictions"
checks:
  - check: files
    points: 2
  - check: git_history
    points: 1
"""
FAST = Backoff(attempts=3, base=0.001)


@pytest.fixture()
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "hw.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return path


def load(spec_file: Path):
    from grader.pipeline import load_assignment

    return load_assignment(spec_file)


def batch(spec_file: Path, roster: Path, out: Path, **options):
    spec = load(spec_file)
    sink = NullProgress()
    options = {"backoff": FAST, "overview": False, "cache_dir": out.parent / "mirrors", **options}
    opts = BatchOptions(**options)
    summary = run_batch(spec, spec_file, load_roster(roster, spec), out, opts, sink)
    return summary, sink


def test_transient_errors_are_told_from_missing_repositories() -> None:
    assert is_transient("fatal: unable to access 'https://github.com/a/b/': Could not resolve host")
    assert is_transient("error: RPC failed; curl 56 GnuTLS recv error; fatal: early EOF")
    assert is_transient("The requested URL returned error: 503")
    assert not is_transient("remote: Repository not found. fatal: repository not found")
    assert not is_transient("repository not found: /x (no such path)")
    assert not is_transient("fatal: Authentication failed for 'https://github.com/a/b/'")
    assert not is_transient("the repository is empty (no branches, no commits)")


def test_retry_backs_off_exponentially_and_stops() -> None:
    waits: list[float] = []
    calls = iter([OSError("timed out"), OSError("timed out"), "ok"])

    def call():
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    outcome, tries = retry(call, lambda o: isinstance(o, OSError), Backoff(5, 1.0), waits.append)
    assert (outcome, tries) == ("ok", 3)
    assert 0.8 <= waits[0] <= 1.2 and 1.6 <= waits[1] <= 2.4
    waits.clear()
    with pytest.raises(OSError):
        retry(
            lambda: (_ for _ in ()).throw(OSError("x")), lambda o: True, Backoff(3, 1), waits.append
        )
    assert len(waits) == 2


def test_probe_states(tmp_path: Path) -> None:
    repo = tmp_path / "s"
    git_save(repo, "a", date="2020-10-20T12:00:00+02:00", files={"README.md": "hi"})
    bare = make_bare(repo)
    first = probe(str(bare), FAST)
    assert first.state == "ok" and first.fingerprint and first.tries == 1
    assert probe(str(bare), FAST).fingerprint == first.fingerprint
    git(bare, "update-ref", "refs/heads/main", git(bare, "rev-parse", "main"))  # no change
    assert probe(str(bare), FAST).fingerprint == first.fingerprint
    git_save(repo, "b", date="2020-10-21T12:00:00+02:00", files={"README.md": "hi 2"})
    git(repo, "push", "-q", str(bare), "main")
    assert probe(str(bare), FAST).fingerprint != first.fingerprint
    git(tmp_path, "init", "-q", "--bare", "empty.git")
    assert probe(str(tmp_path / "empty.git"), FAST).state == "empty"
    missing = probe(str(tmp_path / "nope.git"), FAST)
    assert missing.state == "missing" and missing.tries == 1 and missing.fingerprint
    down = probe("http://127.0.0.1:9/x.git", FAST)  # nothing listens on the discard port
    assert (down.state, down.tries, down.fingerprint) == ("unreachable", 3, None)


def make_small_class(root: Path) -> Path:
    kinds = ["good", "late", "empty", "missing", "team", "team", "extension", "hungarian"]
    students = make_class(root / "class", kinds=kinds)
    return write_roster(root / "roster.csv", students)


def good_one(kinds: dict[str, str]) -> str:
    return next(n for n, k in kinds.items() if k == "good")


def mtimes(out: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/result.json")}


@pytest.mark.slow
def test_batch_persists_every_student_then_regrades_only_what_changed(
    tmp_path: Path, spec_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    roster = make_small_class(tmp_path)
    out = tmp_path / "out"
    summary, sink = batch(spec_file, roster, out, jobs=2)
    assert (summary.units, summary.students, summary.graded, summary.cached) == (7, 8, 7, 0)
    assert summary.outcomes == {"pass": 5, "fail": 1, "error": 2}
    kinds = json.loads((tmp_path / "class" / "kinds.json").read_text())
    results = {p.parent.name: read_result(p) for p in out.glob("*/result.json")}
    assert sorted(results) == sorted(kinds)
    for neptun, result in results.items():
        assert result.student == neptun
        marker = json.loads((out / neptun / "cache.json").read_text())
        assert (
            marker["outcome"] in ("pass", "fail", "error")
            and (out / neptun / "report.html").is_file()
        )
        if kinds[neptun] in ("empty", "missing"):
            assert result.error and marker["outcome"] == "error"
        else:
            assert result.commit and not result.error
    late = next(n for n, k in kinds.items() if k == "late")
    assert results[late].pin.commits_after_deadline == 1 and results[late].score < 3
    ext = next(n for n, k in kinds.items() if k == "extension")
    assert results[ext].deadline == "2020-11-03T23:59:00+01:00" and results[ext].score == 3
    team = [n for n, k in kinds.items() if k == "team"]
    assert {results[n].commit for n in team} != {None} and len(
        {results[n].commit for n in team}
    ) == 1
    assert (out / team[0] / "checkout").is_dir() and not (out / team[1] / "checkout").exists()
    assert json.loads((out / team[1] / "cache.json").read_text())["members"] == team
    facts = json.loads((out / team[1] / "result.json").read_text())["team"]
    assert facts["name"] == "team-a" and facts["graded_as"] == team[0]
    assert [m["neptun"] for m in facts["members"]] == team
    assert json.loads((out / good_one(kinds) / "result.json").read_text())["team"] is None
    manifest = json.loads((out / "batch.json").read_text())
    assert manifest["finished_at"] and all(
        u["status"] == "done" for u in manifest["units"].values()
    )
    assert json.loads((out / "students.json").read_text())[team[0]]["team"] == "team-a"
    assert ("done", f"{team[0]}:pass") in sink.events

    before = mtimes(out)
    again, sink = batch(spec_file, roster, out, jobs=2)
    assert (again.graded, again.cached, again.outcomes) == (0, 7, summary.outcomes)
    assert mtimes(out) == before and not again.executor  # no worker was even started

    good = next(n for n, k in kinds.items() if k == "good")
    work = tmp_path / "class" / "work" / good
    git_save(work, "late fix", date="2020-10-30T10:00:00+01:00", files={"x.txt": "1"})
    git(work, "push", "-q", str(tmp_path / "class" / "remotes" / f"{good}.git"), "main")
    third, _ = batch(spec_file, roster, out)
    assert (third.graded, third.cached) == (1, 6)
    changed = {n for n, t in mtimes(out).items() if t != before[n]}
    assert changed == {good}
    assert read_result(out / good / "result.json").pin.commits_after_deadline == 1

    instructor = tmp_path / "instructor"
    monkeypatch.setenv("GRADER_INSTRUCTOR_DIR", str(instructor))
    assert batch(spec_file, roster, out)[0].graded == 0  # no files for this assignment yet
    (instructor / "hw").mkdir(parents=True)
    (instructor / "hw" / "observations.csv").write_text("date,celsius\n2020-10-28,9.5\n")
    observed, _ = batch(spec_file, roster, out)  # what the checks read has changed
    assert (observed.graded, observed.cached) == (7, 0)

    forced, _ = batch(spec_file, roster, out, force=True)
    assert (forced.graded, forced.cached) == (7, 0)
    spec_file.write_text(SPEC.replace("points: 1", "points: 2"), encoding="utf-8")
    respec, _ = batch(spec_file, roster, out)
    assert (respec.graded, respec.cached) == (7, 0)
    assert read_result(out / good / "result.json").max_score == 4


class FlakyGitServer(SimpleHTTPRequestHandler):
    """Serves bare repos over git's dumb HTTP protocol; the first requests get a 503."""

    failures = 0

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        if FlakyGitServer.failures > 0:
            FlakyGitServer.failures -= 1
            self.send_error(503, "try again later")
            return
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


def test_transient_http_failures_are_retried(tmp_path: Path, spec_file: Path) -> None:
    repo = tmp_path / "s"
    git_save(
        repo,
        "a",
        date="2020-10-20T12:00:00+02:00",
        files={"README.md": "# Hi", "predictions.csv": "1"},
    )
    served = tmp_path / "served"
    served.mkdir()
    bare = make_bare(repo, served / "s.git")
    git(bare, "update-server-info")

    def handler(*args, **kwargs):
        return FlakyGitServer(*args, directory=str(served), **kwargs)

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/s.git"
        roster = tmp_path / "roster.csv"
        roster.write_text(f"neptun,github\nABC123,{url}\n", encoding="utf-8")
        FlakyGitServer.failures = 2
        summary, _ = batch(spec_file, roster, tmp_path / "out", backoff=Backoff(4, 0.01))
    finally:
        server.shutdown()
    result = read_result(tmp_path / "out" / "ABC123" / "result.json")
    assert not result.error and result.score == 3, result.error
    manifest = json.loads((tmp_path / "out" / "batch.json").read_text())
    assert manifest["units"]["ABC123"]["probe_tries"] == 3


def explode(payload: dict) -> dict:
    raise RuntimeError("worker lost")


def test_a_dead_job_is_an_error_result_that_is_retried_next_time(
    tmp_path: Path, spec_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    roster = tmp_path / "roster.csv"
    students = make_class(tmp_path / "class", kinds=["good", "good"])
    write_roster(roster, students)
    monkeypatch.setattr(engine_module, "make_executor", lambda o, s: LocalExecutor(1, job=explode))
    summary, _ = batch(spec_file, roster, tmp_path / "out")
    assert summary.outcomes["error"] == 2 and "worker lost" in summary.errors[0][1]
    # a job that died is the grader's environment, not the student's work
    assert summary.environment == 2 and "not graded (environment)" in summary.errors[0][1]
    stored = read_result(tmp_path / "out" / students[0].neptun / "result.json")
    assert stored.verdict == Verdict.ENVIRONMENT
    assert (
        json.loads((tmp_path / "out" / students[0].neptun / "cache.json").read_text())["key"]
        is None
    )
    monkeypatch.undo()
    again, _ = batch(spec_file, roster, tmp_path / "out")
    assert (again.graded, again.outcomes["pass"]) == (2, 2)


def test_out_folder_is_locked_and_options_are_checked(tmp_path: Path, spec_file: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("neptun,github\nABC123,/nowhere.git\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".batch.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        with pytest.raises(BatchError, match="another batch"):
            batch(spec_file, roster, out)
    with pytest.raises(BatchError, match="--rerun"):
        batch(spec_file, roster, out, rerun_mode="fast")
    assert dask_address("dask://10.0.0.1:8786") == "tcp://10.0.0.1:8786"
    assert dask_address("tcp://h:1") == "tcp://h:1"
    for bad in ("dask://", "dask://host", "ssh://h:1"):
        with pytest.raises(ExecutorError, match="dask://HOST:PORT"):
            dask_address(bad)
    runner = CliRunner()
    args = ["batch", str(spec_file), "--roster", str(roster), "--out", str(tmp_path / "o2")]
    bad = runner.invoke(app, [*args, "--executor", "dask://nohost"])
    assert bad.exit_code == 2 and "dask://HOST:PORT" in bad.output
    assert runner.invoke(app, [*args, "--rerun", "fast"]).exit_code == 2
    a_file = tmp_path / "file"
    a_file.write_text("x")
    not_a_folder = runner.invoke(app, [*args[:-1], str(a_file), "--no-progress"])
    assert not_a_folder.exit_code == 2 and "cannot write the results" in not_a_folder.output


def test_gpu_need_reads_the_rerun_checks() -> None:
    def spec(args: str):
        text = SPEC + f"  - check: rerun\n    points: 1\n    args: {args}\n"
        return parse_spec_text(text, "s.yaml")

    assert gpu_need(parse_spec_text(SPEC, "s.yaml"), "smoke") == "none"
    assert gpu_need(spec("{gpu: required}"), "full") == "required"
    assert gpu_need(spec("{gpu: required}"), "none") == "none"
    assert gpu_need(spec("{gpu: none}"), "smoke") == "none"
    assert gpu_need(spec("{}"), "smoke") == "optional"


def test_cli_batch_end_to_end(tmp_path: Path, spec_file: Path) -> None:
    students = make_class(tmp_path / "class", kinds=["good", "missing"])
    roster = write_roster(tmp_path / "roster.csv", students)
    args = ["batch", str(spec_file), "--roster", str(roster), "--out", str(tmp_path / "out")]
    first = CliRunner().invoke(app, [*args, "--no-progress", "--cache", str(tmp_path / "m")])
    assert first.exit_code == 1, first.output  # one student could not be graded
    assert "1 pass, 0 fail, 1 error" in first.output and "repository not found" in first.output
    second = CliRunner().invoke(app, [*args, "--cache", str(tmp_path / "m")])
    assert "from cache │ 2" in second.output


def test_a_tmpdir_too_long_for_a_socket_still_grades_the_class(
    tmp_path: Path, spec_file: Path
) -> None:
    """The local pool's fork server listens on a Unix socket under TMPDIR (107 bytes at
    most). Before: a Slurm job's or a test's long TMPDIR stopped the whole batch with
    "cannot write the results: AF_UNIX path too long"."""
    students = make_class(tmp_path / "class", kinds=["good"])
    roster = write_roster(tmp_path / "roster.csv", students)
    long_tmp = tmp_path / ("tmp-" + "x" * 100)
    long_tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(long_tmp), "COLUMNS": "200"}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("grader")), "batch", str(spec_file), "--roster",
         str(roster), "--out", str(tmp_path / "out"), "--no-progress", "--rerun", "none"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "AF_UNIX" not in done.stdout + done.stderr
    result = json.loads((tmp_path / "out" / students[0].neptun / "result.json").read_text())
    assert result["checks"] and not result.get("error")


def payload_for(spec_file: Path, repo: str, tmp_path: Path) -> dict:
    spec = load(spec_file)
    unit = GradingUnit("ABC123", repo, spec.deadline_at, (Member("ABC123"),))
    return {
        "spec_text": spec_file.read_text(), "spec_file": str(spec_file), "settings": {"rerun": "full", "hidden": True},
        "cache_dir": str(tmp_path / "m"), "backoff": {"attempts": 3, "base": 0.001},
        "unit": unit.to_dict(), "work_dir": str(tmp_path / "w"),
    }  # fmt: skip


def test_worker_retries_a_fetch_that_fails_on_the_network(tmp_path: Path, spec_file: Path) -> None:
    answer = grade_payload(payload_for(spec_file, "http://127.0.0.1:9/x.git", tmp_path))
    assert answer["tries"] == 3 and "connect" in answer["result"]["error"].lower()
    repo = tmp_path / "s"
    git_save(repo, "a", date="2020-10-20T12:00:00+02:00", files={"README.md": "# Hi"})
    answer = grade_payload(payload_for(spec_file, str(repo), tmp_path))
    assert answer["tries"] == 1 and answer["result"]["commit"]
    json.dumps(answer)  # plain JSON crosses the process boundary, never a pickled object


def test_worker_passes_the_rerun_mode(
    tmp_path: Path, spec_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict = {}
    real = pipeline.grade

    def grade(spec, repo, student, work_dir, cache_dir=None, deadline=None, settings=None):
        seen["mode"] = settings.rerun
        return real(spec, repo, student, work_dir, cache_dir=cache_dir, deadline=deadline)

    monkeypatch.setattr(pipeline, "grade", grade)
    grade_payload(payload_for(spec_file, str(tmp_path / "missing"), tmp_path))
    assert seen == {"mode": "full"}


def test_unreachable_dask_scheduler_is_a_clear_error() -> None:
    with pytest.raises(ExecutorError, match="no Dask scheduler answers at tcp://127.0.0.1:9"):
        DaskExecutor("dask://127.0.0.1:9", connect_timeout=1)


def test_results_of_students_not_on_the_roster_are_reported(
    tmp_path: Path, spec_file: Path
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("neptun,github\nABC123,/nowhere.git\n", encoding="utf-8")
    out = tmp_path / "out"
    (out / "OLD999").mkdir(parents=True)
    (out / "OLD999" / "result.json").write_text("{}")
    summary, _ = batch(spec_file, roster, out)
    assert any("OLD999" in w for w in summary.warnings)
    assert summary.outcomes["error"] == 1


def test_a_worker_uses_the_batchs_instructor_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fork server keeps the environment it started with: each job carries the batch's."""
    from grader.batch.worker import apply_instructor_env

    mine = tmp_path / "instructor"
    mine.mkdir()
    monkeypatch.setenv("GRADER_INSTRUCTOR_DIR", str(tmp_path / "stale"))
    monkeypatch.setenv("GRADER_DEMO_PLACEHOLDERS", "1")
    apply_instructor_env({"GRADER_INSTRUCTOR_DIR": str(mine)})
    assert os.environ["GRADER_INSTRUCTOR_DIR"] == str(mine)
    assert "GRADER_DEMO_PLACEHOLDERS" not in os.environ
    apply_instructor_env({"GRADER_INSTRUCTOR_DIR": str(tmp_path / "not-on-this-machine")})
    assert os.environ["GRADER_INSTRUCTOR_DIR"] == str(mine)
