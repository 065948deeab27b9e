"""One grade through every door (issue 10, part B): the self-check judges milestones at their
pins as the instructor's run does, one maximum everywhere (report, gradebook, every
export), a backdated commit inherits the lateness it sits on, and the report says what
the grader assumed and which required check made a student fail. Plus one file mode for
every output (E14). Each test goes through the CLI on real git repositories."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.paths import resolve_spec
from grader.testing import build_file_tree, git_save, make_bare

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import make_examples as ex  # noqa: E402

HW3 = "bme-vitmav45-2020/hw3-temperature"
PROJECT = "bme-vitmav45-2020/project"


def invoke(*args: str | Path):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # rich wraps tables at 80 columns otherwise


def roster(path: Path, *rows: tuple[str, str, Path]) -> Path:
    lines = ["neptun,name,github"] + [f"{n},{name},{repo}" for n, name, repo in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ---- B5: the self-check grades milestones at their pins, as the pinned run does -------


def test_self_check_judges_milestones_at_their_pins_like_the_pinned_run(tmp_path: Path) -> None:
    team = build_file_tree(tmp_path / "team", {})
    ex.story_project_m2_late(team)  # milestone 2's work was committed a day late
    checked = invoke("check", PROJECT, team)
    assert checked.exit_code == 1, checked.output  # before: 0, "every required check passes"
    self_result = json.loads((team / ".grader" / "result.json").read_text())
    out = tmp_path / "out"
    graded = invoke(
        "grade", PROJECT, "--repo", make_bare(team), "--student", "JJJ000", "--out", out
    )
    assert graded.exit_code == 0, graded.output
    pinned = json.loads((out / "JJJ000" / "result.json").read_text())

    # the same commit and tree: every check agrees except what needs the server
    mine = {c["id"]: c for c in self_result["checks"]}
    theirs = {c["id"]: c for c in pinned["checks"]}
    differ = [
        key
        for key in theirs
        if (mine[key]["status"], mine[key]["points"])
        != (theirs[key]["status"], theirs[key]["points"])
    ]
    assert differ == ["git_history"]
    assert mine["git_history"]["pending"].startswith("the instructor's pinned run")
    for key, check in theirs.items():  # milestone checks judged at the same pinned commits
        if check["milestone"]:
            assert mine[key]["commit"] == check["commit"], key
    assert mine["m2-baseline"]["status"] == "fail"
    gates = [(g["id"], g["met"]) for g in self_result["gates"]]  # the same preconditions
    assert gates == [(g["id"], g["met"]) for g in pinned["gates"]] == [("m1", True), ("m2", False)]
    assert self_result["max_score"] == pinned["max_score"]

    # the terminal says which commit each check judged, and what only the server can judge
    m1_sha = theirs["m2-baseline"]["commit"][:10]  # the last commit before m2's deadline
    assert f"m2 pin {m1_sha}" in checked.output and "working tree" in checked.output
    assert "Not judged in this run" in checked.output
    assert "Git history and dates: judged by the instructor's pinned run" in checked.output
    assert "Required checks fail: Milestone 2" in checked.output


def test_self_check_without_a_git_repository_leaves_milestones_pending(tmp_path: Path) -> None:
    team = build_file_tree(tmp_path / "team", {})
    ex.story_project_on_time(team)
    plain = build_file_tree(tmp_path / "copy", {})
    for path in team.rglob("*"):
        if path.is_file() and ".git" not in path.relative_to(team).parts:
            target = plain / path.relative_to(team)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    done = invoke("check", PROJECT, plain, "--format", "json")
    result = json.loads(done.output)
    milestone_checks = [c for c in result["checks"] if c["milestone"]]
    assert milestone_checks and all(c["pending"] for c in milestone_checks)
    assert all(c["points"] == 0 for c in milestone_checks)  # never a confident grade
    assert result["max_score"] == 20  # the same maximum as the instructor's run


# ---- B6: one maximum ---------------------------------------------------------------------


def test_one_maximum_in_every_door_and_export(tmp_path: Path) -> None:
    """hw3 without notebooks: the optional notebooks check does not apply (out of the
    maximum); the self-check cannot judge git_history (in the maximum, pending)."""
    work = build_file_tree(tmp_path / "s", {})
    ex.story_complete(work)
    bare = make_bare(work)
    checked = invoke("check", HW3, work, "--format", "json")
    assert json.loads(checked.output)["max_score"] == 10  # before: 9
    graded = invoke("grade", HW3, "--repo", bare, "--student", "AAA111", "--out", tmp_path / "g")
    assert graded.exit_code == 0
    assert json.loads((tmp_path / "g" / "AAA111" / "result.json").read_text())["max_score"] == 10

    out = tmp_path / "class"
    rows = roster(tmp_path / "roster.csv", ("AAA111", "Anna Kovács", bare))
    batch = invoke(
        "batch", HW3, "--roster", rows, "--out", out, "--rerun", "none", "--no-progress",
        "--cache", tmp_path / "mirrors",
    )  # fmt: skip
    assert batch.exit_code == 0, batch.output
    result = json.loads((out / "AAA111" / "result.json").read_text())
    assert result["max_score"] == 10
    assert "/ 10 points" in (out / "AAA111" / "report.html").read_text()
    assert (
        "10 / 10" in (out / "index.html").read_text() or "/ 10" in (out / "index.html").read_text()
    )
    db = out / "gradebook.sqlite"

    def export(fmt: str, target: Path) -> Path:
        done = invoke(
            "gradebook", "export", "--db", db, "--assignment", "hw3-temperature", "--format",
            fmt, "--out", target,
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        return target

    canvas = list(csv.reader(io.StringIO(export("canvas", tmp_path / "c.csv").read_text())))
    assert canvas[1][0].strip() == "Points Possible" and canvas[1][-1] == "10"  # before: 11
    grades = list(csv.DictReader(io.StringIO(export("csv", tmp_path / "g.csv").read_text())))
    assert grades[0]["max_score"] == "10"
    scope = json.loads(
        (export("gradescope", tmp_path / "gs") / "AAA111" / "results.json").read_text()
    )
    assert sum(t["max_score"] for t in scope["tests"]) == 10
    junit = ElementTree.parse(export("junit", tmp_path / "j.xml"))
    props = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert props["max_score"] == "10"
    shown = invoke("gradebook", "show", "--db", db, "--assignment", "hw3-temperature")
    assert f"{result['score']:g}/10" in shown.output


NOTEBOOK = json.dumps({
    "nbformat": 4, "nbformat_minor": 5, "metadata": {},
    "cells": [{"cell_type": "code", "id": "a1", "execution_count": 1, "metadata": {},
               "source": "print('Budapest, 2020: átlaghőmérséklet')",
               "outputs": [{"output_type": "stream", "name": "stdout",
                            "text": "Budapest, 2020: átlaghőmérséklet\n"}]}],
})  # fmt: skip


def test_lms_exports_put_a_mixed_class_on_one_maximum_by_the_same_share(tmp_path: Path) -> None:
    """hw3's optional notebook applies to one student only: she is out of 11, he out of 10.
    Canvas and Moodle hold one maximum (11): his points are scaled to it (before: 9.75 of
    10 was written as 9.75 of 11), and his feedback says so."""
    plain = build_file_tree(tmp_path / "plain", {})
    ex.story_complete(plain)
    with_nb = build_file_tree(tmp_path / "nb", {})
    ex.story_complete(with_nb)
    git_save(with_nb, "Elemzés notebook", date="2020-10-27T22:00:00+01:00",
             files={"elemzés.ipynb": NOTEBOOK})  # fmt: skip
    out = tmp_path / "class"
    rows = roster(
        tmp_path / "roster.csv",
        ("AAA111", "Kovács Péter", make_bare(plain)), ("BBB222", "Nagy Réka", make_bare(with_nb)),
    )  # fmt: skip
    batch = invoke(
        "batch", HW3, "--roster", rows, "--out", out, "--rerun", "none", "--no-progress",
        "--cache", tmp_path / "mirrors",
    )  # fmt: skip
    assert batch.exit_code == 0, batch.output
    results = {s: json.loads((out / s / "result.json").read_text()) for s in ("AAA111", "BBB222")}
    assert [results[s]["max_score"] for s in ("AAA111", "BBB222")] == [10, 11]
    his = results["AAA111"]["score"]
    db = out / "gradebook.sqlite"
    scaled = f"{round(his * 11 / 10, 4):g}"

    def export(fmt: str) -> tuple[list[list[str]], str]:
        target = tmp_path / f"{fmt}.csv"
        done = invoke(
            "gradebook", "export", "--db", db, "--assignment", "hw3-temperature", "--format",
            fmt, "--out", target,
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        return list(csv.reader(io.StringIO(target.read_text()))), done.output

    canvas, said = export("canvas")
    assert canvas[1][-1] == "11"
    by_id = {row[2]: row[-1] for row in canvas[2:]}
    assert by_id == {"AAA111": scaled, "BBB222": f"{results['BBB222']['score']:g}"}
    assert "AAA111 (10)" in said and "scaled" in said
    moodle, _ = export("moodle")
    rows_by_id = {row[0]: row for row in moodle[1:]}
    assert rows_by_id["AAA111"][3] == scaled
    assert f"{his:g} of your 10 points" in rows_by_id["AAA111"][4]
    assert "scaled" not in rows_by_id["BBB222"][4]
    export("csv")
    grades = {
        r["neptun"]: r for r in csv.DictReader(io.StringIO((tmp_path / "csv.csv").read_text()))
    }
    assert grades["AAA111"]["max_score"] == "10"  # the grades CSV keeps each own maximum


# ---- B7: a backdated commit inherits the lateness it sits on ----------------------------

LATE_SPEC = """\
id: late-hw
title: Late homework
course: c
deadline: "2020-10-27 23:59"
late: {mode: percent, unit: day, percent: 10}
deliverables:
  - {glob: "readme.md", description: "README"}
