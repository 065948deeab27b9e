"""Decisions are data: per-check decisions, pair verdicts and regrade answers layered over
graded results (SQLite, and PostgreSQL when a server can be started); the CLI's per-check
override and undo; starting and stopping `grader serve`; staff accounts."""

from __future__ import annotations

import csv
import io
import json
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.exports import moodle_csv
from grader.gradebook import Gradebook, GradebookError
from grader.gradebook.decisions import effective_result, effective_rows
from grader.gradebook.review import DecisionConflict, ReviewStore
from grader.results import CheckResult, Status, SubmissionResult
from grader.web.accounts import Account, StaffError, hash_password, load_staff
from tests.postgres_server import postgres_url
from tests.review_class import grade_class, invoke

A = "hw3-temperature"
DEADLINE = "2020-10-27T23:59:00+01:00"


def result(student: str, late: bool = False, english: float = 0.0) -> SubmissionResult:
    checks = [
        CheckResult(id="files", status=Status.PASS, points=2, max_points=2, message="ok"),
        CheckResult(
            id="english",
            status=Status.MANUAL,
            points=english,
            max_points=2,
            message="not enough text to judge",
        ),  # fmt: skip
        CheckResult(id="predictions", status=Status.PASS, points=3, max_points=3, message="ok"),
    ]
    raw = sum(c.points for c in checks)
    penalty = round(raw * 0.2, 4) if late else 0.0
    return SubmissionResult(
        assignment=A, student=student, repo=f"/repos/{student}.git", deadline=DEADLINE,
        commit="c0ffee", committed_at="2020-10-29T10:00:00+01:00" if late else
        "2020-10-26T10:00:00+01:00", checks=checks, score=round(raw - penalty, 4), max_score=7,
        late_penalty=penalty, graded_at="2026-01-01T10:00:00+00:00", title="Homework 3",
    )  # fmt: skip


@pytest.fixture(scope="module")
def postgres() -> Iterator[str | None]:
    with postgres_url() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def book(request: pytest.FixtureRequest, tmp_path: Path, postgres: str | None) -> Gradebook:
    if request.param == "postgresql":
        if postgres is None:
            pytest.skip("no PostgreSQL server (initdb/pg_ctl) and no GRADER_TEST_POSTGRES_URL")
        from grader.gradebook.models import Base

        Base.metadata.drop_all(Gradebook(postgres).engine)
        book = Gradebook(postgres)
    else:
        book = Gradebook(f"sqlite:///{tmp_path / 'gradebook.sqlite'}")
    book.add_roster([{"neptun": "AAA111", "name": "Anna"}, {"neptun": "BBB222", "name": "Béla"}])
    book.record(result("AAA111"), run_id="run-1")
    book.record(result("BBB222", late=True), run_id="run-1")
    return book


def scores(book: Gradebook) -> dict[str, float | None]:
    return {row.student: row.score for row in effective_rows(book, A)}


def test_a_check_decision_is_layered_over_the_untouched_result(book: Gradebook) -> None:
    store = ReviewStore(book)
    graded = {row.student: row.result_json for row in book.current(A)}
    assert scores(book) == {"AAA111": 5.0, "BBB222": 4.0}
    entry = store.decide_check(A, "aaa111", "english", points=1.5, comment="Write more.",
                               reason="two lines", who="TA Anna", expected_version=0)  # fmt: skip
    store.decide_check(A, "BBB222", "english", points=2, reason="fine", who="TA Anna",
                       expected_version=0)  # fmt: skip
    # late: the same 20% is taken from the new points (7 * 0.8)
    assert scores(book) == {"AAA111": 6.5, "BBB222": 5.6}
    assert {row.student: row.result_json for row in book.current(A)} == graded
    row = next(r for r in effective_rows(book, A) if r.student == "AAA111")
    layered = row.result()
    assert layered is not None and layered.checks[1].points == 1.5
    assert layered.checks[1].status == Status.MANUAL and layered.verdict.value == "pass"
    assert row.graded_score == 5.0 and row.decisions["english"].who == "TA Anna"
    feedback = moodle_csv(effective_rows(book, A))
    assert "english: 0 -> 1.5 points after review" in feedback and "Write more." in feedback
    assert "two lines" not in feedback  # the reason stays in the audit log
    assert entry.old == {} and entry.new == {"points": 1.5, "comment": "Write more."}
    # a whole-grade override still wins
    book.override("AAA111", A, 3, "plagiarised", "Dr. X")
    assert scores(book)["AAA111"] == 3


