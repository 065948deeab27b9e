"""One spec for every semester: the bundled hw3 graded for 2018, 2019 and 2020 from the same
spec, each with its own deadline and target dates (2018: +1/+7/+35 days, 2019 and 2020:
+1/+7/+28), hw4's class count per semester, and the errors a course file can have."""

from __future__ import annotations

import json
import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader import pipeline
from grader.cli import app
from grader.spec import SpecError
from grader.testing import build_file_tree, git_save, make_bare

HW3 = "bme-vitmav45-2020/hw3-temperature"
HW4 = "bme-vitmav45-2020/hw4-transfer"
# the course's own texts: deadline, the three target dates, and when the student committed
YEARS = {
    "2018-autumn": ("2018-10-25T23:59:59+02:00", ["2018-10-26", "2018-11-01", "2018-11-29"],
                    "2018-10-24T21:30:00+02:00"),
    "2019-autumn": ("2019-10-29T23:59:59+01:00", ["2019-10-30", "2019-11-05", "2019-11-26"],
                    "2019-10-29T22:10:00+01:00"),
    "2020-autumn": ("2020-10-27T23:59:00+01:00", ["2020-10-28", "2020-11-03", "2020-11-24"],
                    "2020-10-27T19:00:00+01:00"),
}  # fmt: skip
README = """# Budapest temperature forecast

A small feed-forward network trained on the daily mean temperature of Budapest predicts
the mean temperature one day, one week and one month ahead. Run `python train.py`; it
reads the training data from `data/train.csv` and writes `predictions.csv`.
"""


def hw3_repo(tmp_path: Path, semester: str) -> Path:
    """A student's hw3 of that year: data up to the day before the deadline, predictions
    for that year's three dates, committed before the deadline."""
    deadline, targets, committed = YEARS[semester]
    last = date.fromisoformat(deadline[:10]) - timedelta(days=1)
    days = [last - timedelta(days=i) for i in range(59, -1, -1)]
    data = "date,temp\n" + "".join(f"{d.isoformat()},{8 + i % 5}\n" for i, d in enumerate(days))
    predictions = "date,celsius\n" + "".join(f"{t},{7 + i}\n" for i, t in enumerate(targets))
    work = build_file_tree(tmp_path / semester, {
        "README.md": README, "data/train.csv": data, "predictions.csv": predictions,
        "train.py": "# train the network and write the three predictions\nprint('ok')\n",
    })  # fmt: skip
    git_save(work, "homework 3", date=committed)
    return make_bare(work)


