"""Gates inside an assignment and course rules across assignments, end to end: real git
repositories for every combination of milestone gates (each milestone on time or late),
gate checks, lateness and language, graded by the batch into one gradebook, then
`grader course status | export | overview`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.testing import build_file_tree, git_save, make_bare

COURSE = """\
id: test-course
title: "Deep learning (test)"
current_semester: 2020-autumn
staff:
  - {login: oktato, name: "Oktató Olga", role: instructor,
     password_hash: "scrypt:32768:8:1$c2FsdHNhbHQ$0123456789abcdef0123456789abcdef"}
assignments:
  - {id: hw, title: "Homework", weight: 1}
  - {id: proj, title: "Project", weight: 3}
semesters:
  2020-autumn:
    assignments:
      proj: {milestones: {m1: "2020-10-25 23:59"}}
rules:
  - id: signature
    title: "Signature"
    all:
      - {assignment: proj, milestone: m1}
      - {assignment: proj, milestone: m2}
  - id: homework
    title: "Homework done"
    all:
      - {assignment: hw, passed: true}
      - {assignment: hw, min_percent: 50}
  - id: offered
    title: "Offered grade"
    all:
      - {rule: signature}
      - {assignment: proj, eligible: true}
      - {assignment: proj, on_time: true}
      - {assignment: proj, check: english, description: "the project in English"}
      - {assignment: proj, check: files}
  - id: bonus
    title: "Bonus"
    any:
      - {assignment: hw, min_score: 2}
      - {assignment: proj, min_percent: 95}
outcome:
  levels:
    - {rule: offered, label: "offered grade"}
    - {rule: signature, label: "signature"}
  otherwise: "no signature"
"""
PROJ = """\
id: proj
title: "Team project"
course: "Deep learning (test)"
deadline: "2020-12-11 23:59"
milestones:
  - {id: m1, title: "Milestone 1: data", deadline: "2020-10-20 23:59"}
  - {id: m2, title: "Milestone 2: baseline", deadline: "2020-11-22 23:59"}
requires: [m1, m2]
late: {mode: percent, unit: day, percent: 10, cap: 50}
checks:
  - check: files
    id: m1-data
    milestone: m1
    points: 2
    args: {deliverables: [{glob: "data/train.csv", description: "the training data"}]}
  - check: files
    id: m2-train
    milestone: m2
    points: 2
    args: {deliverables: [{glob: "train.py", description: "the training code"}]}
  - check: files
    points: 2
    args: {deliverables: [{glob: "report.md", description: "the report"}]}
  - check: english
    points: 2
"""
HW = """\
id: hw
title: "Homework"
course: "Deep learning (test)"
deadline: "2020-10-27 23:59"
checks:
  - check: files
    gate: true
    points: 1
    args: {deliverables: [{glob: "*.ipynb", description: "the notebook"}]}
  - check: english
    points: 1
"""
ENGLISH = """# Image classification project

We collected photographs of handwritten digits, cleaned them and split them into a training,
a validation and a test set. The model is a small convolutional network trained with the
Adam optimiser; the report describes the data, the architecture, the training curves and
the evaluation on the held-out test set, with the confusion matrix and the accuracy.
"""
HUNGARIAN = """# Képosztályozási projekt

