"""The `tests` check through the CLI on real git repositories: module and script tests,
notebook-namespace tests, a model evaluated on hidden data with scikit-learn metrics,
public tests in the self-check and hidden ones in the instructor's run, exports per test."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.sandbox.bwrap import bwrap_available, bwrap_problem
from grader.testing import build_file_tree, git_save, make_bare
from tests.forgery_helpers import notebook

pytestmark = pytest.mark.skipif(not bwrap_available(), reason=str(bwrap_problem()))

SPEC = """
id: mini-model
title: A small classifier
course: test
deadline: "2020-11-10 23:59"
checks:
  - check: tests
    points: 6
    args:
      public: [mini_tests]
      hidden: [hidden_tests]
      timeout: 20
      budget: 120
      leaderboard: {metric: hidden_accuracy}
"""

PUBLIC = '''
import numpy as np
import pytest


@pytest.mark.points(1)
def test_predict_returns_one_label_per_row(student):
    """predict() gives one 0/1 label per input row."""
    labels = student.module("model").predict(np.zeros((5, 2)))
    assert np.asarray(labels).shape == (5,)


@pytest.mark.points(2)
def test_command_line_entry_point(student):
    """python predict.py --input FILE prints one label per line."""
    done = student.run(["python", "predict.py", "--input", "sample.csv"])
    assert done.returncode == 0, done.stderr.decode()
    assert done.text.split() == ["1", "0"]
'''

HIDDEN = '''
import numpy as np
import pytest
from grader.testkit import award, classification_metrics, record_metrics


@pytest.mark.points(3)
def test_accuracy_on_hidden_points(student, hidden_data):
    """Accuracy on the instructor's hidden points: full points at 0.9, half at 0.75."""
    data = np.loadtxt(hidden_data / "points.csv", delimiter=",")
    x, y = data[:, :2], data[:, 2].astype(int)
    predicted = np.asarray(student.module("model").predict(x)).astype(int)
    metrics = classification_metrics(y, predicted, labels=[0, 1])
    record_metrics(metrics, prefix="hidden_")
    award(1.0 if metrics["accuracy"] >= 0.9 else 0.5 if metrics["accuracy"] >= 0.75 else 0.0)
    assert metrics["accuracy"] >= 0.75, f"hidden accuracy {metrics['accuracy']:.2f}"
