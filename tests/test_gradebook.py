"""The gradebook: records, teams, overrides, history, sync, and concurrent writers."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import sys
from pathlib import Path

import pytest

from grader.gradebook import Gradebook, GradebookError
from grader.gradebook.sync import sync_from_dir, verify_dir
from grader.results import CheckResult, Status, SubmissionResult, write_result

DEADLINE = "2020-10-27T23:59:00+01:00"


def make_result(
    student: str,
    score: float = 4.0,
    graded_at: str = "2026-01-01T10:00:00+00:00",
    committed_at: str = "2020-10-26T12:00:00+01:00",
    late_penalty: float = 0.0,
    error: str | None = None,
    assignment: str = "hw3-temperature",
) -> SubmissionResult:
    checks = [
        CheckResult(id="files", status=Status.PASS, points=2, max_points=2, message="ok"),
        CheckResult(id="english", status=Status.FAIL, points=0, max_points=2, message="no"),
        CheckResult(id="notebooks", status=Status.SKIPPED, points=0, max_points=0, message="-"),
    ]
    return SubmissionResult(
        assignment=assignment, student=student, repo=f"/repos/{student}.git", deadline=DEADLINE,
        commit="c0ffee" + student.lower(), committed_at=committed_at, score=score, max_score=6,
        late_penalty=late_penalty, error=error, graded_at=graded_at, title="Small homework 3",
        checks=[] if error else checks,
    )  # fmt: skip


POSTGRES = os.environ.get("GRADER_TEST_POSTGRES_URL")  # e.g. postgresql://grader@/gb?host=/tmp


def _empty_postgres(url: str) -> Gradebook:
    from grader.gradebook.models import Base

    book = Gradebook(url)
    Base.metadata.drop_all(book.engine)
    return Gradebook(url)


@pytest.fixture(params=["sqlite", *(["postgresql"] if POSTGRES else [])])
def book(request: pytest.FixtureRequest, tmp_path: Path) -> Gradebook:
    """A fresh gradebook: SQLite always, PostgreSQL too when GRADER_TEST_POSTGRES_URL is set."""
    if request.param == "postgresql":
        return _empty_postgres(POSTGRES)
    return Gradebook(f"sqlite:///{tmp_path / 'gb' / 'gradebook.sqlite'}")


def by_student(book: Gradebook, assignment: str = "hw3-temperature") -> dict:
    return {row.student: row for row in book.current(assignment)}


def test_record_and_current_with_roster_late_and_missing(book: Gradebook) -> None:
    book.add_roster(
        [
            {"neptun": "abc123", "name": "Kovács Anna", "email": "anna@example.com"},
            {"neptun": "DEF456", "name": "Nagy Béla", "email": "bela@example.com"},
        ]
    )
    late = make_result(
        "ABC123", score=3.0, late_penalty=1.0, committed_at="2020-10-28T09:00:00+01:00"
    )
    late.pin.commits_after_deadline = 2
    book.record(late, run_id="run-1")
    rows = by_student(book)
    assert set(rows) == {"ABC123", "DEF456"}
    anna = rows["ABC123"]
    assert (anna.name, anna.email, anna.score, anna.max_score) == (
        "Kovács Anna",
        "anna@example.com",
        3.0,
        6.0,
    )
    assert anna.late and anna.late_penalty == 1.0 and anna.status == "graded"
    assert anna.commits_after_deadline == 2
    assert anna.counts == {
        "pass": 1,
        "fail": 1,
        "warn": 0,
        "error": 0,
        "manual": 0,
        "skipped": 1,
        "environment": 0,
    }
    assert anna.result().checks[0].id == "files" and anna.run_id == "run-1"
    assert rows["DEF456"].status == "missing" and rows["DEF456"].score is None
    # recording the very same result again (batch, then sync) keeps one run
    book.record(late, run_id="run-2")
    assert by_student(book)["ABC123"].runs == 1


def test_latest_run_by_grading_time_wins_even_when_recorded_out_of_order(book: Gradebook) -> None:
    book.record(
        make_result("ABC123", score=5.0, graded_at="2026-01-02T10:00:00+00:00"), run_id="new"
    )
    book.record(
        make_result("ABC123", score=1.0, graded_at="2026-01-01T10:00:00+00:00"), run_id="old"
    )
    row = by_student(book)["ABC123"]
    assert (row.score, row.run_id, row.runs) == (5.0, "new", 2)
    assert [e.score for e in book.history("ABC123", "hw3-temperature")] == [1.0, 5.0]


def test_error_result_is_a_run_that_keeps_its_reason(book: Gradebook) -> None:
    book.record(make_result("ABC123", score=4.0), run_id="r1")
    book.record(
        make_result(
            "ABC123", score=0.0, error="repository not found",
            graded_at="2026-01-02T10:00:00+00:00",
        ),
        run_id="r2",
    )  # fmt: skip
    row = by_student(book)["ABC123"]
    assert row.status == "error" and row.error == "repository not found" and row.runs == 2
    assert row.counts["pass"] == 0  # the error run has no checks; the earlier run is history
    assert [e.error for e in book.history("ABC123", "hw3-temperature")] == [
        None,
        "repository not found",
    ]


def test_a_check_the_environment_stopped_is_counted_apart(book: Gradebook) -> None:
    result = make_result("ABC123")
    result.checks.append(CheckResult("rerun", Status.ENVIRONMENT, 0, 2, "no sandbox"))
    book.record(result, run_id="r")
    assert by_student(book)["ABC123"].counts == {
        "pass": 1, "fail": 1, "warn": 0, "error": 0, "manual": 0, "skipped": 1, "environment": 1,
    }  # fmt: skip


def test_a_gradebook_made_before_a_column_existed_gets_it(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    Gradebook(f"sqlite:///{db}").close()
    with sqlite3.connect(db) as conn:  # as a grader without `n_environment` left it
        conn.execute("ALTER TABLE grading_runs DROP COLUMN n_environment")
    book = Gradebook(f"sqlite:///{db}")
    book.record(make_result("ABC123"), run_id="r")
    assert by_student(book)["ABC123"].counts["environment"] == 0


def test_team_run_is_credited_to_every_member(book: Gradebook) -> None:
    book.add_roster(
        [
            {"neptun": "AAA111", "name": "A", "email": "a@x.hu", "team": "owls"},
            {"neptun": "BBB222", "name": "B", "email": "b@x.hu", "team": "owls"},
            {"neptun": "CCC333", "name": "C", "email": "c@x.hu", "team": "owls"},
            {"neptun": "DDD444", "name": "D", "email": "d@x.hu"},
        ]
    )
    book.record(make_result("owls", score=5.5), team="owls", run_id="r1")
    rows = by_student(book)
    assert {s for s, r in rows.items() if r.score == 5.5} == {"AAA111", "BBB222", "CCC333"}
    assert rows["AAA111"].team == "owls" and rows["DDD444"].status == "missing"
    # a result file named after the team (sync) is recognised without team=
    book.record(make_result("owls", score=6.0, graded_at="2026-01-03T00:00:00+00:00"), run_id="s")
    assert {r.score for s, r in by_student(book).items() if r.team == "owls"} == {6.0}
    assert "owls" not in by_student(book)


def test_override_replaces_the_score_and_keeps_history(book: Gradebook) -> None:
    book.record(make_result("ABC123", score=3.0, late_penalty=1.0), run_id="r1")
    info = book.override("abc123", "hw3-temperature", 5.0, "README was in the wiki", "dr. Gyires")
    assert info.points == 5.0 and info.who == "dr. Gyires"
    row = by_student(book)["ABC123"]
    assert (row.score, row.graded_score, row.status) == (5.0, 3.0, "override")
    assert row.override.reason == "README was in the wiki" and row.late_penalty == 1.0
    book.override("ABC123", "hw3-temperature", 4.5, "second look", "TA")
    assert by_student(book)["ABC123"].score == 4.5
    kinds = [(e.kind, e.score) for e in book.history("ABC123", "hw3-temperature")]
    assert kinds == [("run", 3.0), ("override", 5.0), ("override", 4.5)]
    # a regrade later does not undo the override
    book.record(
        make_result("ABC123", score=2.0, graded_at="2030-01-01T00:00:00+00:00"), run_id="r2"
    )
    assert by_student(book)["ABC123"].score == 4.5


@pytest.mark.parametrize(
    ("student", "assignment", "points", "reason", "who", "message"),
    [
        ("ABC123", "hw3-temperature", -1, "x", "me", "points must be a number >= 0"),
        ("ABC123", "hw3-temperature", float("nan"), "x", "me", "points must be"),
        ("ABC123", "hw3-temperature", 1, "  ", "me", "needs a reason"),
        ("ABC123", "hw3-temperature", 1, "x", "", "needs the name"),
        ("ZZZ999", "hw3-temperature", 1, "x", "me", "unknown student 'ZZZ999'"),
        ("ABC123", "hw9", 1, "x", "me", "unknown assignment 'hw9'; the gradebook has: hw3"),
    ],
)
def test_override_rejects_bad_input(
    book, student, assignment, points, reason, who, message
) -> None:
    book.record(make_result("ABC123"), run_id="r1")
    with pytest.raises(GradebookError, match=message):
        book.override(student, assignment, points, reason, who)


def test_current_of_unknown_assignment_names_the_known_ones(book: Gradebook) -> None:
    book.record(make_result("ABC123"), run_id="r1")
    with pytest.raises(GradebookError, match="unknown assignment 'nope'.*hw3-temperature"):
        book.current("nope")


def test_add_assignment_updates_max_points(book: Gradebook) -> None:
    book.add_assignment("hw4", title="Transfer learning", max_points=10, spec_hash="abc")
    assert book.assignments() == [
        {"id": "hw4", "title": "Transfer learning", "course": "", "max_points": 10.0, "graded": 0}
    ]
    book.add_assignment("hw4", max_points=12)
    assert book.assignments()[0]["max_points"] == 12.0
    assert book.assignments()[0]["title"] == "Transfer learning"


def test_sync_from_dir_imports_once_and_verify_finds_mismatches(
    tmp_path: Path, book: Gradebook
) -> None:
    out = tmp_path / "out"
    for index, student in enumerate(["AAA111", "BBB222", "CCC333"]):
        write_result(make_result(student, score=float(index)), out / student / "result.json")
    (out / "BROKEN").mkdir()
    (out / "BROKEN" / "result.json").write_text("{not json", encoding="utf-8")
    book.record(make_result("AAA111", score=0.0), run_id="batch")  # already recorded
    report = sync_from_dir(book, out)
    assert (report.imported, report.unchanged) == (2, 1)
    assert len(report.problems) == 1 and "BROKEN/result.json" in report.problems[0]
    assert sync_from_dir(book, out).imported == 0
    rows = by_student(book)
    assert [rows[s].score for s in ("AAA111", "BBB222", "CCC333")] == [0.0, 1.0, 2.0]
    assert all(row.runs == 1 for row in rows.values())
    (out / "BROKEN" / "result.json").unlink()
    assert verify_dir(book, out) == []
    # a newer grading in the gradebook that the files do not show is a mismatch
    book.record(make_result("BBB222", score=6.0, graded_at="2027-01-01T00:00:00+00:00"), run_id="x")
    problems = verify_dir(book, out)
    assert len(problems) == 1 and "BBB222" in problems[0]
    with pytest.raises(GradebookError, match="not a folder"):
        sync_from_dir(book, tmp_path / "nowhere")


@pytest.mark.skipif(not POSTGRES, reason="set GRADER_TEST_POSTGRES_URL")
def test_parallel_writers_on_postgresql() -> None:
    global _SHARED
    _SHARED = _empty_postgres(POSTGRES)
    with multiprocessing.get_context("fork").Pool(WORKERS) as pool:
        pool.map(_hammer, [(POSTGRES, w) for w in range(WORKERS)])
    rows = by_student(Gradebook(POSTGRES))
    assert len(rows) == WORKERS * PER_WORKER
    assert all(r.runs == 2 and r.score == 6.0 for r in rows.values())


def test_plain_path_and_bad_urls(tmp_path: Path) -> None:
    book = Gradebook(str(tmp_path / "sub" / "plain.sqlite"))
    book.record(make_result("ABC123"), run_id="r")
    assert (tmp_path / "sub" / "plain.sqlite").is_file()
    with sqlite3.connect(tmp_path / "sub" / "plain.sqlite") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(GradebookError, match="not a known database"):
        Gradebook("nosuchdb://x/y")
    with pytest.raises(GradebookError, match="empty"):
        Gradebook("  ")


def test_postgres_url_without_driver_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("psycopg", "psycopg2"):  # as on an install without a driver
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(GradebookError, match="driver .* not installed.*psycopg"):
        Gradebook("postgresql://grader@localhost/gradebook")


# ---- concurrency: many processes, one SQLite file ----------------------------------------
WORKERS, PER_WORKER = 6, 25
_SHARED: Gradebook | None = None


def _hammer(args: tuple[str, int]) -> int:
    url, worker = args
    # half the workers reuse the gradebook made before the fork, half open their own
    book = _SHARED if worker % 2 and _SHARED is not None else Gradebook(url)
    for i in range(PER_WORKER):
        student = f"S{worker:02d}{i:03d}"
        book.record(make_result(student, score=float(i % 7)), run_id=f"w{worker}")
        book.record(  # a second run for the same student, later
            make_result(student, score=6.0, graded_at="2026-02-01T00:00:00+00:00"),
            run_id=f"w{worker}",
        )
    return worker


def test_parallel_writers_lose_no_row(tmp_path: Path) -> None:
    global _SHARED
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    _SHARED = Gradebook(url)
    _SHARED.add_roster([{"neptun": "XYZ000", "name": "Warm up"}])
    context = multiprocessing.get_context("fork")
    with context.Pool(WORKERS) as pool:
        done = pool.map(_hammer, [(url, w) for w in range(WORKERS)])
    assert sorted(done) == list(range(WORKERS))
    book = Gradebook(url)
    rows = by_student(book)
    graded = {s: r for s, r in rows.items() if r.runs}
    assert len(graded) == WORKERS * PER_WORKER
    assert all(r.runs == 2 and r.score == 6.0 for r in graded.values())
    with sqlite3.connect(tmp_path / "shared.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM grading_runs").fetchone()[0] == 2 * len(graded)


def test_databases_without_upsert_use_the_generic_path(book, monkeypatch) -> None:
    if book.engine.dialect.name != "sqlite":
        pytest.skip("the generic path is tested once, on SQLite")
    monkeypatch.setattr(book.engine.dialect, "name", "otherdb")
    book.add_roster([{"neptun": "ABC123", "name": "Old", "team": "owls"}])
    book.add_roster([{"neptun": "ABC123", "name": "New", "team": "owls"}])
    result = make_result("ABC123")
    book.record(result, run_id="a")
    book.record(result, run_id="b")
    monkeypatch.undo()
    row = by_student(book)["ABC123"]
    assert (row.name, row.team, row.runs) == ("New", "owls", 1)


def test_current_statements_compile_for_postgresql() -> None:
    from sqlalchemy.dialects import postgresql

    from grader.gradebook.queries import current_statements

    for stmt in current_statements("hw3"):
        sql = str(stmt.compile(dialect=postgresql.dialect()))
        assert "%(assignment_1)s" in sql
    assert "row_number() OVER (PARTITION BY" in str(
        current_statements("hw3")[0].compile(dialect=postgresql.dialect())
    )
