"""Exports and the gradebook never lie (issue 10, part C): a student who could not be graded
is never exported as 0, an override stays within the maximum unless it is extra credit,
and reading commands never create a database. Through the CLI on a graded class."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.testing import make_class, write_roster

SPEC = """\
id: hw
title: HW
course: c
deadline: "2020-10-27 23:59"
deliverables:
  - {glob: "readme.md", description: "README"}
  - {glob: "**/*prediction*.*", description: "the predictions"}
checks:
  - check: files
    points: 8
  - check: git_history
    points: 2
"""


def invoke(*args: str | Path):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture()
def graded(tmp_path: Path) -> dict:
    """A class of three graded by the batch: two good, one whose repository is missing."""
    spec = tmp_path / "hw.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    students = make_class(tmp_path / "class", kinds=["good", "good", "missing"])
    roster = write_roster(tmp_path / "roster.csv", students)
    out = tmp_path / "out"
    done = invoke(
        "batch", spec, "--roster", roster, "--out", out, "--no-progress", "--cache",
        tmp_path / "mirrors",
    )  # fmt: skip
    assert done.exit_code == 1, done.output  # one student could not be graded
    names = [s.neptun for s in students]
    return {"db": out / "gradebook.sqlite", "good": names[:2], "missing": names[2], "tmp": tmp_path}


def export(graded: dict, fmt: str, *extra: str):
    target = graded["tmp"] / f"export.{fmt}"
    done = invoke(
        "gradebook", "export", "--db", graded["db"], "--assignment", "hw", "--format", fmt,
        "--out", target, *extra,
    )  # fmt: skip
    return done, target


def test_an_ungraded_student_is_never_exported_as_zero(graded: dict) -> None:
    missing = graded["missing"]
    for fmt in ("moodle", "canvas", "csv"):
        done, target = export(graded, fmt)
        assert done.exit_code == 1, done.output  # before: 0
        assert f"{missing} has no grade" in done.output and "repository not found" in done.output
        assert "--allow-ungraded" in done.output
        rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8"))))
        mine = [row for row in rows if missing in row]
        if fmt == "csv":  # the grader's own CSV keeps the row, with a blank score and why
            header = rows[0]
            (row,) = mine
            assert row[header.index("score")] == "" and row[header.index("status")] == "error"
            assert "repository not found" in row[header.index("error")]
        else:
            assert mine == []  # left out: an import never writes a 0 for them
        for good in graded["good"]:
            assert any(good in row for row in rows)
    allowed, target = export(graded, "moodle", "--allow-ungraded")
    assert allowed.exit_code == 0 and f"{missing} has no grade" in allowed.output
    scope, folder = export(graded, "gradescope")
    assert scope.exit_code == 1
    assert not (folder / missing).exists() and (folder / graded["good"][0]).is_dir()
    shown = invoke("gradebook", "show", "--db", graded["db"], "--assignment", "hw")
    assert shown.exit_code == 0
    line = next(ln for ln in shown.output.splitlines() if missing in ln)
    assert " - " in line or "│ -" in line  # no score shown, never 0/10


def test_an_override_stays_within_the_maximum_unless_extra_credit(graded: dict) -> None:
    student = graded["good"][0]
    base = ["gradebook", "override", "--db", graded["db"], "--student", student,
            "--assignment", "hw", "--reason", "regraded by hand", "--who", "Dr. X"]  # fmt: skip
    refused = invoke(*base, "--points", "999")
    assert refused.exit_code == 2, refused.output  # before: accepted and exported
    assert "more than" in refused.output and "maximum of 10" in refused.output
    assert "--extra-credit" in refused.output
    assert invoke(*base, "--points", "10").exit_code == 0
    bonus = invoke(*base, "--points", "11", "--extra-credit")
    assert bonus.exit_code == 0, bonus.output
    done, target = export(graded, "csv", "--allow-ungraded")
    rows = {r["neptun"]: r for r in csv.DictReader(io.StringIO(target.read_text()))}
    assert rows[student]["score"] == "11" and rows[student]["status"] == "override"


def test_reading_commands_never_create_a_database(tmp_path: Path) -> None:
    nosuch = tmp_path / "nosuch.sqlite"
    for args in (
        ["show", "--db", nosuch],
        ["show", "--db", nosuch, "--assignment", "hw"],
        ["history", "--db", nosuch, "--student", "AAA111", "--assignment", "hw"],
        ["export", "--db", nosuch, "--assignment", "hw", "--format", "csv", "--out",
         tmp_path / "x.csv"],
        ["verify", "--db", nosuch, tmp_path],
        ["override", "--db", nosuch, "--student", "AAA111", "--assignment", "hw", "--points",
         "1", "--reason", "r", "--who", "w"],
    ):  # fmt: skip
        done = invoke("gradebook", *args)
        assert done.exit_code == 2, (args, done.output)  # before: show exited 0
        assert "no gradebook at" in done.output and "Traceback" not in done.output
        assert not nosuch.exists()
    not_a_gradebook = tmp_path / "other.sqlite"
    not_a_gradebook.write_bytes(b"")
    done = invoke("gradebook", "show", "--db", not_a_gradebook)
    assert done.exit_code == 2 and "is not a gradebook" in done.output
    assert json.dumps(not_a_gradebook.read_bytes().decode()) == '""'  # left untouched