checks:
  - check: files
    points: 10
"""


def test_a_backdated_commit_on_a_late_one_inherits_its_lateness(tmp_path: Path) -> None:
    spec = tmp_path / "late.yaml"
    spec.write_text(LATE_SPEC, encoding="utf-8")
    work = tmp_path / "s"
    git_save(work, "on time", date="2020-10-25T12:00:00+01:00", files={"notes.txt": "x"})
    late_sha = git_save(work, "late", date="2020-10-30T12:00:00+01:00", files={"a.py": "1"})
    git_save(work, "backdated", date="2020-10-26T12:00:00+01:00", files={"readme.md": "# Hi"})
    out = tmp_path / "out"
    done = invoke("grade", spec, "--repo", make_bare(work), "--student", "AAA111", "--out", out)
    assert done.exit_code == 0, done.output
    result = json.loads((out / "AAA111" / "result.json").read_text())
    assert result["checks"][0]["points"] == 10  # the backdated commit is the one graded
    assert result["late_penalty"] == 3  # before: 0 - three started days late, 10% each
    assert result["score"] == 7
    assert result["pin"]["late_at"].startswith("2020-10-30T12:00")
    report = (out / "AAA111" / "report.html").read_text()
    assert "Lateness" in report and late_sha[:10] in report and "as late as that one" in report
    assert "Late:" in done.output and late_sha[:10] in done.output


# ---- B8: the report states the assumptions; a red fail says why -----------------------


def test_reports_state_the_assumptions_and_why_a_student_fails(tmp_path: Path) -> None:
    spec_text = resolve_spec(PROJECT).read_text(encoding="utf-8")
    assert "another issue" not in spec_text  # the rerun exists now (stale text)
    work = build_file_tree(tmp_path / "hu", {})
    ex.story_hungarian(work)  # all there, but the README is Hungarian: a required check fails
    checked = invoke("check", HW3, work)
    assert "What the grader assumes: Build feed-forward deep neural network(s)" in " ".join(
        checked.output.split()
    )
    assert (
        "Build feed-forward deep neural network(s)"
        in (work / ".grader" / "report.html").read_text()
    )
    out = tmp_path / "class"
    rows = roster(tmp_path / "roster.csv", ("BBB222", "Bence Nagy", make_bare(work)))
    batch = invoke(
        "batch", HW3, "--roster", rows, "--out", out, "--rerun", "none", "--no-progress",
        "--cache", tmp_path / "mirrors",
    )  # fmt: skip
    assert batch.exit_code == 0, batch.output
    result = json.loads((out / "BBB222" / "result.json").read_text())
    assert result["score"] / result["max_score"] > 0.7  # a high score, and still a fail
    failed = [c["title"] for c in result["checks"] if c["required"] and c["status"] == "fail"]
    assert failed == ["Written in English"]
    overview = (out / "index.html").read_text()
    assert "required check failed: Written in English" in overview
    report = (out / "BBB222" / "report.html").read_text()
    assert "Fails because required check failed" in report and "What the grader assumed" in report


# ---- E14: one file mode for every output ---------------------------------------------


def _modes(root: Path) -> dict[str, int]:
    found = {}
    for path in [root, *root.rglob("*")]:
        rel = path.relative_to(root).as_posix()
        if "checkout" in rel.split("/") or rel.endswith((".lock", ".sqlite", "-wal", "-shm")):
            continue  # the student's files, and the database's own
        found[rel or "."] = stat.S_IMODE(path.stat().st_mode)
    return found


def test_batch_and_grade_write_the_same_modes(tmp_path: Path) -> None:
    work = build_file_tree(tmp_path / "s", {})
    ex.story_complete(work)
    bare = make_bare(work)
    old = os.umask(0o077)  # a strict umask must not make a served folder unreadable
    try:
        invoke("grade", HW3, "--repo", bare, "--student", "AAA111", "--out", tmp_path / "g")
        rows = roster(tmp_path / "roster.csv", ("AAA111", "Anna", bare), ("BBB222", "B", bare))
        invoke(
            "batch", HW3, "--roster", rows, "--out", tmp_path / "b", "--rerun", "none",
            "--no-progress", "--cache", tmp_path / "mirrors",
        )  # fmt: skip
    finally:
        os.umask(old)
    for root in (tmp_path / "g", tmp_path / "b"):
        modes = _modes(root)
        assert "AAA111/result.json" in modes and "AAA111/report.html" in modes
        wrong = {
            p: oct(m) for p, m in modes.items() if m != (0o755 if (root / p).is_dir() else 0o644)
        }
        assert wrong == {}, root
    assert "index.html" in _modes(tmp_path / "b")
