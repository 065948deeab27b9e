"""hw3 predictions as real students write them, graded through the CLI (issue 10, item 1).

Each test grades a real git repository with the bundled hw3 spec and failed before the fix.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.testing import git_save
from tests.real_hw3 import (
    OTHER_HOMEWORK,
    README_TOP,
    TRAINING_CELL,
    code,
    commit_repo,
    md,
    notebook,
    weather_rows,
)

HW3 = "HF3 - homerseklet"
DATA = "date,tmean\n" + "\n".join(weather_rows(__import__("datetime").date(2020, 10, 25), 400))


def grade(tmp_path: Path, files: dict[str, str], student: str = "ABC123") -> dict:
    """``grader grade`` (bundled hw3 spec) on a fresh repository: the predictions check."""
    bare = commit_repo(tmp_path / "repo", {**OTHER_HOMEWORK, "README.md": README_TOP, **files})
    out = tmp_path / "out"
    done = CliRunner().invoke(
        app, ["grade", "hw3-temperature", "--repo", str(bare), "--student", student,
              "--out", str(out)],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    result = json.loads((out / student / "result.json").read_text(encoding="utf-8"))
    return next(c for c in result["checks"] if c["check"] == "predictions")


def predicted(check: dict) -> list[float | None]:
    return [row["value_celsius"] for row in check["facts"]["predictions"]]


def sample_cell(day: str, sample: int, position: int, value: str, count: int) -> object:
    """The cell a student wrote: the comment names the date, the output only the value."""
    month_day = day[5:].replace("-", ".")
    source = (f"# {day.replace('-', '.')} is sample {sample} at position {position} is "
              f"{month_day}\nprint(preds[{position}], end='')\nprint('celsius')")  # fmt: skip
    return code(source, f"[{value}]celsius\n", count=count)


def test_digits_of_a_date_or_an_index_are_never_predictions(tmp_path: Path) -> None:
    cells = [
        sample_cell("2020-10-28", 58, 8, "12.138337", 7),
        sample_cell("2020-11-03", 64, 14, "9.871024", 8),
        sample_cell("2020-11-24", 85, 35, "5.402211", 9),
    ]
    script = "\n\n".join(c.source for c in cells)  # the notebook exported as a script
    files = {
        f"{HW3}/README.md": "# Temperature forecast\n\nRun `Homerseklet_elorejelzes (1).ipynb`.\n",
        f"{HW3}/2019_learn_data.csv": DATA,
        f"{HW3}/hf3_prediction.py": "import numpy as np\n\n" + script + "\n",
        f"{HW3}/Homerseklet_elorejelzes (1).ipynb": notebook(
            [md("# Hőmérséklet előrejelzés"), code("import numpy as np", count=3),
             TRAINING_CELL, *cells]
        ),
    }  # fmt: skip
    check = grade(tmp_path, files)
    assert predicted(check) == [12.138337, 9.871024, 5.402211]
    assert check["status"] == "pass" and check["points"] == 3.0
    where = [row["where"] for row in check["facts"]["predictions"]]
    assert where == [f"{HW3}/Homerseklet_elorejelzes (1).ipynb:cell {n}" for n in (4, 5, 6)]
    details = " ".join(e["detail"] for e in check["evidence"])
    assert "its date from the cell's code" in details and "10.28" not in predicted(check)


def test_hungarian_months_with_odd_spacing_and_values_on_the_next_line(tmp_path: Path) -> None:
    output = (
        "Előrejelzett hőmérsékletek:\nOkt. 28\n[13.3697]\nnov.  3\n[8.0412]\nnov. 24\n[4.5518]\n"
    )
    files = {
        f"{HW3}/budapest_wheather_data.csv": DATA,
        f"{HW3}/HF3.ipynb": notebook([
            md("## Eredmények\nA 1 day modell 3 napos ablakkal, a 1 week 6.6 fokos hibával, "
               "a 1 month modell 30 nappal dolgozik."),
            TRAINING_CELL,
            code("for d, p in zip(napok, preds):\n    print(d)\n    print(p)", output, count=15),
        ]),
    }  # fmt: skip
    check = grade(tmp_path, files)
    assert predicted(check) == [13.3697, 8.0412, 4.5518]
    assert check["status"] == "pass"


def test_two_values_for_one_date_go_to_a_human_with_both_places(tmp_path: Path) -> None:
    files = {
        f"{HW3}/data.csv": DATA,
        f"{HW3}/predictions_2020.txt": "2020.10.28 [12.1]celsius\n2020.11.03 tensor([8.3])\n"
        "2020.11.24 array([[4.2]], dtype=float32)\n",
        f"{HW3}/forecast.ipynb": notebook([
            TRAINING_CELL,
            code("show(preds)", "2020-10-28 12.1°C\n2020-11-03: 9.9 °C\n2020-11-24: 4.18\n",
                 count=20),
        ]),
    }  # fmt: skip
    check = grade(tmp_path, files)
    assert check["status"] == "manual" and check["points"] == 0.0
    assert "2020-11-03" in check["message"]
    rows = check["facts"]["predictions"]
    assert rows[0]["value_celsius"] == 12.1 and rows[2]["value_celsius"] == 4.2
    assert rows[1]["value_celsius"] is None
    candidates = {c["value_celsius"]: c["where"] for c in rows[1]["candidates"]}
    assert candidates == {
        8.3: [f"{HW3}/predictions_2020.txt:2"], 9.9: [f"{HW3}/forecast.ipynb:cell 2"]
    }  # fmt: skip
    manual = next(e for e in check["evidence"] if e["verdict"] == "manual")
    assert "8.3" in manual["detail"] and "9.9" in manual["detail"]


def two_predictions(work: Path) -> None:
    """A student's hw3 with the 1-day and 1-week predictions only (the 1-month one missing)."""
    git_save(work, "HF3", date="2020-10-26T20:00:00+01:00", files={
        "README.md": "# Budapest temperature forecast\n\nRun `python train.py`.\n",
        "train.py": "print('training')\n",
        "data/train.csv": DATA,
        "predictions.csv": "date,prediction\n2020-10-28,9.4\n2020-11-03,10.2\n",
    })  # fmt: skip


