"""End to end through the CLI: grade real git repos, sync the gradebook, override one
student, export every format, and run as a Gradescope autograder."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.pipeline import load_assignment
from grader.testing import build_file_tree, git_save, make_bare

HW3 = "bme-vitmav45-2020/hw3-temperature"
README = """\
# Budapest temperature forecast

This project trains a small feed-forward neural network that predicts the daily mean
temperature in Budapest one day, one week and one month ahead. Run `python train.py`:
it reads the committed training data and writes the three predictions to a file.
"""
TRAIN = "# Train a small network on the daily means and write the forecasts.\nprint('ok')\n"
DATA = "date,mean\n" + "".join(f"2020-10-{d:02d},{10 + d % 5}.0\n" for d in range(1, 27))
PREDICTIONS = "date,predicted\n2020-10-28,9.8\n2020-11-03,8.1\n2020-11-24,3.4\n"
FILES = {"README.md": README, "train.py": TRAIN, "training_data.csv": DATA,
         "predictions.csv": PREDICTIONS}  # fmt: skip

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def repo_on_time(root: Path) -> Path:
    git_save(root, "data", date="2020-10-20T18:00:00+02:00", files={"training_data.csv": DATA})
    git_save(root, "model and predictions", date="2020-10-27T21:30:00+01:00", files=FILES)
    return make_bare(root)


def repo_mostly_late(root: Path) -> Path:
    git_save(root, "readme only", date="2020-10-26T20:00:00+01:00", files={"README.md": README})
    git_save(root, "the rest, late", date="2020-10-29T10:00:00+01:00", files=FILES)
    return make_bare(root)


def repo_all_late(root: Path) -> Path:
    git_save(root, "everything, late", date="2020-11-02T10:00:00+01:00", files=FILES)
    return make_bare(root)


@pytest.mark.slow
def test_grade_sync_override_export_every_format(tmp_path: Path) -> None:
    out, db = tmp_path / "out", f"sqlite:///{tmp_path / 'gradebook.sqlite'}"
    repos = {
        "AAA111": repo_on_time(tmp_path / "a"),
        "BBB222": repo_mostly_late(tmp_path / "b"),
        "CCC333": repo_all_late(tmp_path / "c"),
    }
    for student, bare in repos.items():
        graded = invoke("grade", HW3, "--repo", bare, "--student", student, "--out", out)
        assert graded.exit_code in (0, 1), graded.output
    files = {s: json.loads((out / s / "result.json").read_text()) for s in repos}
    assert files["CCC333"]["error"] and not files["AAA111"]["error"]
    assert files["AAA111"]["score"] > files["BBB222"]["score"]

    synced = invoke("gradebook", "sync", "--db", db, out)
    assert synced.exit_code == 0 and "imported 3, already there 0" in synced.output
    again = invoke("gradebook", "sync", "--db", db, out)
    assert "imported 0, already there 3" in again.output
    assert invoke("gradebook", "verify", "--db", db, out).exit_code == 0

    shown = invoke("gradebook", "show", "--db", db, "--assignment", "hw3-temperature")
    assert shown.exit_code == 0
    for student in repos:
        assert student in shown.output
    listed = invoke("gradebook", "show", "--db", db)
    assert "hw3-temperature" in listed.output and "Small homework 3" in listed.output

    over = invoke(
        "gradebook", "override", "--db", db, "--student", "ccc333", "--assignment",
        "hw3-temperature", "--points", "3.5", "--reason", "sent by e-mail, on time",
        "--who", "Dr. Gyires",
    )  # fmt: skip
    assert over.exit_code == 0 and "3.5 points" in over.output
    history = invoke(
        "gradebook", "history", "--db", db, "--student", "CCC333", "--assignment", "hw3-temperature"
    )
    assert "override" in history.output and "sent by e-mail" in history.output

    exported = {}
    for fmt, name in [("csv", "grades.csv"), ("moodle", "moodle.csv"), ("canvas", "canvas.csv"),
                      ("junit", "junit.xml"), ("gradescope", "gradescope")]:  # fmt: skip
        done = invoke(
            "gradebook", "export", "--db", db, "--assignment", "hw3-temperature",
            "--format", fmt, "--out", tmp_path / "exports" / name,
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        exported[fmt] = tmp_path / "exports" / name

    grades = {r["neptun"]: r for r in csv.DictReader(io.StringIO(
        exported["csv"].read_text(encoding="utf-8"), newline=""))}  # fmt: skip
    assert set(grades) == set(repos)
    assert float(grades["AAA111"]["score"]) == files["AAA111"]["score"]
    assert float(grades["BBB222"]["score"]) == files["BBB222"]["score"]
    assert grades["CCC333"]["score"] == "3.5" and grades["CCC333"]["status"] == "override"
    assert grades["CCC333"]["override_by"] == "Dr. Gyires" and grades["CCC333"]["error"]

    moodle = list(csv.reader(io.StringIO(exported["moodle"].read_text(), newline="")))
    assert moodle[0][:4] == ["ID number", "Email address", "Full name", files["AAA111"]["title"]]
    assert {row[0]: row[3] for row in moodle[1:]}["CCC333"] == "3.5"

    canvas = list(csv.reader(io.StringIO(exported["canvas"].read_text(), newline="")))
    assert canvas[1][0] == "    Points Possible"
    assert float(canvas[1][5]) == load_assignment(HW3).max_points
    assert {row[2]: row[5] for row in canvas[2:]}["CCC333"] == "3.5"

    suites = ET.fromstring(exported["junit"].read_bytes()).findall("testsuite")
    assert sorted(s.get("name") for s in suites) == sorted(repos)
    ccc = next(s for s in suites if s.get("name") == "CCC333")
    assert ccc.find("testcase/error") is not None  # could not be graded
    aaa = next(s for s in suites if s.get("name") == "AAA111")
    assert int(aaa.get("tests")) == len(files["AAA111"]["checks"])

    scope = {
        p.parent.name: json.loads(p.read_text())
        for p in exported["gradescope"].glob("*/results.json")
    }
    assert set(scope) == set(repos)
    assert (
        scope["CCC333"]["score"] == 3.5 and "Grade set by Dr. Gyires" in scope["CCC333"]["output"]
    )
    assert scope["AAA111"]["score"] == files["AAA111"]["score"]
    assert len(scope["AAA111"]["tests"]) == len(files["AAA111"]["checks"])


def test_show_prints_roster_names_as_text(tmp_path: Path) -> None:
    from grader.gradebook import Gradebook
    from grader.results import SubmissionResult

    db = f"sqlite:///{tmp_path / 'gb.sqlite'}"
    book = Gradebook(db)
    book.add_roster([{"neptun": "AAA111", "name": "[red]Eve[/red]<script>", "team": "t1"}])
    book.record(
        SubmissionResult(assignment="hw3", student="AAA111", repo="r", deadline="d", score=2,
                         max_score=4, graded_at="2026-01-01T00:00:00+00:00"),
        run_id="r",
    )  # fmt: skip
    shown = invoke("gradebook", "show", "--db", db, "--assignment", "hw3")
    assert shown.exit_code == 0 and "[red]Eve[/red]<script>" in shown.output.replace("\n", "")
    assert "2/4" in shown.output and "t1" in shown.output


def test_cli_errors_are_clear(tmp_path: Path) -> None:
    db = str(tmp_path / "gb.sqlite")  # a plain path is a SQLite file
    nothing = invoke("gradebook", "show", "--db", db, "--assignment", "hw3")
    assert nothing.exit_code == 2 and "no gradebook at" in nothing.output
    assert not Path(db).exists()  # reading never creates a database
    (tmp_path / "no-results").mkdir()
    assert invoke("gradebook", "sync", "--db", db, tmp_path / "no-results").exit_code == 0
    empty = invoke("gradebook", "show", "--db", db, "--assignment", "hw3")
    assert empty.exit_code == 2 and "unknown assignment 'hw3'" in empty.output
    bad = invoke(
        "gradebook", "override", "--db", db, "--student", "AAA111", "--assignment", "hw3",
        "--points", "1", "--reason", "x",
    )  # fmt: skip
    assert bad.exit_code == 2 and "unknown assignment" in bad.output
    fmt = invoke("gradebook", "export", "--db", db, "--assignment", "hw3", "--format", "xls",
                 "--out", tmp_path / "x")  # fmt: skip
    assert fmt.exit_code == 2 and "'xls' is not one of" in fmt.output and "'moodle'" in fmt.output
    url = invoke("gradebook", "show", "--db", "nosuch://x")
    assert url.exit_code == 2 and "not a known database" in url.output
    missing = invoke("gradebook", "sync", "--db", db, tmp_path / "nowhere")
    assert missing.exit_code == 2 and "not a folder" in missing.output
    for result in (empty, bad, fmt, url, missing):
        assert "Traceback" not in result.output


def test_gradescope_autograder_entry(tmp_path: Path) -> None:
    submission = build_file_tree(tmp_path / "autograder" / "submission", FILES)
    metadata = tmp_path / "autograder" / "submission_metadata.json"
    metadata.write_text(json.dumps({"users": [{"sid": "AAA111", "name": "<b>A</b>"}]}))
    results = tmp_path / "autograder" / "results" / "results.json"
    done = invoke(
        "gradescope", HW3, "--submission", submission, "--results", results,
        "--metadata", metadata,
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    data = json.loads(results.read_text())
    assert {"score", "output", "tests", "visibility", "stdout_visibility", "execution_time"} <= set(
        data
    )
    names = [t["name"] for t in data["tests"]]
    assert len(names) >= 4 and all(
        t.get("status", "passed") in ("passed", "failed") for t in data["tests"]
    )
    files_test = next(t for t in data["tests"] if "files" in t["tags"])
    assert files_test["status"] == "passed" and files_test["score"] == files_test["max_score"] == 2
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))

    bad_spec = tmp_path / "bad.yaml"
    bad_spec.write_text("id: x\ntitle: X\n", encoding="utf-8")
    broken = invoke("gradescope", bad_spec, "--submission", submission, "--results", results)
    assert broken.exit_code == 2
    payload = json.loads(results.read_text())
    assert payload["score"] == 0 and "spec is invalid" in payload["output"]