Kézzel írt számjegyekről gyűjtöttünk fényképeket, megtisztítottuk és felosztottuk őket
tanító, validációs és teszt halmazra. A modell egy kis konvolúciós háló, amelyet az Adam
optimalizálóval tanítottunk; a jelentés leírja az adatokat, az architektúrát, a tanulási
görbéket és a kiértékelést a teszt halmazon, a tévesztési mátrixszal és a pontossággal.
"""
# (m1 date, m2 date, final date, language of the final text)
ON_TIME = ("2020-10-19T10:00:00+02:00", "2020-11-20T10:00:00+01:00", "2020-12-10T10:00:00+01:00")
# after the spec's own m1 deadline (2020-10-20) but before the semester's (2020-10-25)
LATE_M1 = "2020-10-24T10:00:00+02:00"
PROJECTS = {
    "AAA111": (ON_TIME[0], ON_TIME[1], ON_TIME[2], ENGLISH),
    "BBB222": ("2020-10-27T10:00:00+01:00", ON_TIME[1], ON_TIME[2], ENGLISH),  # m1 late
    "CCC333": (ON_TIME[0], "2020-11-24T10:00:00+01:00", ON_TIME[2], ENGLISH),  # m2 late
    "DDD444": ("2020-10-27T10:00:00+01:00", "2020-11-24T10:00:00+01:00", ON_TIME[2], ENGLISH),
    "EEE555": (ON_TIME[0], ON_TIME[1], ON_TIME[2], HUNGARIAN),  # final not in English
    "FFF666": (ON_TIME[0], ON_TIME[1], "2020-12-13T10:00:00+01:00", ENGLISH),  # final late
    "KKK000": (LATE_M1, ON_TIME[1], ON_TIME[2], ENGLISH),  # m1 by the semester's deadline
}
# what each student's course looks like: proj verdict, signature, homework, offered, bonus
EXPECTED = {
    "AAA111": ("pass", "met", "met", "met", "met", "offered grade"),
    "BBB222": ("not_eligible", "not met", "not met", "not met", "not met", "no signature"),
    "CCC333": ("not_eligible", "not met", "met", "not met", "met", "no signature"),
    "DDD444": ("not_eligible", "not met", "met", "not met", "met", "no signature"),
    "EEE555": ("fail", "met", "met", "not met", "met", "signature"),
    "FFF666": ("pass", "met", "met", "not met", "met", "signature"),
    "GGG777": ("error", "not met", "met", "not met", "met", "no signature"),
    "HHH888": ("missing", "not met", "met", "not met", "met", "no signature"),
    "KKK000": ("pass", "met", "met", "met", "met", "offered grade"),
}


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def project_repo(root: Path, neptun: str) -> Path:
    m1, m2, final, text = PROJECTS[neptun]
    work = build_file_tree(root / neptun, {"README.md": ENGLISH})
    git_save(work, "data", date=m1, files={"data/train.csv": "x,y\n1,2\n"})
    git_save(work, "baseline", date=m2, files={"train.py": "# train the model\nprint(1)\n"})
    git_save(work, "final", date=final, files={"README.md": text, "report.md": text})
    return make_bare(work)


def homework_repo(root: Path, neptun: str, notebook: bool) -> Path:
    work = build_file_tree(root / f"hw-{neptun}", {"README.md": ENGLISH})
    if notebook:
        build_file_tree(work, {"hazi.ipynb": '{"cells": [], "metadata": {}, "nbformat": 4, '
                                             '"nbformat_minor": 5}'})  # fmt: skip
    git_save(work, "homework", date="2020-10-26T10:00:00+01:00")
    return make_bare(work)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("course")
    course_dir = build_file_tree(root / "course", {
        "course.yaml": COURSE, "proj.yaml": PROJ, "hw.yaml": HW,
    })  # fmt: skip
    repos = root / "repos"
    proj_rows = [(n, project_repo(repos, n)) for n in PROJECTS]
    proj_rows.append(("GGG777", repos / "nincs-ilyen.git"))
    hw_rows = [(n, homework_repo(repos, n, notebook=n != "BBB222")) for n in EXPECTED]
    book = f"sqlite:///{root / 'course.sqlite'}"
    for name, rows in (("proj", proj_rows), ("hw", hw_rows)):
        roster = root / f"{name}.csv"
        roster.write_text("neptun,name,github\n" + "".join(
            f"{n},Hallgató {n[:3]},{r}\n" for n, r in rows), encoding="utf-8")  # fmt: skip
        done = invoke("batch", str(course_dir / f"{name}.yaml"), "--roster", str(roster),
                      "--out", str(root / name), "--gradebook", book, "--rerun", "none",
                      "--no-progress")  # fmt: skip
        assert done.exit_code in (0, 1), done.output  # GGG777 cannot be graded
    return {"root": root, "book": book, "course": str(course_dir / "course.yaml")}


def test_gates_make_projects_not_eligible_with_the_reason_first(graded: dict) -> None:
    out = graded["root"] / "proj"
    for neptun, (verdict, *_rest) in EXPECTED.items():
        if verdict in ("missing",):
            continue
        result = json.loads((out / neptun / "result.json").read_text(encoding="utf-8"))
        gates = {g["id"]: g["met"] for g in result["gates"]}
        if verdict == "error":
            assert result["error"] and gates == {}
            continue
        late = {"BBB222": "m1", "CCC333": "m2", "DDD444": "m1"}.get(neptun)
        assert (gates["m1"], gates["m2"]) == (
            neptun not in ("BBB222", "DDD444"),
            neptun not in ("CCC333", "DDD444"),
        ), neptun
        html = (out / neptun / "report.html").read_text(encoding="utf-8")
        if late:
            first = html.index("Not eligible.")
            assert first < html.index('id="scores"')
            assert "not met by its deadline" in html[first : first + 800]
    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.count('<span class="reason">not eligible:') == 3
    assert "not eligible: not met by its deadline 2020-10-25T23:59:00+01:00" in page


def test_gate_check_makes_homework_not_eligible(graded: dict) -> None:
    result = json.loads((graded["root"] / "hw" / "BBB222" / "result.json").read_text())
    assert result["gates"][0]["met"] is False and result["gates"][0]["kind"] == "check"
    assert result["gates"][0]["reason"].startswith("check 'Required files' failed")


def test_course_status_every_combination(graded: dict) -> None:
    done = invoke("course", "export", "--db", graded["book"], "--course", graded["course"],
                  "--out", str(graded["root"] / "course.csv"))  # fmt: skip
    assert done.exit_code == 0, done.output
    rows = {r["neptun"]: r for r in csv.DictReader(io.StringIO(
        (graded["root"] / "course.csv").read_text(encoding="utf-8")))}  # fmt: skip
    for neptun, (verdict, signature, homework, offered, bonus, outcome) in EXPECTED.items():
        row = rows[neptun]
        got = (row["proj verdict"], row["signature"], row["homework"], row["offered"],
               row["bonus"], row["outcome"])  # fmt: skip
        assert got == (verdict, signature, homework, offered, bonus, outcome), (neptun, row)
    assert "milestone m1: not met by its deadline" in rows["BBB222"]["signature reason"]
    assert "not eligible: check 'Required files' failed" in rows["BBB222"]["homework reason"]
    assert "check english failed" in rows["EEE555"]["offered reason"]
    assert "after the deadline" in rows["FFF666"]["offered reason"]
    assert "proj could not be graded" in rows["GGG777"]["signature reason"]
    assert rows["HHH888"]["signature reason"] == "proj: no graded submission"
    # weights 1:3; a not eligible project counts 0 in the weighted total
    assert float(rows["AAA111"]["weighted_percent"]) == 100.0
    assert float(rows["CCC333"]["weighted_percent"]) == 25.0

    status = invoke("course", "status", "--db", graded["book"], "--course", graded["course"])
    assert status.exit_code == 0, status.output
    assert "AAA111 Hallgató AAA: offered grade, 100%" in status.output
    assert "  Signature: not met: proj: milestone m1: not met by its deadline" in status.output


def test_course_is_found_from_the_gradebook_or_asked_for(graded: dict) -> None:
    done = invoke("course", "status", "--db", graded["book"])
    assert done.exit_code == 2 and "--course: give the course file" in done.output


def test_moodle_export_and_validation(graded: dict) -> None:
    out = graded["root"] / "moodle.csv"
    done = invoke("course", "export", "--db", graded["book"], "--course", graded["course"],
                  "--format", "moodle", "--out", str(out))  # fmt: skip
    assert done.exit_code == 0, done.output
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows[0] == ["ID number", "Email address", "Full name", "Deep learning (test) total (%)",
                       "Deep learning (test) outcome", "Deep learning (test) (Feedback)"]  # fmt: skip
    by_id = {r[0]: r for r in rows[1:]}
    assert by_id["AAA111"][4] == "offered grade"
    assert "Signature: not met (proj: milestone m1: not met" in by_id["BBB222"][5]
    ok = invoke("course", "validate", graded["course"])
    assert ok.exit_code == 0, ok.output


def test_course_file_problems_name_file_line_and_key(tmp_path: Path) -> None:
    bad = COURSE.replace("{rule: signature}", "{rule: later}").replace(
        "role: instructor,", "role: professor,").replace(
        "password_hash: \"scrypt", "password_hash: \"hunter2-scrypt").replace(
        "{assignment: hw, min_score: 2}", "{assignment: hw2, min_score: 2}")  # fmt: skip
    bad = bad.replace("current_semester: 2020-autumn\n",
                      "current_semester: 2020-autumn\nstudent_id_pattern: '^[A-Z'\n")  # fmt: skip
    course = build_file_tree(tmp_path, {"course.yaml": bad, "proj.yaml": PROJ, "hw.yaml": HW})
    done = invoke("course", "validate", str(course / "course.yaml"))
    assert done.exit_code == 2
    text = done.output
    path = course / "course.yaml"
    assert f"{path}:4 student_id_pattern: not a regular expression" in text
    assert f"{path}:6 staff[0].role" in text
    assert f"{path}:7 staff[0].password_hash: not a PBKDF2/scrypt password hash" in text
    fixed = bad.replace("role: professor,", "role: instructor,").replace(
        "hunter2-scrypt", "scrypt").replace("student_id_pattern: '^[A-Z'\n", "")  # fmt: skip
    (course / "course.yaml").write_text(fixed, encoding="utf-8")
    text = invoke("course", "validate", str(course / "course.yaml")).output
    assert "rules[2].all[0].rule: rule 'later' must be defined above this one" in text
    assert "rules[3].any[0].assignment: 'hw2' is not an assignment of the course" in text
    right = fixed.replace("{rule: later}", "{rule: signature}").replace("hw2,", "hw,")
    (course / "course.yaml").write_text(
        right.replace("check: english,", "check: englsh,"), encoding="utf-8")  # fmt: skip
    text = invoke("course", "validate", str(course / "course.yaml")).output
    assert "rules[2].all[3].check: proj has no check 'englsh'" in text


def test_pending_is_never_met_and_overrides_count_for_scores() -> None:
    """Rules over results that are not (yet) decided: the environment failed, a check waits
    for a human, an assignment nobody was graded for; and an instructor's override."""
    from grader.course import Course
    from grader.results import CheckResult, Status, SubmissionResult
    from grader.rules import AssignmentState, evaluate

    course = Course.model_validate({
        "id": "c", "title": "C", "assignments": [{"id": "hw"}, {"id": "proj"}],
        "rules": [
            {"id": "hw-ok", "title": "HW", "all": [{"assignment": "hw", "check": "english"}]},
            {"id": "hw-score", "title": "Score", "all": [{"assignment": "hw", "min_score": 5}]},
            {"id": "proj-ok", "title": "Proj", "all": [{"assignment": "proj", "passed": True}]},
        ],
        "outcome": {"levels": [{"rule": "proj-ok", "label": "done"},
                               {"rule": "hw-ok", "label": "half"}]},
    })  # fmt: skip

    def result(status: Status) -> SubmissionResult:
        check = CheckResult(
            "english", status, 0.0, 1.0, "not enough text to judge", check="english"
        )
        return SubmissionResult("hw", "ABC123", "r", "2020-10-27T23:59:00+01:00", checks=[check],
                                max_score=10.0)  # fmt: skip

    manual = AssignmentState("hw", "graded", result(Status.MANUAL), 4.0, 10.0)
    environment = AssignmentState("hw", "graded", result(Status.ENVIRONMENT), 0.0, 10.0)
    overridden = AssignmentState("hw", "override", result(Status.PASS), 6.0, 10.0, "6 by X: ok")
    people = [{"student": s} for s in ("AAA111", "BBB222", "CCC333")]
    states = {"AAA111": {"hw": manual}, "BBB222": {"hw": environment}, "CCC333": {"hw": overridden}}
    got = {o.student: o for o in evaluate(course, people, states, graded={"hw"})}
    a, b, c = got["AAA111"], got["BBB222"], got["CCC333"]
    assert [v.met for v in a.rules] == [None, False, None]
    assert a.rules[0].reason == "hw: check english is manual: not enough text to judge"
    assert a.rules[2].reason == "proj is not graded yet"
    assert a.outcome == "pending: done, half" and not a.complete
    assert [v.met for v in b.rules] == [None, None, None]
    assert "not graded (environment)" in b.rules[0].reason
    assert [v.met for v in c.rules] == [True, True, None]  # the override's 6 points count
    assert c.outcome == "half (done pending)" and c.percent == 60.0


