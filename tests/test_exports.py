"""Every export format, parsed back; hostile student strings survive as text."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

import pytest

from grader.exports import (
    canvas_csv,
    grades_csv,
    gradescope_json,
    gradescope_results,
    junit_xml,
    moodle_csv,
)
from grader.exports.common import number, text_cell
from grader.gradebook.rows import GradeRow, OverrideInfo
from grader.results import CheckResult, Evidence, Status, SubmissionResult

EVIL = 'Zoë "<script>alert(1)</script>", Jr.\nline'
FORMULA = '=HYPERLINK("http://x","y")'


def result(student: str = "ABC123", error: str | None = None) -> SubmissionResult:
    checks = [
        CheckResult(id="files", status=Status.PASS, points=2, max_points=2, message="all there",
                    title="Deliverables", check="files"),
        CheckResult(id="english", status=Status.FAIL, points=0.5, max_points=2,
                    message=f"not English: {EVIL}", check="english",
                    evidence=[Evidence(path="README.md", line=3, verdict="hu", detail="\x1b[31m")]),
        CheckResult(id="git", status=Status.ERROR, points=0, max_points=1, message="crashed <b>"),
        CheckResult(id="notebooks", status=Status.SKIPPED, points=0, max_points=0,
                    message="no notebook", required=False),
        CheckResult(id="readme", status=Status.WARN, points=1, max_points=1, message="short"),
        CheckResult(id="review", status=Status.MANUAL, points=0, max_points=1, message="look"),
    ]  # fmt: skip
    return SubmissionResult(
        assignment="hw3-temperature", student=student, repo="/r.git", deadline="2020-10-27",
        commit="abc", score=2.5, max_score=7, late_penalty=1.0, error=error,
        graded_at="2026-01-01T10:00:00+00:00", title="Small homework 3",
        checks=[] if error else checks,
    )  # fmt: skip


def rows() -> list[GradeRow]:
    res = result()
    graded = GradeRow(
        student="ABC123", assignment="hw3-temperature", name=EVIL, email="anna@example.com",
        team="owls, \"the\"", score=2.5, max_score=7, graded_score=2.5, late_penalty=1.0,
        late=True, commits_after_deadline=3, runs=2, counts={"pass": 1, "fail": 1, "error": 1},
        result_json=res.to_json(),
    )  # fmt: skip
    overridden = GradeRow(
        student="DEF456", assignment="hw3-temperature", name=FORMULA, email="b@example.com",
        score=6.0, max_score=7, graded_score=4.0, runs=1, result_json=result("DEF456").to_json(),
        override=OverrideInfo(6.0, "wiki README, agreed by mail", "Dr. Gyires", "2026-01-02"),
    )  # fmt: skip
    missing = GradeRow(student="GHI789", assignment="hw3-temperature", name="Missing One")
    return [graded, overridden, missing]


def parse_csv(text: str) -> list[list[str]]:
    assert "\r\n" in text
    return list(csv.reader(io.StringIO(text, newline="")))


def test_number_and_text_cell() -> None:
    assert [number(v) for v in (2.0, 1.25, 1 / 3, 0.0, None, -0.00001)] == [
        "2", "1.25", "0.3333", "0", "", "0",
    ]  # fmt: skip
    assert text_cell("=1+1") == "'=1+1" and text_cell("@x") == "'@x" and text_cell("Anna") == "Anna"


def test_grades_csv_round_trips_hostile_names() -> None:
    table = list(csv.DictReader(io.StringIO(grades_csv(rows()), newline="")))
    assert [r["neptun"] for r in table] == ["ABC123", "DEF456", "GHI789"]
    first, second, third = table
    assert first["name"] == EVIL and first["team"] == 'owls, "the"'
    assert (first["score"], first["max_score"], first["late_penalty"], first["late"]) == (
        "2.5", "7", "1", "yes",
    )  # fmt: skip
    assert first["status"] == "graded" and first["checks_fail"] == "1" and first["runs"] == "2"
    assert first["commits_after_deadline"] == "3"
    assert second["name"] == "'" + FORMULA  # never a live formula in a spreadsheet
    assert (second["score"], second["graded_score"], second["status"]) == ("6", "4", "override")
    assert second["override_reason"] == "wiki README, agreed by mail"
    assert second["override_by"] == "Dr. Gyires"
    assert (third["status"], third["score"]) == ("missing", "")


def test_moodle_csv_maps_by_id_number_and_skips_ungraded() -> None:
    header, *body = parse_csv(moodle_csv(rows(), "Homework 3"))
    assert header == [
        "ID number", "Email address", "Full name", "Homework 3", "Homework 3 (Feedback)",
    ]  # fmt: skip
    assert [r[0] for r in body] == ["ABC123", "DEF456"]  # the missing student is left out
    assert body[0][2] == EVIL and body[0][3] == "2.5"
    assert "Late penalty: -1 points" in body[0][4] and "2 check(s) failed" in body[0][4]
    assert body[1][3] == "6" and "Grade set by Dr. Gyires: wiki README" in body[1][4]
    default = parse_csv(moodle_csv(rows()))[0]
    assert default[3] == "Small homework 3"  # the assignment title by default


def test_canvas_csv_layout() -> None:
    header, points, *body = parse_csv(canvas_csv(rows(), "Homework 3", canvas_id="4711"))
    assert header == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "Homework 3 (4711)",
    ]
    assert points == ["    Points Possible", "", "", "", "", "7"]
    assert body[0] == [EVIL, "", "ABC123", "anna@example.com", "", "2.5"]
    assert body[1][2:] == ["DEF456", "b@example.com", "", "6"] and len(body) == 2
    assert parse_csv(canvas_csv(rows()))[0][-1] == "Small homework 3"


def test_gradescope_results_schema() -> None:
    data = json.loads(gradescope_json(result(), execution_time=3.4, leaderboard=[
        {"name": "MAE", "value": 1.7, "order": "asc"}]))  # fmt: skip
    assert set(data) == {
        "score", "output", "visibility", "stdout_visibility", "tests", "execution_time",
        "leaderboard",
    }  # fmt: skip
    assert data["score"] == 2.5 and data["execution_time"] == 3
    assert data["visibility"] == "visible" and data["stdout_visibility"] == "hidden"
    assert "Late penalty: -1" in data["output"] and "Required checks to fix" in data["output"]
    assert data["leaderboard"] == [{"name": "MAE", "value": 1.7, "order": "asc"}]
    tests = data["tests"]
    assert [t["number"] for t in tests] == ["1", "2", "3", "4", "5", "6"]
    for test in tests:
        assert isinstance(test["score"], int | float) and isinstance(test["max_score"], int | float)
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert isinstance(test["tags"], list) and test["visibility"] == "visible"
        assert test.get("status", "passed") in ("passed", "failed")
    status = {t["name"]: t.get("status") for t in tests}
    assert status == {
        "Deliverables": "passed", "english": "failed", "git": "failed", "notebooks": None,
        "readme": "passed", "review": "failed",
    }  # fmt: skip
    english = tests[1]
    assert english["score"] == 0.5 and english["max_score"] == 2 and english["tags"] == ["english"]
    assert EVIL in english["output"] and "README.md:3 - hu" in english["output"]


def test_gradescope_override_error_and_bad_visibility() -> None:
    data = gradescope_results(result(), score=6.0, note="Grade set by TA: ok")
    assert data["score"] == 6.0 and "Grade set by TA" in data["output"]
    broken = gradescope_results(result(error="no commit before the deadline"))
    assert broken["score"] == 2.5 and broken["tests"] == []
    assert broken["output"].startswith("Could not be graded: no commit")
    with pytest.raises(ValueError, match="visibility must be one of"):
        gradescope_results(result(), visibility="public")
    with pytest.raises(ValueError, match="leaderboard entry"):
        gradescope_results(result(), leaderboard=[{"value": 1}])


def test_junit_xml_parses_and_escapes() -> None:
    evil = result(student=EVIL)
    text = junit_xml([result(), evil, result("NOREPO", error="clone failed: <html>")])
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "testsuites" and root.get("name") == "hw3-temperature"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == (
        "13", "2", "3", "4",
    )  # fmt: skip
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["ABC123", EVIL, "NOREPO"]
    first = suites[0]
    assert (first.get("tests"), first.get("failures"), first.get("errors")) == ("6", "1", "1")
    props = {p.get("name"): p.get("value") for p in first.iter("property")}
    assert props["score"] == "2.5" and props["commit"] == "abc"
    cases = {c.get("name"): c for c in first.findall("testcase")}
    assert cases["files"].find("failure") is None and cases["files"].find("error") is None
    failure = cases["english"].find("failure")
    assert failure.get("message") == f"not English: {EVIL}"
    assert "README.md:3 - hu - \ufffd[31m" in failure.text  # a terminal escape cannot break XML
    assert cases["git"].find("error").get("message") == "crashed <b>"
    assert cases["notebooks"].find("skipped") is not None
    assert cases["review"].find("skipped").get("message").startswith("needs manual grading")
    assert "warning: short" in cases["readme"].find("system-out").text
    assert cases["files"].get("classname") == "hw3-temperature.ABC123"
    assert suites[1].find("testcase").get("classname") == f"hw3-temperature.{EVIL}"
    norepo = suites[2].find("testcase")
    assert norepo.get("name") == "grading"
    assert norepo.find("error").get("message") == "clone failed: <html>"
    assert "<script>" not in text  # escaped, not raw markup


def test_junit_xml_of_nothing_is_valid() -> None:
    root = ET.fromstring(junit_xml([]))
    assert root.get("tests") == "0" and root.findall("testsuite") == []
