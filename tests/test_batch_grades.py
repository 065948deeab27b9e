"""`grader batch` ends with a per-student table (or JSON) and writes OUT/grades.csv next to the
overview; `grader gradebook show --format json`."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.testing import make_class, write_roster

HW3 = "bme-vitmav45-2020/hw3-temperature"
KINDS = ["good", "late", "hungarian", "missing", "good"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    tmp = tmp_path_factory.mktemp("grades")
    students = make_class(tmp / "class", kinds=KINDS)
    roster = write_roster(tmp / "roster.csv", students)
    # a name a spreadsheet would run as a formula, and one with an accent
    text = roster.read_text(encoding="utf-8").replace("Student 2", '=HYPERLINK("x")')
    roster.write_text(text.replace("Student 4", "Ödön Őri"), encoding="utf-8")
    out = tmp / "out"
    with pytest.MonkeyPatch.context() as env:  # no instructor data, a cache of its own
        env.setenv("GRADER_CACHE", str(tmp / "cache"))
        (tmp / "no-instructor-data").mkdir()
        env.setenv("GRADER_INSTRUCTOR_DIR", str(tmp / "no-instructor-data"))
        done = CliRunner().invoke(
            app, ["batch", HW3, "--roster", str(roster), "--out", str(out), "--rerun", "none"],
            env={"COLUMNS": "250"},
        )  # fmt: skip
    assert done.exit_code == 1, done.output  # one repository is missing: not graded
    return out, done.output


def test_grades_csv_is_written_next_to_the_overview(graded: tuple[Path, str]) -> None:
    out, _ = graded
    assert (out / "index.html").is_file()
    rows = list(csv.DictReader(io.StringIO((out / "grades.csv").read_text(encoding="utf-8"))))
    assert [r["student"] for r in rows] == ["S000XZ", "S001YZ", "S002XZ", "S003YZ", "S004XZ"]
    by_id = {r["student"]: r for r in rows}
    assert by_id["S000XZ"]["verdict"] in ("pass", "fail") and by_id["S000XZ"]["score"]
    assert float(by_id["S000XZ"]["predictions"]) >= 0 and "training_data" in rows[0]
    assert by_id["S003YZ"]["verdict"] == "error" and by_id["S003YZ"]["score"] == ""
    assert "repository not found" in by_id["S003YZ"]["not_graded_reason"]
    assert by_id["S003YZ"]["files"] == ""  # not graded: no points, not zero points
    assert by_id["S002XZ"]["name"] == '\'=HYPERLINK("x")'  # never a formula
    assert by_id["S004XZ"]["name"] == "Ödön Őri"
    late = by_id["S001YZ"]
    assert late["commits_after_deadline"] == "1"
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="grades.csv"' in index


def test_batch_ends_with_a_per_student_table(graded: tuple[Path, str]) -> None:
    _, output = graded
    table = output[output.index("5 students") :]
    for sid in ("S000XZ", "S001YZ", "S002XZ", "S003YZ", "S004XZ"):
        assert sid in table
    row = next(line for line in table.splitlines() if "S003YZ" in line)
    assert "error" in row and "repository not found" in row
    assert "Ödön Őri" in table and "grades" in output


def test_batch_json_summary_keeps_stdout_parseable(graded: tuple[Path, str]) -> None:
    out, _ = graded
    roster = out.parent / "roster.csv"
    done = CliRunner().invoke(app, ["batch", HW3, "--roster", str(roster), "--out", str(out),
                                    "--rerun", "none", "--format", "json"])  # fmt: skip
    assert done.exit_code == 1
    data = json.loads(done.stdout)
    assert data["cached"] >= 3 and data["grades_csv"].endswith("grades.csv")
    results = {r["student"]: r for r in data["results"]}
    assert set(results) == {"S000XZ", "S001YZ", "S002XZ", "S003YZ", "S004XZ"}
    assert results["S003YZ"]["verdict"] == "error" and results["S003YZ"]["score"] is None
    assert "predictions" in data["checks"] and results["S000XZ"]["percent"] is not None


def test_progress_in_a_log_is_one_whole_line_per_student(graded: tuple[Path, str]) -> None:
    out, _ = graded
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    done = subprocess.run(
        [sys.executable, "-m", "grader", "batch", HW3, "--roster", str(out.parent / "roster.csv"),
         "--out", str(out), "--rerun", "none", "--force"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert [line.split("]")[0] for line in lines] == [f"[{i}/5" for i in range(1, 6)]
    assert any(line.endswith(": error") and "S003YZ" in line for line in lines)
    progress = done.stdout[: done.stdout.index("Batch ")]
    assert "━" not in progress and "\r" not in progress  # no redrawn bars in a log


def test_gradebook_show_json(graded: tuple[Path, str]) -> None:
    out, _ = graded
    db = str(out / "gradebook.sqlite")
    listed = CliRunner().invoke(app, ["gradebook", "show", "--db", db, "--format", "json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout)[0]["id"] == "hw3-temperature"
    shown = CliRunner().invoke(app, ["gradebook", "show", "--db", db, "--assignment",
                                     "hw3-temperature", "--format", "json"])  # fmt: skip
    rows = {r["student"]: r for r in json.loads(shown.stdout)}
    assert rows["S003YZ"]["status"] == "error" and "not found" in rows["S003YZ"]["error"]
    assert rows["S000XZ"]["status"] == "graded" and rows["S000XZ"]["max_score"] > 0
    assert rows["S004XZ"]["name"] == "Ödön Őri" and rows["S000XZ"]["override"] is None