@pytest.mark.parametrize("name", ["out.json", "grader-result.json"])
def test_the_graders_own_json_output_is_never_student_work(tmp_path: Path, name: str) -> None:
    work = tmp_path / "work"
    two_predictions(work)
    runner = CliRunner()
    first = runner.invoke(app, ["check", "hw3-temperature", str(work), "--format", "json"])
    (work / name).write_text(first.stdout, encoding="utf-8")  # `grader check ... > out.json`
    second = runner.invoke(app, ["check", "hw3-temperature", str(work), "--format", "json"])
    before, after = json.loads(first.stdout), json.loads(second.stdout)
    assert after["score"] == before["score"]
    check = next(c for c in after["checks"] if c["check"] == "predictions")
    assert predicted(check) == [9.4, 10.2, None] and check["status"] == "fail"
    assert check["facts"]["grader_output_skipped"] == [name]


@pytest.mark.parametrize("output_format", ["text", "github", "junit"])
def test_the_graders_own_output_in_any_format_is_never_student_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, output_format: str
) -> None:
    """`grader check ... > out.txt` (text, GitHub commands, JUnit): its "Score: 3 / 11", the
    dates and the numbers around them were read as a 1-month prediction of 3.0 °C."""
    monkeypatch.setenv("COLUMNS", "120")
    work = tmp_path / "work"
    two_predictions(work)
    runner = CliRunner()
    args = ["check", "hw3-temperature", str(work)]
    before = runner.invoke(app, [*args, "--format", "json"])
    shown = runner.invoke(app, [*args, "--format", output_format])
    assert "2020-11-24" in shown.stdout or output_format == "junit"  # the dates it would read
    (work / "kimenet.txt").write_text(shown.stdout, encoding="utf-8")  # "output", in Hungarian
    after = runner.invoke(app, [*args, "--format", "json"])
    first, second = json.loads(before.stdout), json.loads(after.stdout)
    assert second["score"] == first["score"]
    check = next(c for c in second["checks"] if c["check"] == "predictions")
    assert predicted(check) == [9.4, 10.2, None] and check["status"] == "fail"
    assert check["facts"]["grader_output_skipped"] == ["kimenet.txt"]


def test_a_students_own_results_text_is_still_read() -> None:
    from grader.results import is_grader_output

    table = "date,prediction\n2020-10-28,9.4\n2020-11-03,10.2\n2020-11-24,3.0\n"
    notes = "Score: 3 / 11 on the validation set\n2020-11-24: 3.0 celsius\n"
    assert not is_grader_output(table) and not is_grader_output(notes)
    assert not is_grader_output('{"checks": [], "score": 1}')