def test_requires_names_milestones_that_have_checks(tmp_path: Path) -> None:
    from grader.checks.registry import args_models
    from grader.spec import SpecError, parse_spec_text

    with pytest.raises(SpecError, match=r"requires: 'm3' is not among milestones: \['m1', 'm2'\]"):
        parse_spec_text(PROJ.replace("requires: [m1, m2]", "requires: [m1, m3]"), "p.yaml",
                        args_models())  # fmt: skip
    untagged = PROJ.replace("    milestone: m2\n", "")
    with pytest.raises(SpecError, match="milestone 'm2' has no required check tagged"):
        parse_spec_text(untagged, "p.yaml", args_models())


def test_self_check_leaves_milestone_gates_to_the_instructor(tmp_path: Path) -> None:
    from grader import pipeline
    from grader.results import Verdict

    spec_file = tmp_path / "proj.yaml"
    spec_file.write_text(PROJ, encoding="utf-8")
    spec = pipeline.load_assignment(str(spec_file))
    tree = build_file_tree(tmp_path / "mine", {"README.md": ENGLISH, "report.md": ENGLISH})
    result = pipeline.self_check(spec, tree)
    assert [(g["id"], g["met"]) for g in result.gates] == [("m1", None), ("m2", None)]
    assert "no complete git history here" in result.gates[0]["reason"]  # not a repository
    assert result.verdict != Verdict.NOT_ELIGIBLE


