"""hw3 training data found by its content, as real students commit it (issue 10, item 2).

Each test grades a real git repository with the bundled hw3 spec through the CLI; every
one of them failed before the fix (the data was looked for by name, in CSV files only).
"""

from __future__ import annotations

import io
import json
import sys
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from tests.real_hw3 import OTHER_HOMEWORK, README_TOP, code, commit_repo, notebook, weather_rows

LAST = date(2020, 10, 25)  # two days before the deadline
PREDICTIONS = "date,prediction\n2020-10-28,9.4\n2020-11-03,10.2\n2020-11-24,4.1\n"


def grade(tmp_path: Path, files: dict[str, str | bytes]) -> dict:
    """``grader grade`` (bundled hw3 spec): the training_data check of the result."""
    bare = commit_repo(tmp_path / "repo", {**OTHER_HOMEWORK, "README.md": README_TOP, **files})
    out = tmp_path / "out"
    args = ["grade", "hw3-temperature", "--repo", str(bare), "--student", "QWE456"]
    done = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert done.exit_code == 0, done.output
    result = json.loads((out / "QWE456" / "result.json").read_text(encoding="utf-8"))
    return next(c for c in result["checks"] if c["check"] == "training_data")


def crlf_quoted(last: date = LAST) -> str:
    """Quoted dates, CRLF line ends, no final newline."""
    return "\r\n".join(["date,tavg"] + weather_rows(last, 400, "'{iso}',{t}"))


def trailing_comma_descending(last: date = LAST) -> str:
    rows = weather_rows(last, 400, "{iso} 00:00:00,{t},")
    return "\n".join(["datetime,temp_mean,"] + rows[::-1]) + "\n"


def dotted_no_header(last: date = LAST) -> str:
    return "\n".join(weather_rows(last, 400, "{dots};{t}")).replace(".0;", ";") + "\n"


def ymd_semicolons(last: date = LAST) -> str:
    rows = weather_rows(last, 400, "{y};{m};{d};{t}")
    return "\n".join(row.replace(".", ",") for row in rows) + "\n"


def unix_seconds(last: date = LAST) -> str:
    return "\n".join(["dt,temp"] + weather_rows(last, 400, "{ts},{t}")) + "\n"


def open_meteo_json(last: date = LAST) -> str:
    rows = [r.split(",") for r in weather_rows(last, 400)]
    daily = {"time": [r[0] for r in rows], "temperature_2m_mean": [float(r[1]) for r in rows]}
    return json.dumps({"latitude": 47.5, "longitude": 19.04, "daily": daily})


def xlsx_bytes(last: date = LAST) -> bytes:
    openpyxl = pytest.importorskip("openpyxl", reason="reading XLSX needs openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Dátum", "Középhőmérséklet (°C)"])
    for row in weather_rows(last, 400):
        day, temp = row.split(",")
        sheet.append([date.fromisoformat(day), float(temp)])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def npy_bytes(last: date = LAST) -> bytes:
    np = pytest.importorskip("numpy")
    rows = [[float(x) for x in r.split(",")] for r in weather_rows(last, 400, "{ts},{t}")]
    buffer = io.BytesIO()
    np.save(buffer, np.array(rows))
    return buffer.getvalue()


CASES = {
    "HF3 - homerseklet/data.csv": crlf_quoted,
    "hazi3/2019_learn_data.csv": trailing_comma_descending,
    "hazi3/2020_tuning_data.csv": dotted_no_header,
    "budapest_wheather_data.csv": ymd_semicolons,
    "data/weather_dataset.csv": unix_seconds,
    "HF3/budapest_daily.json": open_meteo_json,
    "HF3/Időjárás adatok.xlsx": xlsx_bytes,
    "HF3/napi_homerseklet.npy": npy_bytes,
}


@pytest.mark.parametrize("name", list(CASES))
def test_training_data_is_found_by_content(tmp_path: Path, name: str) -> None:
    check = grade(tmp_path, {name: CASES[name](), "predictions.csv": PREDICTIONS})
    assert check["status"] == "pass", check["message"]
    assert [(f["path"], f["last_date"], f["verdict"]) for f in check["facts"]["files"]] == [
        (name, "2020-10-25", "training data")
    ]
    assert check["facts"]["files"][0]["rows"] == 400
    assert "last date 2020-10-25, nothing after 2020-10-27" in check["evidence"][0]["detail"]


@pytest.mark.parametrize("name", ["hazi3/2019_learn_data.csv", "data/weather_dataset.csv"])
def test_future_rows_are_leakage_whatever_the_format(tmp_path: Path, name: str) -> None:
    check = grade(tmp_path, {name: CASES[name](date(2020, 11, 2))})
    assert check["status"] == "fail" and check["points"] == 0
    leak = check["facts"]["leakage"][0]
    assert (leak["date"], leak["rows_after"]) == (("2020-11-02", 6) if "learn" in name
                                                  else ("2020-10-28", 6))  # fmt: skip
    assert check["facts"]["files"][0]["last_date"] == "2020-11-02"


def test_numbers_without_dates_go_to_a_human_with_the_stated_range(tmp_path: Path) -> None:
    temps = "\n".join(r.split(",")[1] for r in weather_rows(LAST, 400)) + "\n"
    files = {
        "HF3/homersekletek.txt": temps,
        "HF3/README.md": "# HF3\n\nDaily mean temperatures of Budapest from 2019-09-22 to "
        "2020-10-25 (source: OMSZ), one value per line.\n",
        "HF3/hf3.ipynb": notebook([code("t = np.loadtxt('homersekletek.txt')", count=2)]),
    }
    check = grade(tmp_path, files)
    assert check["status"] == "manual" and check["points"] == 0
    assert check["facts"]["undated"] == [{"path": "HF3/homersekletek.txt", "rows": 400,
                                          "columns": ["column 1"]}]  # fmt: skip
    assert check["facts"]["stated_ranges"][0]["where"] == "HF3/README.md:3"
    assert "400 lines" in check["message"] and "2019-09-22 to 2020-10-25" in check["message"]


def test_a_workbook_without_openpyxl_is_left_to_a_human(tmp_path: Path, monkeypatch) -> None:
    data = xlsx_bytes()
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # as in a student's light install
    check = grade(tmp_path, {"HF3/Időjárás adatok.xlsx": data})
    assert check["status"] == "manual"
    assert check["facts"]["unread"] == ["HF3/Időjárás adatok.xlsx"]
    unread = next(e for e in check["evidence"] if e["verdict"] == "unread")
    assert "needs openpyxl" in unread["detail"]