'''

MODEL = """import numpy as np

THRESHOLD = {threshold}


def predict(x):
    # label 1 when the first feature is above the threshold
    return (np.asarray(x)[:, 0] > THRESHOLD).astype(int)
"""
PREDICT = """import argparse

import numpy as np

from model import predict

parser = argparse.ArgumentParser()
parser.add_argument("--input")
args = parser.parse_args()
for label in predict(np.loadtxt(args.input, delimiter=",", ndmin=2)):
    print(label)
"""


def hidden_points() -> str:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(40, 2))
    y = (x[:, 0] > 0).astype(int)
    return "\n".join(f"{a:.4f},{b:.4f},{c}" for (a, b), c in zip(x, y, strict=True)) + "\n"


@pytest.fixture
def course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    build_file_tree(tmp_path / "spec", {"mini.yaml": SPEC, "mini_tests/test_public.py": PUBLIC})
    build_file_tree(
        tmp_path / "instructor",
        {"mini-model/hidden_tests/test_hidden.py": HIDDEN,
         "mini-model/hidden_data/points.csv": hidden_points()},
    )  # fmt: skip
    monkeypatch.setenv("GRADER_INSTRUCTOR_DIR", str(tmp_path / "instructor"))
    return tmp_path


def student_repo(root: Path, threshold: float, entry_point: bool = True) -> Path:
    files = {"model.py": MODEL.format(threshold=threshold), "sample.csv": "2.0,0\n-1.5,1\n",
             "README.md": "# Osztályozó\n"}  # fmt: skip
    if entry_point:
        files["predict.py"] = PREDICT
    build_file_tree(root, files)
    git_save(root, "homework", date="2020-11-09T20:00:00+01:00")
    return root


def self_check(course: Path, repo: Path, *extra: str) -> dict:
    out = course / "self"
    done = CliRunner().invoke(
        app, ["check", str(course / "spec" / "mini.yaml"), str(repo), "--out", str(out), *extra]
    )
    assert done.exit_code in (0, 1), done.output
    return json.loads((out / "result.json").read_text())["checks"][0]


def grade(course: Path, repo: Path, exit_code: int = 0) -> dict:
    """`grader grade` of the repo as ABC123: the tests check's result (exit 1: not graded)."""
    out = course / "graded"
    done = CliRunner().invoke(
        app,
        ["grade", str(course / "spec" / "mini.yaml"), "--repo", str(make_bare(repo)),
         "--student", "ABC123", "--out", str(out)],
    )  # fmt: skip
    assert done.exit_code == exit_code, done.output
    return json.loads((out / "ABC123" / "result.json").read_text())["checks"][0]


@pytest.mark.slow
def test_self_check_runs_public_tests_and_grade_adds_the_hidden_ones(course):
    repo = student_repo(course / "good", threshold=0.0)
    mine = self_check(course, repo)
    assert [t["name"] for t in mine["facts"]["tests"]] == [
        "test_predict_returns_one_label_per_row", "test_command_line_entry_point",
    ]  # fmt: skip
    assert mine["status"] == "pass" and mine["points"] == 3
    assert "3 more points come from hidden tests" in mine["message"]
    graded = grade(course, repo)
    rows = {t["name"]: t for t in graded["facts"]["tests"]}
    assert rows["test_accuracy_on_hidden_points"]["visibility"] == "hidden"
    assert rows["test_accuracy_on_hidden_points"]["status"] == "passed"
    assert graded["points"] == 6
    metrics = graded["facts"]["metrics"]
    assert metrics["hidden_accuracy"] == 1.0 and metrics["hidden_n"] == 40
    assert graded["facts"]["leaderboard"]["value"] == 1.0


@pytest.mark.slow
def test_a_weaker_model_gets_partial_credit_and_hidden_output_stays_hidden(course):
    repo = student_repo(course / "weak", threshold=0.5, entry_point=False)
    graded = grade(course, repo)
    rows = {t["name"]: t for t in graded["facts"]["tests"]}
    hidden = rows["test_accuracy_on_hidden_points"]
    accuracy = graded["facts"]["metrics"]["hidden_accuracy"]
    assert 0.75 <= accuracy < 0.9
    assert hidden["status"] == "passed" and hidden["earned"] == 1.5  # half of 3 points
    entry = rows["test_command_line_entry_point"]
    assert entry["status"] == "failed" and "predict.py" in entry["message"]
    assert graded["points"] == 1 + 1.5
    html_rows = report_rows(course / "graded" / "ABC123" / "report.html")
    assert html_rows["test_accuracy_on_hidden_points"] == ("hidden", "passed", "1.5 / 3")
    assert html_rows["test_command_line_entry_point"][1:] == ("failed", "0 / 2")
    weak = student_repo(course / "weaker", threshold=1.6)
    rows = {t["name"]: t for t in grade(course, weak)["facts"]["tests"]}
    hidden = rows["test_accuracy_on_hidden_points"]
    assert hidden["status"] == "failed" and hidden["message"] == "(output hidden)"
    assert hidden["where"] is None
    page = (course / "graded" / "ABC123" / "report.html").read_text(encoding="utf-8")
    assert "(output hidden)" in page and "hidden accuracy 0." not in page  # what it printed


def report_rows(page: Path) -> dict[str, tuple[str, str, str]]:
    """The per-test rows of a report: name -> (kind, status, points), as a reader sees them."""
    import re
    from html import unescape

    found = {}
    for row in re.findall(r'<tr class="test-[^"]*">(.*?)</tr>', page.read_text("utf-8"), re.S):
        cells = [unescape(re.sub(r"<[^>]+>", " ", c)).split() for c in
                 re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]  # fmt: skip
        found[cells[0][0]] = (" ".join(cells[1]), " ".join(cells[2]), " ".join(cells[3]))
    return found


@pytest.mark.slow
def test_gradescope_runs_hidden_tests_with_their_visibility(course, tmp_path):
    repo = student_repo(course / "gs", threshold=0.0)
    results = tmp_path / "results.json"
    done = CliRunner().invoke(
        app,
        ["gradescope", str(course / "spec" / "mini.yaml"), "--submission", str(repo),
         "--results", str(results), "--metadata", str(tmp_path / "none.json")],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    data = json.loads(results.read_text())
    tests = {t["name"].split(": ", 1)[1]: t for t in data["tests"]}
    assert tests["test_accuracy_on_hidden_points"]["visibility"] == "after_published"
    assert tests["test_command_line_entry_point"]["visibility"] == "visible"
    assert tests["test_command_line_entry_point"]["max_score"] == 2
    assert data["score"] == 6
    done = CliRunner().invoke(
        app,
        ["gradescope", str(course / "spec" / "mini.yaml"), "--submission", str(repo),
         "--results", str(results), "--no-hidden"],
    )  # fmt: skip
    names = [t["name"] for t in json.loads(results.read_text())["tests"]]
    assert len(names) == 2 and not any("hidden" in n for n in names)


@pytest.mark.slow
def test_junit_and_github_output_one_entry_per_test(course):
    repo = student_repo(course / "ci", threshold=0.0, entry_point=False)
    build_file_tree(repo, {"model.py": "import numpy as np\n\n\ndef predict(x):\n"
                                       "    raise ValueError('nem kész')\n"})  # fmt: skip
    done = CliRunner().invoke(
        app, ["check", str(course / "spec" / "mini.yaml"), str(repo), "--format", "junit"]
    )
    suite = ET.fromstring(done.stdout.split("\n", 1)[1]).find("testsuite")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {
        "tests::test_predict_returns_one_label_per_row", "tests::test_command_line_entry_point",
    }  # fmt: skip
    assert cases["tests::test_predict_returns_one_label_per_row"].find("failure") is not None
    done = CliRunner().invoke(
        app, ["check", str(course / "spec" / "mini.yaml"), str(repo), "--format", "github"]
    )
    errors = [line for line in done.stdout.splitlines() if line.startswith("::error")]
    assert any("file=model.py,line=5" in line and "nem kész" in line for line in errors), errors


NB_SPEC = """
id: nb-tests
title: Notebook tests
course: test
deadline: "2020-10-27 23:59"
checks:
  - check: tests
    points: 3
    args: {public: [nb_tests], notebook: "**/*.ipynb", cell_timeout: 3, timeout: 10, budget: 60}
"""
NB_TESTS = """
import numpy as np
import pytest


@pytest.mark.points(2)
def test_softmax_rows_sum_to_one(nb):
    rows = nb.ref("softmax")(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(rows.sum(axis=1), 1.0)
    np.testing.assert_allclose(rows[1], 1 / 3)


def test_weights_shape(nb):
    assert nb.value("W.shape") == (3, 2)
"""
NB_CELLS = [
    "import numpy as np",
    "def softmax(z):\n    e = np.exp(z - z.max(axis=1, keepdims=True))\n"
    "    return e / e.sum(axis=1, keepdims=True)",
    "W = np.zeros((3, 2))",
]


@pytest.mark.slow
def test_notebook_namespace_tests_and_a_dead_cell(tmp_path):
    build_file_tree(tmp_path / "spec", {"nb.yaml": NB_SPEC, "nb_tests/test_nb.py": NB_TESTS})
    good = build_file_tree(tmp_path / "good", {"hf/megoldás.ipynb": notebook(*NB_CELLS)})
    out = tmp_path / "out"
    spec = str(tmp_path / "spec" / "nb.yaml")
    CliRunner().invoke(app, ["check", spec, str(good), "--out", str(out)])
    check = json.loads((out / "result.json").read_text())["checks"][0]
    assert check["status"] == "pass", check["message"]
    assert check["points"] == 3
    broken = build_file_tree(
        tmp_path / "broken",
        {"nb.ipynb": notebook(NB_CELLS[0], "def softmax(z):\n    return z / 0\n",
                              "import time\nwhile True:\n    time.sleep(0.01)", NB_CELLS[2])},
    )  # fmt: skip
    CliRunner().invoke(app, ["check", spec, str(broken), "--out", str(out)])
    check = json.loads((out / "result.json").read_text())["checks"][0]
    rows = {t["name"]: t for t in check["facts"]["tests"]}
    assert rows["test_weights_shape"]["status"] == "passed"  # the loop was interrupted
    assert rows["test_softmax_rows_sum_to_one"]["status"] == "failed"
    assert check["facts"]["notebook"]["cells"][2]["status"] == "timeout"
    assert check["points"] == 1


def test_a_sandboxed_process_that_never_starts_is_the_environment_not_a_zero(
    course: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The student's process never said "ready" (bubblewrap refused, the machine too busy):
    no test could judge the submission, so the check is "not graded (environment)", not a
    confident 0 of 6 (before: every test "error", FAIL with 0 points)."""
    from grader.sandbox import student_process

    def never_ready(self, timeout: float) -> None:
        raise student_process.StudentStartError(
            "the submission's process ended before the tests began"
        )

    monkeypatch.setattr(student_process.StudentProcess, "wait_ready", never_ready)
    check = grade(course, student_repo(course / "jó", threshold=0.0), exit_code=1)
    assert check["status"] == "environment" and check["points"] == 0
    assert (
        "did not start" in check["message"] and "ended before the tests began" in check["message"]
    )


def test_a_sandbox_dir_too_long_for_a_socket_is_the_environment_and_says_what_to_set(
    course: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tests talk to the student's process over a Unix socket in GRADER_SANDBOX_DIR; a
    socket path holds 107 bytes. Before: "the check could not finish: OSError: AF_UNIX path
    too long", an error charged to the submission, with its staging folders left behind."""
    sandbox_dir = course / ("sandbox-" + "x" * 90)
    monkeypatch.setenv("GRADER_SANDBOX_DIR", str(sandbox_dir))
    check = grade(course, student_repo(course / "hosszú", threshold=0.0), exit_code=1)
    assert check["status"] == "environment" and check["points"] == 0, check["message"]
    assert "set GRADER_SANDBOX_DIR to a shorter folder" in check["message"]
    left = [p.name for p in sandbox_dir.iterdir() if p.name.startswith(("stage-", "run-"))]
    assert left == []


RERUN_SPEC = """
id: mini-trained
title: A model the grader trains
course: test
deadline: "2020-11-10 23:59"
checks:
  - check: rerun
    points: 1
    args:
      commands: ["python tanitas.py"]
      produces: [kimenet/modell.txt]
  - check: tests
    points: 2
    args:
      public: [trained_tests]
      model_from: rerun
      timeout: 20
      budget: 120
"""

TRAINED_TEST = '''
import pytest