def test_a_reviewers_decision_settles_a_check_condition(graded: dict, tmp_path: Path) -> None:
    """Course rules read the layered view: a reviewer's full points on the failed English
    check of EEE555 (a bilingual report) meet the offered grade's check condition."""
    import sqlite3

    book = tmp_path / "course.sqlite"
    with sqlite3.connect(graded["book"].removeprefix("sqlite:///")) as source:
        target = sqlite3.connect(book)
        source.backup(target)  # the WAL's content too
        target.close()
    decided = invoke("gradebook", "override", "--db", str(book), "--student", "EEE555",
                     "--assignment", "proj", "--check", "english", "--points", "2",
                     "--reason", "the report is bilingual; the English half is complete",
                     "--who", "Oktató Olga")  # fmt: skip
    assert decided.exit_code == 0, decided.output
    out = tmp_path / "course.csv"
    assert invoke("course", "export", "--db", str(book), "--course", graded["course"],
                  "--out", str(out)).exit_code == 0  # fmt: skip
    rows = {r["neptun"]: r for r in csv.DictReader(io.StringIO(out.read_text(encoding="utf-8")))}
    assert (rows["EEE555"]["offered"], rows["EEE555"]["outcome"]) == ("met", "offered grade")
    assert rows["EEE555"]["proj verdict"] == "fail"  # the graded result itself is unchanged
    assert rows["AAA111"]["outcome"] == "offered grade"