def grade(tmp_path: Path, bare: Path, *extra: str) -> tuple[dict, str]:
    out = tmp_path / f"out-{len(list(tmp_path.glob('out-*')))}"
    done = CliRunner().invoke(
        app, ["grade", HW3, "--repo", str(bare), "--student", "ABC123", "--out", str(out), *extra],
        catch_exceptions=False,
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    result = json.loads((out / "ABC123" / "result.json").read_text(encoding="utf-8"))
    return result, (out / "ABC123" / "report.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("semester", sorted(YEARS))
def test_hw3_of_each_year_is_graded_from_one_spec(tmp_path: Path, semester: str) -> None:
    deadline, targets, committed = YEARS[semester]
    result, html = grade(tmp_path, hw3_repo(tmp_path, semester), "--semester", semester)
    assert result["deadline"] == deadline
    assert result["course"].endswith(f"({semester.replace('-', ' ')})")
    checks = {c["id"]: c for c in result["checks"]}
    predictions = checks["predictions"]
    assert predictions["status"] == "pass", predictions["message"]
    assert [p["date"] for p in predictions["facts"]["predictions"]] == targets
    assert [p["value_celsius"] for p in predictions["facts"]["predictions"]] == [7, 8, 9]
    assert checks["training_data"]["status"] == "pass", checks["training_data"]["message"]
    assert checks["git_history"]["status"] == "pass"
    assert ", ".join(targets) in predictions["explanation"]  # the student reads this year's
    assert ", ".join(targets) in html
    first, month = (date.fromisoformat(t) for t in (targets[0], targets[2]))
    assert (first - date.fromisoformat(deadline[:10])).days == 1
    assert (month - first).days + 1 == (35 if semester == "2018-autumn" else 28)


def test_the_default_is_the_current_semester_and_another_years_dates_do_not_count(
    tmp_path: Path,
) -> None:
    old = hw3_repo(tmp_path, "2018-autumn")
    result, _ = grade(tmp_path, old)  # no --semester: the course's current one, 2020
    assert result["deadline"] == YEARS["2020-autumn"][0]
    predictions = {c["id"]: c for c in result["checks"]}["predictions"]
    assert predictions["status"] == "fail"
    assert "3 of 3 predictions missing" in predictions["message"]


def test_each_semester_has_its_own_observations(tmp_path: Path) -> None:
    instructor = Path(os.environ["GRADER_INSTRUCTOR_DIR"]) / "hw3-temperature"
    instructor.mkdir(parents=True)
    (instructor / "observations-2019.csv").write_text(
        "date,observed_celsius\n2019-10-30,7.5\n2019-11-05,8\n2019-11-26,2\n", encoding="utf-8"
    )
    result, _ = grade(tmp_path, hw3_repo(tmp_path, "2019-autumn"), "--semester", "2019-autumn")
    facts = {c["id"]: c for c in result["checks"]}["predictions"]["facts"]
    assert facts["observations"] == "available"
    assert [p["abs_error"] for p in facts["predictions"]] == [0.5, 0.0, 7.0]
    other, _ = grade(tmp_path, hw3_repo(tmp_path, "2018-autumn"), "--semester", "2018-autumn")
    facts = {c["id"]: c for c in other["checks"]}["predictions"]["facts"]
    assert facts["observations"] == "pending"  # 2019's temperatures never score 2018


def test_hw4_has_three_classes_in_2019() -> None:
    def classes(semester: str | None) -> int:
        spec = pipeline.load_assignment(HW4, semester)
        return {c.key: c.args for c in spec.checks}["dataset_split"]["classes"]

    assert (classes(None), classes("2018-autumn"), classes("2019-autumn")) == (2, 2, 3)
    assert "on 3 Open Images categories" in pipeline.load_assignment(HW4, "2019-autumn").title
    deadline = pipeline.load_assignment(HW4, "2019-autumn").deadline_at.isoformat()
    assert deadline == "2019-11-19T23:59:00+01:00"


def test_a_semester_without_the_assignment_or_an_unknown_one_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as missing:
        pipeline.load_assignment("bme-vitmav45-2020/project", "2018-autumn")
    text = str(missing.value)
    assert "course.yaml:" in text and "gives no dates for 'project'" in text
    done = CliRunner().invoke(app, ["validate", HW3, "--semester", "2017-autumn"])
    assert done.exit_code == 1
    assert "no semester '2017-autumn'" in done.output and "2018-autumn" in done.output
    alone = tmp_path / "alone.yaml"
    alone.write_text("id: a\ntitle: A\ncourse: c\ndeadline: '2020-10-27 23:59'\n"
                     "checks:\n  - check: files\n", encoding="utf-8")  # fmt: skip
    with pytest.raises(SpecError, match="there is no course.yaml beside the spec"):
        pipeline.load_assignment(str(alone), "2019-autumn")


COURSE = """\
id: test-course
title: Test course
current_semester: 2021-spring
assignments:
  - {id: hw, weight: 1}
semesters:
  2021-spring:
    assignments:
      hw:
        deadline: "2021-03-01 23:59"
        parameters: {targets: [2021-03-02], colour: kék}
"""
SPEC = """\
id: hw
title: "Homework (${semester})"
course: c
deadline: "2020-10-27 23:59"
parameters:
  targets: [2020-10-28]
checks:
  - check: predictions
    explanation: "predict ${targets} and ${missing}"
    args:
      dates: ${targets}
"""


def test_parameter_and_course_file_errors_name_file_line_and_key(tmp_path: Path) -> None:
    (tmp_path / "course.yaml").write_text(COURSE, encoding="utf-8")
    spec = tmp_path / "hw.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        pipeline.load_assignment(str(spec))
    problems = [str(p) for p in info.value.problems]
    assert (
        f"{tmp_path / 'course.yaml'}:11 semesters.2021-spring.assignments.hw.parameters.colour"
        in problems[0]
    )
    assert "hw declares no parameter 'colour' (declared: targets)" in problems[0]
    assert any(p.startswith(f"{spec}:9 checks[0].explanation: unknown parameter ${{missing}}")
               for p in problems)  # fmt: skip
    spec.write_text(SPEC.replace(" and ${missing}", ""), encoding="utf-8")
    (tmp_path / "course.yaml").write_text(COURSE.replace(", colour: kék", ""), encoding="utf-8")
    loaded = pipeline.load_assignment(str(spec))
    assert loaded.title == "Homework (2021-spring)" and loaded.semester == "2021-spring"
    assert {c.key: c.args for c in loaded.checks}["predictions"]["dates"] == [date(2021, 3, 2)]
    assert loaded.checks[0].explanation == "predict 2021-03-02"


def test_batch_workers_get_the_semesters_spec(tmp_path: Path) -> None:
    bare = hw3_repo(tmp_path, "2019-autumn")
    roster = tmp_path / "roster.csv"
    roster.write_text(f"neptun,name,github\nABC123,Kovács Anna,{bare}\n", encoding="utf-8")
    out = tmp_path / "batch"
    done = CliRunner().invoke(
        app, ["batch", HW3, "--roster", str(roster), "--out", str(out), "--semester",
              "2019-autumn", "--rerun", "none", "--no-progress"], catch_exceptions=False,
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    result = json.loads((out / "ABC123" / "result.json").read_text(encoding="utf-8"))
    assert result["deadline"] == YEARS["2019-autumn"][0]
    predictions = {c["id"]: c for c in result["checks"]}["predictions"]
    assert predictions["status"] == "pass" and "2019-10-30" in predictions["explanation"]


def test_the_bundled_course_file_passes_its_editor_schema() -> None:
    """The course file starts with the modeline of the shipped course schema, and passes it
    as the YAML language server reads it (dates as strings)."""
    import jsonschema
    import yaml

    from grader.paths import bundled_courses
    from grader.schema import course_schema

    path = bundled_courses()["bme-vitmav45-2020"]
    text = path.read_text(encoding="utf-8")
    modeline = text.splitlines()[0]
    assert modeline == "# yaml-language-server: $schema=../../schemas/course.schema.json"
    assert (path.parent / modeline.split("=", 1)[1]).resolve().is_file()
    data = json.loads(json.dumps(yaml.safe_load(text), default=str))
    schema = course_schema()
    assert schema is not None
    errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(data)]
    assert errors == []