@pytest.mark.points(2)
def test_the_trained_threshold_is_sensible(student):
    """The model the training wrote: a threshold between -1 and 1."""
    threshold = float(student.read("kimenet/modell.txt").decode())
    assert -1.0 <= threshold <= 1.0
'''


@pytest.mark.parametrize("writes_model", [True, False])
def test_tests_grade_only_the_model_the_rerun_trained(tmp_path: Path, writes_model: bool) -> None:
    """model_from: the tests judge the model the grader's rerun wrote. A training script
    that only prints (its committed model stays as it was) gets no model to test: before,
    the tests quietly graded the committed kimenet/modell.txt."""
    build_file_tree(
        tmp_path / "spec",
        {"trained.yaml": RERUN_SPEC, "trained_tests/test_trained.py": TRAINED_TEST},
    )  # fmt: skip
    training = (
        "import pathlib\npathlib.Path('kimenet').mkdir(exist_ok=True)\n"
        "pathlib.Path('kimenet/modell.txt').write_text('0.25')\nprint('Epoch 1/1 loss 0.1')\n"
        if writes_model
        else "print('Epoch 1/1 loss 0.1')  # the model below was trained elsewhere\n"
    )
    repo = build_file_tree(tmp_path / "diák", {
        "tanitas.py": training, "kimenet/modell.txt": "0.5", "README.md": "# Modell\n",
    })  # fmt: skip
    git_save(repo, "beadás", date="2020-11-09T20:00:00+01:00")
    out = tmp_path / "graded"
    done = CliRunner().invoke(
        app,
        ["grade", str(tmp_path / "spec" / "trained.yaml"), "--repo", str(make_bare(repo)),
         "--student", "ABC123", "--out", str(out), "--rerun", "full"],
    )  # fmt: skip
    result = json.loads((out / "ABC123" / "result.json").read_text())
    checks = {c["id"]: c for c in result["checks"]}
    tests = checks["tests"]
    if writes_model:
        assert done.exit_code == 0, done.output
        assert tests["points"] == 2 and "kimenet/modell.txt" in tests["facts"]["model_source"]
    else:
        assert checks["rerun"]["points"] == 0  # printing earns nothing
        assert tests["points"] == 0 and tests["status"] == "fail"
        assert tests["facts"]["model_source"].startswith("none: the rerun produced no new model")
        assert "kimenet/modell.txt not graded" in tests["facts"]["model_source"]


@pytest.mark.slow
def test_the_specs_points_override_the_test_markers(course: Path) -> None:
    """`points:` in the spec (by test name or node id) wins over @pytest.mark.points; a test
    with neither gets `default_points`."""
    spec = (course / "spec" / "mini.yaml").read_text()
    spec = spec.replace(
        "      timeout: 20\n",
        "      timeout: 20\n      points:\n        test_command_line_entry_point: 0.5\n"
        "        test_public.py::test_predict_returns_one_label_per_row: 4\n",
    )
    (course / "spec" / "mini.yaml").write_text(spec)
    repo = student_repo(course / "pontok", threshold=0.0)
    mine = self_check(course, repo)
    rows = {t["name"]: t for t in mine["facts"]["tests"]}
    assert rows["test_command_line_entry_point"]["points"] == 0.5
    assert rows["test_predict_returns_one_label_per_row"]["points"] == 4
    assert mine["facts"]["points_total"] == 4.5