def test_bad_decisions_are_clear_errors(book: Gradebook) -> None:
    store = ReviewStore(book)
    cases = [
        (dict(check_id="english", points=2.5, reason="x"), "between 0 and 2"),
        (dict(check_id="english", points=-1, reason="x"), "between 0 and 2"),
        (dict(check_id="english", points=float("nan"), reason="x"), "between 0 and 2"),
        (dict(check_id="english", points=1, reason=""), "needs a reason"),
        (dict(check_id="englsh", points=1, reason="x"), "has no check 'englsh'"),
        (dict(check_id="english", points=None, reason=""), "nothing changed"),
    ]
    for kwargs, message in cases:
        with pytest.raises(GradebookError, match=message):
            store.decide_check(A, "AAA111", who="TA", expected_version=0, **kwargs)
    with pytest.raises(GradebookError, match="unknown student"):
        store.decide_check(A, "ZZZ999", "english", points=1, reason="x", who="TA",
                           expected_version=0)  # fmt: skip
    assert store.history(A) == []


def test_the_late_penalty_must_be_derivable(tmp_path: Path) -> None:
    book = Gradebook(str(tmp_path / "gb.sqlite"))
    zero = result("AAA111", late=True)
    for check in zero.checks:
        check.points = 0
    zero.score = zero.late_penalty = 0
    book.record(zero, run_id="r")
    with pytest.raises(GradebookError, match="late penalty cannot be told"):
        ReviewStore(book).decide_check(A, "AAA111", "english", points=1, reason="x", who="TA",
                                       expected_version=0)  # fmt: skip
    # a comment alone changes no points and is fine
    ReviewStore(book).decide_check(A, "AAA111", "english", points=None, comment="Read me",
                                   who="TA", expected_version=0)  # fmt: skip


def test_a_stale_edit_is_a_conflict_that_keeps_the_current_state(book: Gradebook) -> None:
    store = ReviewStore(book)
    store.decide_check(A, "AAA111", "english", points=2, reason="ok", who="Anna",
                       expected_version=0)  # fmt: skip
    with pytest.raises(DecisionConflict) as caught:
        store.decide_check(A, "AAA111", "english", points=1, reason="short", who="Péter",
                           expected_version=0)  # fmt: skip
    assert caught.value.current.state["points"] == 2 and caught.value.current.who == "Anna"
    assert "Anna" in str(caught.value) and scores(book)["AAA111"] == 7


