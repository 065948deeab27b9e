"""The `predictions` check: values found wherever students put them, scored once observed."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import nbformat
import pytest
from typer.testing import CliRunner

from grader.checks.observed import ObservationsError, load_observations
from grader.checks.prediction_sources import Found, from_csv, from_json, from_notebook, from_text
from grader.checks.prediction_values import Wanted
from grader.checks.predictions import decide
from grader.checks.registry import args_models
from grader.cli import app
from grader.pipeline import self_check
from grader.results import Status, SubmissionResult, is_result_document
from grader.spec import parse_spec_text
from grader.testing import build_file_tree, git_save, make_bare

OCT28, NOV3, NOV24 = date(2020, 10, 28), date(2020, 11, 3), date(2020, 11, 24)
WANTED = Wanted((OCT28, NOV3, NOV24), ("1 day", "1 week", "1 month"))

SPEC = """\
id: hw3-temperature
title: T
course: c
deadline: "2020-10-27 23:59"
checks:
  - check: predictions
    points: 3
    args:
      dates: [2020-10-28, 2020-11-03, 2020-11-24]
      labels: ["1 day", "1 week", "1 month"]
      observations: observations.csv
"""


def values(found) -> dict[date, float]:
    out: dict[date, float] = {}
    for item in found:
        out.setdefault(item.day, item.value)
    return out


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("2020-10-28: 9.4 °C", 9.4),
        ("Prediction for 2020.10.28.: 9,4 fok", 9.4),
        ("| 1 day | október 28. | 9.4 |", 9.4),
        ("1 day ahead (Oct 28th) -> 9.4C", 9.4),
        ("9.4 °C is expected on 28/10", 9.4),
        ("0  2020-10-28  9.41", 9.41),  # a printed DataFrame row: the index is not the value
        ("2020-10-28 (7 days of history): tensor([[9.3512]])", 9.3512),
        ("10.28. -1.5", -1.5),
        ("2020-10-28 −2,5 celsius", -2.5),
        ("2020-10-28 282.5 K, i.e. 9.35", 9.35),  # Kelvin is out of the plausible range
        ("2020-10-28", None),
        ("2020-10-28: 55 °C", None),
    ],
)
def test_value_on_a_line(line: str, expected: float | None) -> None:
    assert values(from_text("p.txt", line, WANTED)).get(OCT28) == expected


def test_several_dates_on_one_line() -> None:
    found = values(from_text("r.md", "Oct 28: 9.4, Nov 3: 10.2 and Nov 24: 2.8", WANTED))
    assert found == {OCT28: 9.4, NOV3: 10.2, NOV24: 2.8}


def test_label_fallback_when_no_date_is_written() -> None:
    found = from_text("r.md", "1 day: 9.4\n1 week: 10.2\n1 month: 2.8\n", WANTED)
    assert values(found) == {OCT28: 9.4, NOV3: 10.2, NOV24: 2.8}
    assert all(f.by_label for f in found)
    assert [f.line for f in found] == [1, 2, 3]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("date,predicted_celsius\n2020-10-28,9.4\n2020-11-03,10.2\n2020-11-24,2.8\n", 10.2),
        ("date;horizon_days;pred\n2020-10-28;1;9,4\n2020-11-03;7;10,2\n", 10.2),
        ("date,tmean_observed,pred_7_day\n2020-11-03,7.0,10.2\n", 10.2),
        ("date,actual,predicted\n2020-11-03,7.0,10.2\n", 10.2),
        ("horizon\tdate\ttemperature\n7\t2020.11.03.\t10\n", 10.0),
        ("2020-11-03,10.2\n", 10.2),  # no header
        ("date,observed\n2020-11-03,10.2\n", None),  # an observation is not a prediction
    ],
)
def test_csv_rows(text: str, expected: float | None) -> None:
    found = from_csv("predictions.csv", text, WANTED)
    assert values(found).get(NOV3) == expected
    if expected is not None:
        line = next(f.line for f in found if f.day == NOV3)
        assert text.splitlines()[line - 1].count("11") >= 1


def test_csv_line_numbers_and_where() -> None:
    found = from_csv("out/predictions.csv", "date,p\n2020-10-28,9.4\n2020-11-24,2.8\n", WANTED)
    assert [(f.where, f.line) for f in found] == [
        ("out/predictions.csv:2", 2),
        ("out/predictions.csv:3", 3),
    ]


def test_json_labels_without_dates() -> None:
    raw = json.dumps({"model": "mlp", "1 day": 9.4, "1 week": "10,2", "1-month": 2.8}, indent=1)
    found = from_json("forecast.json", raw, WANTED)
    assert values(found) == {OCT28: 9.4, NOV3: 10.2, NOV24: 2.8}
    assert all(f.by_label for f in found) and [f.line for f in found] == [3, 4, 5]


@pytest.mark.parametrize(
    "data",
    [
        {"2020-10-28": 9.4, "2020-11-03": 10.2},
        [{"date": "2020-10-28", "prediction": 9.4}, {"date": "2020-11-03", "prediction": 10.2}],
        {"predictions": {"1 day": {"date": "2020-10-28", "horizon": 1, "value": 9.4}}},
        {"2020-10-28": {"predicted": 9.4, "observed": 3.0}},
    ],
)
def test_json_objects(data: object) -> None:
    raw = json.dumps(data, indent=2)
    found = from_json("predictions.json", raw, WANTED)
    assert values(found)[OCT28] == 9.4
    first = next(f for f in found if f.day == OCT28)
    assert "2020-10-28" in raw.splitlines()[first.line - 1]


def test_notebook_stream_and_text_plain_outputs() -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(forecast)")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="1 day, 2020-10-28: 9.4\n")
    ]
    cell2 = nbformat.v4.new_code_cell("df")
    cell2.outputs = [
        nbformat.v4.new_output(
            "execute_result", data={"text/plain": "         date  pred\n0  2020-11-03  10.2"}
        )
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# Forecast"), cell, cell2]
    raw = nbformat.writes(nb)
    found = from_notebook("forecast.ipynb", raw, WANTED)
    assert values(found) == {OCT28: 9.4, NOV3: 10.2}
    assert [f.where for f in found] == ["forecast.ipynb:cell 2", "forecast.ipynb:cell 3"]
    assert "9.4" in raw.splitlines()[found[0].line - 1]


def test_observations_file(tmp_path: Path) -> None:
    path = tmp_path / "observations.csv"
    path.write_text("# official\ndate,observed_celsius\n2020-10-28,9.6\n2020-11-03,ten\n")
    with pytest.raises(ObservationsError, match=r"observations.csv:4"):
        load_observations(path)
    path.write_text("date,observed_celsius\n2020-10-28,9.6\n2020-11-03,10.8\n")
    assert load_observations(path) == {OCT28: 9.6, NOV3: 10.8}


def run_check(tmp_path: Path, files: dict, instructor: dict | None, monkeypatch) -> object:
    if instructor is None:
        monkeypatch.setenv("GRADER_INSTRUCTOR_DIR", str(tmp_path / "none"))
    else:
        monkeypatch.setenv(
            "GRADER_INSTRUCTOR_DIR", str(build_file_tree(tmp_path / "i", instructor))
        )
    spec = parse_spec_text(SPEC, "s.yaml", args_models())
    result = self_check(spec, build_file_tree(tmp_path / "w", files))
    return result.checks[0]


CSV = "date,predicted_celsius\n2020-10-28,9.4\n2020-11-03,10.2\n2020-11-24,2.8\n"
OBS = "date,observed_celsius\n2020-10-28,9.6\n2020-11-03,13.2\n2020-11-24,12.0\n"


def test_pending_observations_pass_for_presence(tmp_path: Path, monkeypatch) -> None:
    check = run_check(tmp_path, {"predictions.csv": CSV}, None, monkeypatch)
    assert check.status == Status.PASS and check.points == 3
    assert check.facts["observations"] == "pending" and check.facts["mae"] is None
    assert "pending observations" in check.message
    assert [e.verdict for e in check.evidence] == ["found", "found", "found", "pending"]
    assert check.evidence[-1].detail.startswith("accuracy: pending observations")
    assert check.facts["predictions"][0] == {
        "date": "2020-10-28", "label": "1 day", "value_celsius": 9.4,
        "where": "predictions.csv:2", "observed": None, "abs_error": None,
    }  # fmt: skip


def test_scored_by_error_bands(tmp_path: Path, monkeypatch) -> None:
    obs = {"hw3-temperature/observations.csv": OBS}
    check = run_check(tmp_path, {"predictions.csv": CSV}, obs, monkeypatch)
    # errors 0.2 (full), 3.0 (0.75), 9.2 (beyond every band: 0.25)
    assert check.status == Status.WARN
    assert [p["abs_error"] for p in check.facts["predictions"]] == [0.2, 3.0, 9.2]
    assert [a["fraction"] for a in check.facts["accuracy"]] == [1.0, 0.75, 0.25]
    assert check.facts["mae"] == pytest.approx(4.133, abs=1e-3)
    assert check.points == pytest.approx(3 * 2.0 / 3)


def test_missing_date_fails_with_partial_credit(tmp_path: Path, monkeypatch) -> None:
    files = {"predictions.csv": CSV.replace("2020-11-24,2.8\n", ""), "README.md": "# Forecast\n"}
    check = run_check(tmp_path, files, None, monkeypatch)
    assert check.status == Status.FAIL and check.points == pytest.approx(2.0)
    assert "1 month (2020-11-24)" in check.message
    assert check.facts["predictions"][2]["value_celsius"] is None


def test_training_data_file_is_not_read_as_predictions(tmp_path: Path, monkeypatch) -> None:
    days = [date(2020, 9, 1) + timedelta(days=n) for n in range(64)]  # up to 2020-11-03
    rows = "".join(f"{d.isoformat()},{d.day / 3:.1f}\n" for d in days)
    files = {"data/train.csv": "date,mean\n" + rows, "README.md": "Nov 3: 10.2 °C\n"}
    check = run_check(tmp_path, files, None, monkeypatch)
    assert check.facts["predictions"][1]["where"] == "README.md:1"
    assert check.facts["data_files_skipped"] == ["data/train.csv"]


def test_cli_grade_on_a_dated_repo(tmp_path: Path, monkeypatch) -> None:
    spec_path = tmp_path / "hw3.yaml"
    spec_path.write_text(SPEC)
    instr = build_file_tree(tmp_path / "instr", {"hw3-temperature/observations.csv": OBS})
    monkeypatch.setenv("GRADER_INSTRUCTOR_DIR", str(instr))
    repo = tmp_path / "s"
    git_save(repo, "readme", date="2020-10-26T12:00:00+01:00", files={"README.md": "# Hi\n"})
    git_save(
        repo, "forecast", date="2020-10-27T20:00:00+01:00",
        files={"README.md": "| 1 day | 2020-10-28 | 9.6 °C |\n| 1 week | 2020-11-03 | 13 |\n"
               "| 1 month | 2020-11-24 | 11.5 |\n"},
    )  # fmt: skip
    git_save(repo, "late", date="2020-10-29T10:00:00+01:00", files={"README.md": "# redone\n"})
    out = tmp_path / "out"
    done = CliRunner().invoke(
        app, ["grade", str(spec_path), "--repo", str(make_bare(repo)), "--student", "abc123",
              "--out", str(out)],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    result = json.loads((out / "ABC123" / "result.json").read_text())
    check = result["checks"][0]
    assert check["status"] == "pass" and check["points"] == 3.0
    assert [p["where"] for p in check["facts"]["predictions"]] == [
        "README.md:1", "README.md:2", "README.md:3",
    ]  # fmt: skip
    assert check["facts"]["observations"] == "available"
    assert check["facts"]["mae"] == pytest.approx((0.0 + 0.2 + 0.5) / 3, abs=1e-3)
    assert [e["line"] for e in check["evidence"][:3]] == [1, 2, 3]


def test_malformed_observations_are_an_error_naming_the_line(tmp_path: Path, monkeypatch) -> None:
    bad = {"hw3-temperature/observations.csv": "date,observed_celsius\n2020-10-28,warm\n"}
    check = run_check(tmp_path, {"predictions.csv": CSV}, bad, monkeypatch)
    assert check.status == Status.ERROR and check.points == 0
    assert "observations.csv:2" in check.message


def test_binary_files_are_skipped(tmp_path: Path, monkeypatch) -> None:
    files = {"forecast.png": b"\x89PNG\x00\x00 2020-10-28 9.4 ", "README.md": "2020-10-28: 9.0\n"}
    check = run_check(tmp_path, files, None, monkeypatch)
    assert check.facts["predictions"][0]["where"] == "README.md:1"
    assert check.facts["predictions"][0]["value_celsius"] == 9.0


def test_metrics_next_to_labels_are_not_predictions(tmp_path: Path, monkeypatch) -> None:
    metrics = json.dumps({"test_mae_celsius": {"1 day": 1.9, "1 week": 2.9, "1 month": 3.2}})
    assert from_json("metrics.json", metrics, WANTED) == []
    assert from_text("train.log", "test_mae: 2.7 (1 day: 1.96, 1 week: 2.99)", WANTED) == []
    # labels count only where no target date is written anywhere
    files = {"predictions.csv": CSV.replace("2020-11-24,2.8\n", ""), "notes.txt": "1 month: 4.0"}
    check = run_check(tmp_path, files, None, monkeypatch)
    assert check.status == Status.FAIL and check.facts["predictions"][2]["where"] is None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("# 2020.10.28 is sample 58 at position 8 is 10.28", None),  # digits of the date
        ("2020.10.28 [12.138337]celsius", 12.138337),
        ("2020-10-28: preds[10] = 12.1", 12.1),
        ("2020-10-28 y_hat[3, 0]", None),
        ("2020-10-28 (horizon 30, window 3): [[7.25]]", 7.25),
        ("2020-10-28 30 days ahead", None),
        ("2020-10-28 t+1 -> 12.1°C", 12.1),
        ("2020-10-28 tensor([12.1000], grad_fn=<AddBackward0>)", 12.1),
        ("2020-10-28 array([[12.1]], dtype=float32)", 12.1),
        ("Okt. 28: [13.3697]", 13.3697),
        ("Oct 28: 10.28", 10.28),  # a value that only looks like the date is still a value
    ],
)
def test_what_is_never_a_value(line: str, expected: float | None) -> None:
    assert values(from_text("p.txt", line, WANTED)).get(OCT28) == expected


def test_a_value_alone_on_the_line_after_its_date() -> None:
    text = "Okt. 28\n[13.3697]\nnov.  3\n\ntensor([[8.04]])\nnov. 24\nepoch 3 loss 2.1\n"
    found = from_text("out.txt", text, WANTED)
    assert values(found) == {OCT28: 13.3697, NOV3: 8.04}
    assert [f.line for f in found] == [1, 3]


def test_labels_need_their_value_right_after_them() -> None:
    text = "A 1 day modell 3 napos ablakkal, a 1 week 6.6 fokos hibával\n1 month ahead: 2.8\n"
    assert values(from_text("r.md", text, WANTED)) == {NOV24: 2.8}


def test_notebook_code_comments_are_outranked_and_dates_in_code_name_outputs() -> None:
    cell = nbformat.v4.new_code_cell("# prediction for 2020-10-28: 9.0 °C\nprint(preds[8])")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="[12.1]\n")]
    nb = nbformat.v4.new_notebook()
    nb.cells = [cell]
    found = from_notebook("hf3.ipynb", nbformat.writes(nb), WANTED)
    by_kind = {f.kind: (f.value, f.tier) for f in found}
    assert by_kind == {"comment": (9.0, 1), "notebook output": (12.1, 0)}
    assert decide(found).hit.value == 12.1 and decide(found).outranked[0].value == 9.0


def test_values_agree_up_to_rounding_else_a_human_decides() -> None:
    def hit(value: float, decimals: int, where: str) -> Found:
        return Found(OCT28, value, where, 1, where, "", decimals=decimals)

    same = decide([hit(12.1, 1, "a"), hit(12.138337, 6, "b"), hit(12.0, 0, "c")])
    assert same.hit.where == "a" and not same.conflict
    differ = decide([hit(9.4, 1, "a"), hit(9.46, 2, "b")])
    assert differ.hit is None and [[f.where for f in g] for g in differ.conflict] == [["a"], ["b"]]


def test_result_documents_are_recognised_by_content() -> None:
    result = json.loads(SubmissionResult("hw3", "ABC123", "r", "2020-10-27").to_json())
    assert is_result_document(result)
    assert not is_result_document({"checks": [], "date": "2020-10-28", "prediction": 9.4})
    assert not is_result_document([result])


@pytest.mark.parametrize("bar", ["[==============================]", "━━━━━━━━━━━━━━━━━━━━"])
def test_a_cell_output_named_by_the_date_in_its_code(bar: str) -> None:
    source = "x = window_before('2020-11-24')\npred = model.predict(x)\nprint(pred)"
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = [nbformat.v4.new_output(
        "stream", name="stdout", text=f"1/1 {bar} - 0s 36ms/step\n[[4.2]]\n"
    )]  # fmt: skip
    nb = nbformat.v4.new_notebook()
    nb.cells = [cell]
    found = from_notebook("hf3.ipynb", nbformat.writes(nb), WANTED)
    assert [(f.day, f.value, f.kind) for f in found] == [(NOV24, 4.2, "notebook output")]
    assert "its date from the cell's code" in found[0].context
