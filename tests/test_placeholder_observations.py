"""Placeholders never become grades (issue 10, item 4): hw3's bundled observations are
marked as placeholders in the file, refused for scoring outside the demo, and the class
overview says that the accuracy is pending."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.checks.observed import PLACEHOLDER_OPT_IN, read_observations
from grader.cli import app
from grader.paths import SOURCE_ROOT
from tests.real_hw3 import commit_repo, weather_rows

BUNDLED = SOURCE_ROOT / "reference_solutions" / "hw3-temperature" / "observations.csv"
FILES = {
    "README.md": "# Budapest temperature forecast\n\nRun `python train.py`.\n",
    "train.py": "print('training')\n",
    "data/budapest.csv": "date,tmean\n" + "\n".join(weather_rows(date(2020, 10, 25), 90)),
    "predictions.csv": "date,prediction\n2020-10-28,9.4\n2020-11-03,10.2\n2020-11-24,4.1\n",
}


def grade_class(tmp_path: Path) -> tuple[dict, str]:
    """``grader grade`` one student with the bundled hw3 spec, then ``grader overview``:
    (the predictions check, the overview page)."""
    bare = commit_repo(tmp_path / "repo", FILES)
    out = tmp_path / "out"
    runner = CliRunner()
    args = ["grade", "hw3-temperature", "--repo", str(bare), "--student", "AAA111"]
    done = runner.invoke(app, [*args, "--out", str(out)])
    assert done.exit_code == 0, done.output
    result = json.loads((out / "AAA111" / "result.json").read_text(encoding="utf-8"))
    check = next(c for c in result["checks"] if c["check"] == "predictions")
    done = runner.invoke(app, ["overview", str(out), "--spec", "hw3-temperature"])
    assert done.exit_code == 0, done.output
    return check, (out / "index.html").read_text(encoding="utf-8")


def test_the_bundled_observations_are_marked_as_placeholders_in_the_file() -> None:
    observations = read_observations(BUNDLED)
    assert observations.values and observations.placeholders == set(observations.values)
    assert "# status: placeholder" in BUNDLED.read_text(encoding="utf-8")


def test_a_source_checkout_never_scores_against_placeholders(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("GRADER_INSTRUCTOR_DIR")  # the checkout's reference_solutions/
    monkeypatch.delenv(PLACEHOLDER_OPT_IN, raising=False)
    check, page = grade_class(tmp_path)
    assert check["facts"]["observations"] == "placeholder"
    assert check["facts"]["mae"] is None
    assert [row["observed"] for row in check["facts"]["predictions"]] == [None, None, None]
    assert check["status"] == "pass" and "accuracy pending" in check["message"]
    notes = [e["detail"] for e in check["evidence"] if e["verdict"] == "placeholder"]
    assert notes and "not used for scoring" in notes[0]
    board = page.split('id="leaderboard"', 1)[1].split("</section>", 1)[0]
    assert "Accuracy pending" in board and "placeholder" in board and "MAE" not in board


def test_only_the_demo_opts_in_and_says_so(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("GRADER_INSTRUCTOR_DIR")
    monkeypatch.setenv(PLACEHOLDER_OPT_IN, "1")
    check, page = grade_class(tmp_path)
    assert check["facts"]["observations"] == "placeholder-demo"
    assert check["facts"]["mae"] == pytest.approx((0.2 + 0.6 + 1.6) / 3, abs=1e-3)
    assert "PLACEHOLDER" in check["message"]
    assert "PLACEHOLDER observations (demo only)" in page
    demo = (SOURCE_ROOT / "examples" / "make_examples.py").read_text(encoding="utf-8")
    assert 'os.environ[PLACEHOLDER_OPT_IN] = "1"' in demo


def test_without_observations_the_overview_says_pending(tmp_path: Path) -> None:
    check, page = grade_class(tmp_path)  # the test's instructor dir has no observations
    assert check["facts"]["observations"] == "pending"
    assert "Accuracy pending: no observed temperatures yet" in page


def test_a_status_column_marks_single_rows(tmp_path: Path) -> None:
    path = tmp_path / "observations.csv"
    path.write_text(
        "date,observed_celsius,status\n2020-10-28,9.1,official\n2020-11-03,10.8,placeholder\n"
    )
    observations = read_observations(path)
    assert observations.real == {date(2020, 10, 28): 9.1}
    assert observations.placeholders == {date(2020, 11, 3)}