def test_simultaneous_writers_one_wins_one_conflicts(book: Gradebook) -> None:
    """Two graders save over the same version at the same moment (threads, own engines)."""
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def grader(name: str, points: float) -> None:
        store = ReviewStore(Gradebook(book.url))
        barrier.wait()
        try:
            store.decide_check(A, "AAA111", "english", points=points, reason=name, who=name,
                               expected_version=0)  # fmt: skip
            outcomes.append("saved")
        except DecisionConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=grader, args=(n, p)) for n, p in (("A", 1), ("B", 2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "saved"]
    assert [e.version for e in ReviewStore(book).history(A)] == [1]


def test_undo_reverts_the_latest_decision_only(book: Gradebook) -> None:
    store = ReviewStore(book)
    first = store.decide_check(A, "AAA111", "english", points=1, reason="a", who="TA",
                               expected_version=0)  # fmt: skip
    second = store.decide_check(A, "AAA111", "english", points=2, reason="b", who="TA",
                                expected_version=1)  # fmt: skip
    with pytest.raises(DecisionConflict):
        store.undo(first.id, who="TA")
    undone = store.undo(second.id, who="Dr. X")
    assert undone.undoes == second.id and undone.new == first.new and scores(book)["AAA111"] == 6
    store.undo(first.id, who="Dr. X")
    assert scores(book)["AAA111"] == 5 and store.check_decisions(A) == {}
    assert [e.describe() for e in store.history(A)] == [
        "points graded -> 1",
        "points 1 -> 2",
        "points 2 -> 1",
        "points 1 -> graded",
    ]


def test_pairs_and_regrade_requests(book: Gradebook) -> None:
    store = ReviewStore(book)
    with pytest.raises(GradebookError, match="note is required"):
        store.decide_pair(A, "BBB222", "AAA111", status="dismissed", note="", who="TA",
                          expected_version=0)  # fmt: skip
    store.decide_pair(A, "BBB222", "AAA111", status="dismissed", note="shared starter code",
                      who="TA", expected_version=0)  # fmt: skip
    assert store.pair_states(A)["AAA111|BBB222"].state["status"] == "dismissed"

    rows = list(csv.DictReader(io.StringIO(
        "Neptun,Message,Check\naaa111,\"Look at my README, please\",english\n,,\n"
        "XYZ999,who am I,\n"
    )))  # fmt: skip
    added, problems = store.import_regrades(rows, A)
    assert added == 1 and len(problems) == 2 and "unknown student 'XYZ999'" in problems[1]
    (request,) = store.regrades(A)
    assert request["status"] == "open" and request["source"] == "csv"
    store.answer_regrade(request["id"], reply="Right, 2 points.", who="TA", expected_version=0,
                         points=2)  # fmt: skip
    (request,) = store.regrades(A)
    assert request["status"] == "answered" and request["outcome"] == "changed"
    assert scores(book)["AAA111"] == 7
    with pytest.raises(DecisionConflict):
        store.answer_regrade(request["id"], reply="again", who="TB", expected_version=0)
    store.undo(request["answer_id"], who="TA")
    assert store.regrades(A)[0]["status"] == "open"


def test_layering_never_changes_the_graded_object() -> None:
    from grader.gradebook.decisions import CheckDecision

    graded = result("AAA111", late=True)
    before = graded.to_json()
    layered = effective_result(graded, {"english": CheckDecision("english", points=2)})
    assert graded.to_json() == before and layered.score == 5.6 and layered.late_penalty == 1.4


@pytest.mark.slow
def test_cli_per_check_override_undo_and_export(tmp_path: Path) -> None:
    out = grade_class(tmp_path)
    db = out / "gradebook.sqlite"

    def moodle() -> dict[str, list[str]]:
        target = tmp_path / "moodle.csv"
        done = invoke("gradebook", "export", "--db", db, "--assignment", "review-demo",
                      "--format", "moodle", "--out", target)  # fmt: skip
        assert done.exit_code == 0, done.output
        rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8"), newline="")))
        return {row[0]: row for row in rows[1:]}

    before = moodle()
    done = invoke("gradebook", "override", "--db", db, "--student", "aaa111", "--assignment",
                  "review-demo", "--check", "english", "--points", "2", "--reason",
                  "the notebook explains it", "--comment", "Good notebook.", "--who", "Dr. X")  # fmt: skip
    assert done.exit_code == 0, done.output
    number = re.search(r"decision #(\d+)", done.output).group(1)
    after = moodle()
    assert after["AAA111"][3] == str(int(before["AAA111"][3]) + 2)
    assert "Good notebook." in after["AAA111"][4]
    too_many = invoke("gradebook", "override", "--db", db, "--student", "AAA111",
                      "--assignment", "review-demo", "--check", "english", "--points", "3",
                      "--reason", "x")  # fmt: skip
    assert too_many.exit_code == 2 and "between 0 and 2" in too_many.output
    log = invoke("gradebook", "decisions", "--db", db, "--assignment", "review-demo")
    assert "Dr. X" in log.output and "points graded -> 2" in log.output
    undone = invoke("gradebook", "undo", "--db", db, "--decision", number, "--who", "Dr. X")
    assert undone.exit_code == 0 and f"reverts #{number}" in undone.output
    assert moodle() == before
    again = invoke("gradebook", "undo", "--db", db, "--decision", "99")
    assert again.exit_code == 2 and "no decision #99" in again.output
    shown = invoke("gradebook", "show", "--db", db, "--assignment", "review-demo")
    assert "Traceback" not in shown.output and "AAA111" in shown.output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_says_clearly_what_is_wrong(tmp_path: Path) -> None:
    missing = invoke("serve", tmp_path)
    assert missing.exit_code == 2 and "no gradebook there" in missing.output
    nothing = invoke("serve")
    assert nothing.exit_code == 2 and "give a batch output folder" in nothing.output
    Gradebook(str(tmp_path / "gradebook.sqlite")).close()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = invoke("serve", tmp_path, "--port", port)
    assert busy.exit_code == 2 and f"port {port} on 127.0.0.1 is taken" in busy.output
    assert "--port" in busy.output and "Traceback" not in busy.output
    course = tmp_path / "course.yaml"
    course.write_text(
        "id: dl\ntitle: DL\nassignments:\n  - {id: hw1}\nstaff:\n  - {login: x, role: boss}\n",
        encoding="utf-8",
    )
    bad = invoke("serve", tmp_path, "--course", course)
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert f"{course}:6 staff[0].role: Input should be 'instructor'" in bad.output


def test_serve_starts_and_stops_in_one_command(tmp_path: Path) -> None:
    Gradebook(str(tmp_path / "gradebook.sqlite")).close()
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "grader", "serve", str(tmp_path), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        lines = []
        for line in process.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if "Ctrl-C stops it" in line:
                break
        text = "".join(lines)
        assert f"review desk on http://127.0.0.1:{port}/" in text
        token = re.search(r"instructor token: (\S+)", text).group(1)
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login?token={token}") as page:
            body = page.read().decode()
        assert page.status == 200 and f'value="{token}"' in body
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0 and "review desk stopped" in rest


def test_staff_accounts_from_the_course_file(tmp_path: Path) -> None:
    course = tmp_path / "course.yaml"
    head = "id: dl-2020\ntitle: Deep learning\nassignments: [{id: hw3}]\n"
    course.write_text(
        head + "staff:\n"
        f"  - {{login: gyires, name: Dr. Gyires, role: instructor, password_hash: "
        f"'{hash_password('titok')}'}}\n"
        "  - {login: anna, name: Kovács Anna, role: assistant}\n",
        encoding="utf-8",
    )
    staff = load_staff(course)
    assert [(a.login, a.role, bool(a.password_hash)) for a in staff] == [
        ("gyires", "instructor", True), ("anna", "assistant", False)
    ]  # fmt: skip
    for text, message in [
        ("staff: {login: x}\n", r"course.yaml:4 staff: Input should be a valid list"),
        ("staff:\n  - {name: X, role: assistant}\n", r"course.yaml:5 staff\[0\].login: Field"),
        ("staff:\n  - {login: x, name: X, role: assistant, pasword: y}\n",
         r"staff\[0\].pasword: unknown key"),
        ("staff:\n  - {login: x, name: X, role: assistant}\n"
         "  - {login: x, name: Y, role: assistant}\n", "x"),
        ("staff:\n  - {login: x, name: X, role: teacher}\n", r"staff\[0\].role"),
        ("staff:\n  - {login: x, name: X, role: assistant, password_hash: titok}\n",
         "never write a plain password"),
        ("staff: [\n", "not valid YAML"),
    ]:  # fmt: skip
        course.write_text(head + text, encoding="utf-8")
        with pytest.raises(StaffError, match=message):
            load_staff(course)
    course.write_text(head, encoding="utf-8")
    assert load_staff(course) == []


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_password_login_and_roles(tmp_path: Path) -> None:
    from grader.web import DeskConfig, create_app

    book = Gradebook(str(tmp_path / "gb.sqlite"))
    book.record(result("AAA111"), run_id="r")
    staff = [Account("anna", "Kovács Anna", "assistant", hash_password("jelszó"))]
    app = create_app(DeskConfig(db_url=book.url, staff=staff))
    client = app.test_client()
    assert client.get("/queue").status_code == 302  # to the login page
    page = client.get("/login").get_data(as_text=True)
    wrong = client.post("/login", data={"csrf_token": _csrf(page), "login": "anna",
                                        "password": "nem"})  # fmt: skip
    assert wrong.status_code == 401 and "wrong password" in wrong.get_data(as_text=True)
    token_wrong = client.post("/login", data={"csrf_token": _csrf(page), "name": "X",
                                              "token": "guess"})  # fmt: skip
    assert token_wrong.status_code == 401
    ok = client.post("/login", data={"csrf_token": _csrf(page), "login": "anna",
                                     "password": "jelszó", "next": "//evil.example/"})  # fmt: skip
    assert ok.status_code == 302 and ok.headers["Location"] == "/"
    home = client.get("/")
    assert "Kovács Anna (assistant)" in home.get_data(as_text=True)
    assert "script-src" not in home.headers["Content-Security-Policy"]  # no scripts at all
    assert home.headers["X-Frame-Options"] == "DENY"
    assert client.get("/rules").status_code == 403
    assert client.get("/s/not-a-token/").status_code == 404


def test_a_student_link_shows_only_that_student(tmp_path: Path) -> None:
    from grader.web import DeskConfig, create_app

    book = Gradebook(str(tmp_path / "gb.sqlite"))
    book.record(result("AAA111"), run_id="r")
    other = result("BBB222")
    other.assignment = "hw4-transfer"
    book.record(other, run_id="r")
    token = ReviewStore(book).link_token("AAA111")
    client = create_app(DeskConfig(db_url=book.url)).test_client()
    mine = client.get(f"/s/{token}/").get_data(as_text=True)
    assert A in mine and "hw4-transfer" not in mine and "BBB222" not in mine
    assert client.get(f"/s/{token}/hw4-transfer").status_code == 404
    report = client.get(f"/s/{token}/{A}")
    assert report.status_code == 200 and "Ask for a regrade" in report.get_data(as_text=True)
    sent = client.post(f"/s/{token}/{A}/regrade", data={
        "csrf_token": _csrf(report.get_data(as_text=True)), "message": "   ", "check": ""})  # fmt: skip
    assert sent.status_code == 302 and ReviewStore(book).regrades() == []


def test_serve_without_the_review_extra(tmp_path: Path) -> None:
    from tests.test_extras import run_without

    done = run_without({"flask"}, ["serve", str(tmp_path)], tmp_path)
    assert done.returncode == 2 and "grader[review]" in done.stderr
    assert "Traceback" not in done.stderr


def test_results_stay_json_serialisable_after_layering(book: Gradebook) -> None:
    ReviewStore(book).decide_check(A, "AAA111", "english", points=1, reason="x", who="TA",
                                   expected_version=0)  # fmt: skip
    row = next(r for r in effective_rows(book, A) if r.student == "AAA111")
    assert json.loads(row.result_json)["score"] == 6
