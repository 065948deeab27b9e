"""The `training_data` check: dated rows, sniffed CSV dialects, no data after the deadline."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from grader.checks.data_tables import read_rows
from grader.checks.dated_tables import analyse, parse_table
from grader.checks.registry import args_models
from grader.checks.training_data import TrainingDataArgs, candidates
from grader.cli import app
from grader.pipeline import self_check
from grader.results import Status
from grader.spec import parse_spec_text
from grader.testing import build_file_tree, git_save, make_bare, make_context
from tests.real_hw3 import weather_rows

SPEC = """\
id: hw3-temperature
title: T
course: c
deadline: "2020-10-27 23:59"
checks:
  - check: training_data
    points: 2
"""


def days(last: date, count: int) -> list[date]:
    return [last - timedelta(days=count - 1 - n) for n in range(count)]


def series(last: date = date(2020, 10, 27), count: int = 60, fmt: str = "{iso},{t}") -> str:
    return "".join(
        fmt.format(iso=d.isoformat(), dmy=d.strftime("%d.%m.%Y"), t=f"{10 + d.day / 10:.1f}") + "\n"
        for d in days(last, count)
    )


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("date,mean_celsius\n" + series(), "date"),
        (series(), "column 1"),  # no header
        ("temp;datum\n" + series(fmt="{t};{dmy}"), "datum"),
        ("time\ttemperature_2m_mean\n" + series(fmt="{iso}T00:00\t{t}"), "time"),
        ("# SYNTHETIC data\ndate,mean\n" + series(), "date"),
    ],
)
def test_dialects_and_date_column(text: str, column: str) -> None:
    table = parse_table("t.csv", text)
    assert table.problem == ""
    assert table.date_column == column
    assert len(table.rows) == 60 and table.junk == []
    assert (table.first_date, table.last_date) == (date(2020, 8, 29), date(2020, 10, 27))


def test_year_month_day_columns() -> None:
    body = "".join(
        f"{d.year},{d.month},{d.day},{d.day / 3:.1f}\n" for d in days(date(2020, 10, 27), 40)
    )
    table = parse_table("t.csv", "Year,Month,Day,Temp\n" + body)
    assert table.date_column == "Year+Month+Day"
    assert table.last_date == date(2020, 10, 27) and len(table.rows) == 40


def test_junk_lines_are_tolerated_and_counted() -> None:
    lines = ("date,mean\n" + series(count=40)).splitlines()
    lines.insert(5, "oops, not a row")
    lines.insert(9, "2020-13-45,1.0")
    table = parse_table("t.csv", "\n".join(lines))
    assert len(table.rows) == 40
    assert table.junk == [6, 10]


def test_no_date_column() -> None:
    table = parse_table("t.csv", "a,b\n1,2\n3,4\n")
    assert "no column of dates" in table.problem


def run(tmp_path: Path, files: dict, extra_args: str = "") -> object:
    spec = parse_spec_text(SPEC + extra_args, "s.yaml", args_models())
    return self_check(spec, build_file_tree(tmp_path / "w", files)).checks[0]


def test_training_data_before_the_deadline_passes(tmp_path: Path) -> None:
    check = run(tmp_path, {"data/budapest.csv": "date,mean\n" + series(), "predictions.csv": ""})
    assert check.status == Status.PASS and check.points == 2
    assert check.facts["files"] == [
        {"path": "data/budapest.csv", "rows": 60, "date_column": "date",
         "first_date": "2020-08-29", "last_date": "2020-10-27", "junk_lines": 0, "verdict": "training data"}
    ]  # fmt: skip
    assert check.facts["leakage"] == [] and check.facts["max_date"] == "2020-10-27"


def test_future_data_is_leakage_with_the_first_row_named(tmp_path: Path) -> None:
    text = "date,mean\n" + series(last=date(2020, 11, 2), count=66)
    check = run(tmp_path, {"training_data.csv": text})
    assert check.status == Status.FAIL and check.points == 0
    assert check.facts["leakage"] == [
        {"path": "training_data.csv", "line": 62, "date": "2020-10-28", "rows_after": 6}
    ]
    leak = next(e for e in check.evidence if e.verdict == "leakage")
    assert leak.line == 62 and "2020-11-02" in leak.detail
    assert "training_data.csv:62" in check.message


def test_explicit_max_date_and_min_rows(tmp_path: Path) -> None:
    files = {"train.csv": "date,mean\n" + series(count=20)}
    too_few = run(tmp_path / "a", files)
    assert too_few.status == Status.FAIL and "at least 30" in too_few.message
    extra = "    args:\n      min_rows: 10\n      max_date: 2020-10-20\n"
    early = run(tmp_path / "b", files, extra)
    assert early.status == Status.FAIL and early.facts["leakage"][0]["date"] == "2020-10-21"


def test_no_file_and_prediction_files_are_not_training_data(tmp_path: Path) -> None:
    check = run(tmp_path, {"README.md": "# x", "data/predictions.csv": series()})
    assert check.status == Status.FAIL and "no training data found" in check.message


def test_cli_grade_dated_repo(tmp_path: Path) -> None:
    spec_path = tmp_path / "hw3.yaml"
    spec_path.write_text(SPEC)
    repo = tmp_path / "s"
    git_save(repo, "data", date="2020-10-26T12:00:00+01:00",
             files={"data/weather.csv": "date;mean\n" + series(fmt="{iso};{t}")})  # fmt: skip
    # committed after the deadline with future rows: not graded (pinned before it)
    git_save(repo, "more", date="2020-11-03T12:00:00+01:00",
             files={"data/weather.csv": series(last=date(2020, 11, 2))})  # fmt: skip
    out = tmp_path / "out"
    args = ["grade", str(spec_path), "--repo", str(make_bare(repo)), "--student", "XYZ789"]
    done = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert done.exit_code == 0, done.output
    check = json.loads((out / "XYZ789" / "result.json").read_text())["checks"][0]
    assert check["status"] == "pass" and check["points"] == 2.0
    assert check["facts"]["files"][0]["last_date"] == "2020-10-27"


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("date,t\r\n" + series(fmt="'{iso}',{t}").replace("\n", "\r\n").rstrip(), "date"),
        ("date,t,\n" + series(fmt="{iso} 00:00:00,{t},"), "date"),
        ("".join(reversed(series().splitlines(keepends=True))), "column 1"),
        (
            "".join(
                f"{line}\n"
                for line in series(fmt="{iso};{t}").replace("-", ".").split("\n")
                if line
            ),
            "column 1",
        ),  # 2020.10.21
        ("év;hó;nap;t\n" + series(fmt="{iso};{t}").replace("-", ";"), "év+hó+nap"),
        (series(fmt="{iso};{t}").replace("-", ";").replace(".", ","), "column 1+column 2+column 3"),
    ],
)
def test_date_forms_students_write(text: str, column: str) -> None:
    table = parse_table("t.csv", text)
    assert table.problem == "" and table.date_column == column
    assert (table.first_date, table.last_date, len(table.rows)) == (
        date(2020, 8, 29),
        date(2020, 10, 27),
        60,
    )


@pytest.mark.parametrize("scale", [1, 1000])
def test_unix_timestamps_read_in_the_assignment_time_zone(scale: int) -> None:
    budapest = ZoneInfo("Europe/Budapest")
    rows = [
        f"{int(datetime(d.year, d.month, d.day, tzinfo=budapest).timestamp()) * scale},5.5"
        for d in days(date(2020, 10, 27), 40)
    ]  # midnight in Budapest is the previous evening in UTC
    table = parse_table("t.csv", "dt,temp\n" + "\n".join(rows), budapest)
    assert table.date_column == "dt (Unix time)"
    assert (table.first_date, table.last_date) == (date(2020, 9, 18), date(2020, 10, 27))


@pytest.mark.parametrize(
    "data",
    [
        [{"date": d.isoformat(), "temp": 1.5} for d in days(date(2020, 10, 27), 40)],
        {
            "date": {str(n): d.isoformat() for n, d in enumerate(days(date(2020, 10, 27), 40))},
            "temp": {str(n): 1.5 for n in range(40)},
        },  # pandas to_json()
        {d.isoformat(): 1.5 for d in days(date(2020, 10, 27), 40)},
        {
            "meta": {"city": "Budapest"},
            "daily": {
                "time": [d.isoformat() for d in days(date(2020, 10, 27), 40)],
                "t": [1.5] * 40,
            },
        },
    ],
)
def test_json_tables(tmp_path: Path, data: object) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps(data))
    table = analyse("x.json", read_rows(path))
    assert table.problem == "" and table.numeric_columns
    assert (len(table.rows), table.last_date) == (40, date(2020, 10, 27))


def test_tables_that_are_not_training_data(tmp_path: Path) -> None:
    history = "epoch,loss,val_loss\n" + "".join(
        f"{n},{1 / n:.3f},{2 / n:.3f}\n" for n in range(1, 60)
    )
    forecast_only = "date,t\n" + series(last=date(2020, 12, 30), count=40)
    check = run(
        tmp_path, {"logs/history.csv": history, "results/daily_2020_nov.csv": forecast_only}
    )
    assert check.status == Status.MANUAL  # dated after the deadline only: a human looks
    assert check.facts["undated"] == []  # a training history is no data table
    assert check.facts["files"][0]["verdict"] == "after the deadline"


def test_named_files_are_read_first(tmp_path: Path) -> None:
    ctx = make_context(
        build_file_tree(tmp_path, {"zz/data.csv": "", "a/notes.csv": "", "b/predictions.csv": "",
                                   "c/x_learn.tsv": "", "requirements.txt": ""}),
        "training_data",
    )  # fmt: skip
    assert candidates(ctx, TrainingDataArgs()) == [
        "c/x_learn.tsv",
        "zz/data.csv",
        "a/notes.csv",
    ]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("a.xlsx", b"PK\x03\x04 not a workbook"),
        ("b.npy", b"\x93NUMPY garbage"),
        ("c.npy", b""),
        ("d.json", b"[" * 100_000 + b"]" * 100_000),
        ("e.csv", b"\xff\xfe\x00 binary \x00\x00"),
    ],
)
def test_broken_tables_are_reported_never_raised(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    table = analyse(name, read_rows(path))
    assert table.problem and not table.rows


def test_timestamps_before_1970_and_an_index_column() -> None:
    rows = weather_rows(date(2020, 10, 25), 43_800, "{ts},{t}")  # daily since 1901
    table = parse_table("t.csv", "\n".join(rows), ZoneInfo("Europe/Budapest"))
    first = date(2020, 10, 25) - timedelta(days=43_799)
    assert (table.first_date, table.last_date, len(table.rows)) == (
        first,
        date(2020, 10, 25),
        43_800,
    )
    index = "\n".join(f"{n},{n % 17}.5" for n in range(200))  # 0, 1, 2...: no seconds
    assert "no column of dates" in parse_table("i.csv", index).problem
