"""The hw3 reference solution runs offline, and grading it (and flawed copies of it)
through the CLI gives exactly the expected points."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import nbformat
import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.testing import build_file_tree, git_save, make_bare
from tests.markers import needs_torch

pytestmark = [pytest.mark.slow, needs_torch]

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "reference_solutions" / "hw3-temperature"
SPEC = ROOT / "assignments" / "bme-vitmav45-2020" / "hw3-temperature.yaml"
PYTHON = ROOT / ".venv" / "bin" / "python"
CODE = ["README.md", "data.py", "download.py", "synthetic.py", "train.py", "requirements.txt"]
DATES = ["2020-10-28", "2020-11-03", "2020-11-24"]


def python() -> str:
    return str(PYTHON if PYTHON.exists() else Path(sys.executable))


def run(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [python(), str(REFERENCE / script), *args], cwd=cwd, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """synthetic.py then train.py (3 epochs, CPU), as a student would run them."""
    work = tmp_path_factory.mktemp("hw3")
    data = "data/budapest_daily_synthetic.csv"
    run("synthetic.py", "--start", "2012-01-01", "--out", data, cwd=work)
    done = run("train.py", "--data", data, "--epochs", "3", "--out", "outputs",
               "--device", "cpu", cwd=work)  # fmt: skip
    return {"work": work, "stdout": done.stdout}


def test_reference_outputs(trained: dict) -> None:
    out = trained["work"] / "outputs"
    with (out / "predictions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["date"] for r in rows] == DATES
    assert all(-30 < float(r["predicted_celsius"]) < 45 for r in rows)
    log = (out / "training.log").read_text().splitlines()
    epochs = [line for line in log if line.startswith("epoch ")]
    assert len(epochs) == 3
    assert all(
        re.fullmatch(r"epoch \d/3 - loss: \d+\.\d{4} - val_loss: \d+\.\d{4}", e) for e in epochs
    )
    assert re.match(r"test_mae: \d+\.\d{4} \(1 day: ", log[-1])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["synthetic"] is True and metrics["last_date"] == "2020-10-27"
    assert set(metrics["test_mae_celsius"]) == {"1 day", "1 week", "1 month"}
    training = (out / "training_data.csv").read_text().splitlines()
    assert training[0].startswith("# SYNTHETIC") and training[-1].startswith("2020-10-27,")
    assert "2020-10-28" not in "".join(training)


def test_download_fails_clearly_when_offline(tmp_path: Path) -> None:
    # an unroutable proxy makes the request fail the same way as being offline
    env = {
        "PATH": "/usr/bin:/bin",
        "https_proxy": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
    }
    done = subprocess.run(
        [python(), str(REFERENCE / "download.py"), "--out", "x.csv"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and "synthetic.py" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "x.csv").exists()


def student_repo(tmp: Path, trained: dict, name: str, change: dict | None = None) -> Path:
    """The reference solution as a student's repo: code first, then the run's outputs."""
    repo = tmp / name
    files = {f: (REFERENCE / f).read_text() for f in CODE}
    git_save(repo, "code", date="2020-10-20T18:00:00+02:00", files=files)
    work = trained["work"]
    shutil.copytree(work / "data", repo / "data")
    shutil.copytree(work / "outputs", repo / "outputs")
    build_file_tree(repo, change or {})
    git_save(repo, "training data and forecast", date="2020-10-27T21:30:00+01:00")
    return make_bare(repo)


def grade(tmp: Path, bare: Path, monkeypatch: pytest.MonkeyPatch, observed: list[float]) -> dict:
    instructor = tmp / "instructor"
    rows = "".join(f"{d},{v}\n" for d, v in zip(DATES, observed, strict=True))
    build_file_tree(
        instructor, {"hw3-temperature/observations.csv": "date,observed_celsius\n" + rows}
    )
    monkeypatch.setenv("GRADER_INSTRUCTOR_DIR", str(instructor))
    out = tmp / f"out-{bare.stem}"
    args = ["grade", str(SPEC), "--repo", str(bare), "--student", "ABC123", "--out", str(out)]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    return json.loads((out / "ABC123" / "result.json").read_text())


def checks(result: dict) -> dict[str, dict]:
    return {c["id"]: c for c in result["checks"]}


def points(result: dict) -> dict[str, float]:
    return {c["id"]: c["points"] for c in result["checks"]}


def predicted(trained: dict) -> list[float]:
    with (trained["work"] / "outputs" / "predictions.csv").open() as handle:
        return [float(r["predicted_celsius"]) for r in csv.DictReader(handle)]


def test_reference_and_flawed_variants_through_the_cli(
    trained: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # observed values within 2 °C of the forecast earn everything
    observed = [
        round(v + off, 1) for v, off in zip(predicted(trained), [0.5, -1.2, 1.9], strict=True)
    ]
    base = grade(tmp_path, student_repo(tmp_path, trained, "ref"), monkeypatch, observed)
    ref = checks(base)
    assert ref["predictions"]["status"] == "pass" and ref["predictions"]["points"] == 3.0
    assert ref["training_data"]["status"] == "pass" and ref["training_data"]["points"] == 2.0
    assert [p["where"] for p in ref["predictions"]["facts"]["predictions"]] == [
        "outputs/predictions.csv:2", "outputs/predictions.csv:3", "outputs/predictions.csv:4",
    ]  # fmt: skip
    assert ref["predictions"]["facts"]["mae"] == pytest.approx((0.5 + 1.2 + 1.9) / 3, abs=0.01)
    assert ref["training_data"]["facts"]["leakage"] == []
    assert ref["files"]["points"] == 2.0
    expected = points(base)

    # 1. the 1-month prediction is missing: one of three prediction points lost
    text = (trained["work"] / "outputs" / "predictions.csv").read_text()
    change = {"outputs/predictions.csv": "".join(text.splitlines(True)[:3])}
    result = grade(
        tmp_path, student_repo(tmp_path, trained, "missing", change), monkeypatch, observed
    )
    got = checks(result)["predictions"]
    assert got["status"] == "fail" and "1 month (2020-11-24)" in got["message"]
    assert points(result) == {**expected, "predictions": 2.0}

    # 2. training data running to 2020-11-02: future data, the training-data points lost
    training = (trained["work"] / "outputs" / "training_data.csv").read_text()
    extra = "".join(f"{date(2020, 10, 28) + timedelta(days=n)},8.0\n" for n in range(6))
    change = {"outputs/training_data.csv": training + extra}
    result = grade(
        tmp_path, student_repo(tmp_path, trained, "leaky", change), monkeypatch, observed
    )
    got = checks(result)["training_data"]
    first_future = len(training.splitlines()) + 1
    assert got["status"] == "fail"
    assert got["facts"]["leakage"] == [{"path": "outputs/training_data.csv", "line": first_future,
                                        "date": "2020-10-28", "rows_after": 6}]  # fmt: skip
    assert f"outputs/training_data.csv:{first_future}" in got["message"]
    assert points(result) == {**expected, "training_data": 0.0}

    # 3. the forecast only in a notebook's output (named forecast.ipynb: still a deliverable)
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("!python train.py --data data/budapest_daily_synthetic.csv")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=trained["stdout"])]
    nb.cells = [nbformat.v4.new_markdown_cell("# Training and forecast"), cell]
    change = {"outputs/predictions.csv": None, "forecast.ipynb": nbformat.writes(nb)}
    result = grade(
        tmp_path, student_repo(tmp_path, trained, "notebook", change), monkeypatch, observed
    )
    got = checks(result)["predictions"]
    assert [p["where"] for p in got["facts"]["predictions"]] == ["forecast.ipynb:cell 2"] * 3
    assert [p["value_celsius"] for p in got["facts"]["predictions"]] == predicted(trained)
    assert points(result) == {**expected, "notebooks": 1.0}  # the notebook is graded too

    # 4. the forecast only in the README: predictions still count, the file deliverable not
    readme = (REFERENCE / "README.md").read_text() + "\n## Forecast\n\n| date | °C |\n|---|---|\n"
    readme += "".join(f"| {d} | {v} |\n" for d, v in zip(DATES, predicted(trained), strict=True))
    change = {"outputs/predictions.csv": None, "README.md": readme}
    result = grade(
        tmp_path, student_repo(tmp_path, trained, "readme", change), monkeypatch, observed
    )
    got = checks(result)["predictions"]
    assert all(p["where"].startswith("README.md:") for p in got["facts"]["predictions"])
    assert got["points"] == 3.0
    assert points(result) == {**expected, "files": 1.3333}  # 2 of 3 deliverables


def test_self_check_without_instructor_data_is_pending(
    trained: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADER_INSTRUCTOR_DIR", str(tmp_path / "no-such-dir"))
    student_repo(tmp_path, trained, "self")
    out = tmp_path / "report"
    CliRunner().invoke(app, ["check", str(SPEC), str(tmp_path / "self"), "--out", str(out)])
    result = json.loads((out / "result.json").read_text())
    got = checks(result)["predictions"]
    assert got["status"] == "pass" and got["points"] == 3.0
    assert got["facts"]["observations"] == "pending" and got["facts"]["mae"] is None
    assert "pending observations" in got["message"]
    assert any(e["detail"].startswith("accuracy: pending observations") for e in got["evidence"])
    assert checks(result)["training_data"]["status"] == "pass"
