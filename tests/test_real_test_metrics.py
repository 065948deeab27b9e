"""Test metrics as real notebooks print them, graded through the CLI (issue 10, item 3):
Keras ``model.evaluate`` (its progress line, or the returned list), PyTorch's test prints,
scikit-learn's ``classification_report`` and ``accuracy_score``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.logs import parse_notebook, parse_text
from tests.real_hw3 import code, commit_repo, md, notebook

SPEC = """\
id: hw4-transfer
title: "Small homework 4: transfer learning"
course: "BME VITMAV45"
deadline: "2020-11-10 23:59"
checks:
  - check: training_log
    points: 3
    args:
      require_test_metrics: [{metrics}]
"""
BAR = "[==============================]"
COMPILE = code("model.compile(optimizer=Adam(1e-4), loss='binary_crossentropy',\n"
               "              metrics=['accuracy'])", count=6)  # fmt: skip
FIT = code(
    "history = model.fit(train_gen, validation_data=val_gen, epochs=2)",
    f"Epoch 1/2\n25/25 {BAR} - 41s 2s/step - loss: 0.6011 - accuracy: 0.7125 - val_loss: "
    "0.4410 - val_accuracy: 0.8300\n"
    f"Epoch 2/2\n25/25 {BAR} - 39s 2s/step - loss: 0.3120 - accuracy: 0.8838 - val_loss: "
    "0.2950 - val_accuracy: 0.9100\n",
    count=7,
)
EVALUATE_BAR = code(
    "# kiértékelés a teszt halmazon\nmodel.evaluate(test_gen)",
    f"200/200 {BAR} - 3s 15ms/step - loss: 0.4823 - accuracy: 0.9650\n",
    {"text/plain": "[0.4823000144958496, 0.9649999737739563]"},
    count=11,
)
EVALUATE_LIST = code(
    "score = model.evaluate(x_test, y_test, verbose=0)\nprint(score)",
    "[0.4823000144958496, 0.9649999737739563]\n",
    count=12,
)
VAL_THEN_TEST = code(
    "model.evaluate(x_val, y_val)\nmodel.evaluate(x_test, y_test)",
    f"4/4 {BAR} - 0s 9ms/step - loss: 0.2950 - accuracy: 0.9100\n"
    f"4/4 {BAR} - 0s 9ms/step - loss: 0.4823 - accuracy: 0.9650\n",
    count=13,
)
PYTORCH = code(
    "for epoch in range(1, 3):\n    train(model, device, train_loader, optimizer, epoch)\n"
    "    test(model, device, test_loader)",
    "Train Epoch: 1 [0/60000 (0%)]\tLoss: 2.301\nTrain Epoch: 1 [59520/60000 (99%)]\tLoss: 0.101\n"
    "\nTest set: Average loss: 0.0512, Accuracy: 9836/10000 (98%)\n\n"
    "Train Epoch: 2 [0/60000 (0%)]\tLoss: 0.052\nTrain Epoch: 2 [59520/60000 (99%)]\tLoss: 0.031\n"
    "\nTest set: Average loss: 0.0339, Accuracy: 9890/10000 (99%)\n\n",
    count=4,
)
SKLEARN = [
    code("y_pred = (model.predict(X_test) > 0.5).astype(int)\n"
         "print(classification_report(y_test, y_pred, target_names=['macska', 'kutya']))",
         "              precision    recall  f1-score   support\n\n"
         "      macska       0.96      0.97      0.96       100\n"
         "       kutya       0.97      0.96      0.97       100\n\n"
         "    accuracy                           0.96       200\n"
         "   macro avg       0.97      0.96      0.96       200\n"
         "weighted avg       0.97      0.96      0.96       200\n", count=21),
    code("accuracy_score(y_test, y_pred)", {"text/plain": "0.965"}, count=20),
]  # fmt: skip

CASES = {
    "keras-progress-line": ([COMPILE, FIT, EVALUATE_BAR], {"accuracy": 0.965, "loss": 0.4823}),
    "keras-returned-list": ([COMPILE, FIT, EVALUATE_LIST], {"accuracy": 0.965, "loss": 0.4823}),
    "keras-val-then-test": ([COMPILE, FIT, VAL_THEN_TEST], {"accuracy": 0.965, "loss": 0.4823}),
    "pytorch-test-set": ([PYTORCH], {"accuracy": 0.989, "loss": 0.0339}),
    "sklearn-report-and-score": (
        [COMPILE, FIT, *SKLEARN],
        {"accuracy": 0.965, "precision": 0.97, "recall": 0.96, "f1": 0.96},
    ),
}


def grade(tmp_path: Path, cells: list, metrics: str = "accuracy") -> dict:
    spec = tmp_path / "hw4.yaml"
    spec.write_text(SPEC.format(metrics=metrics), encoding="utf-8")
    files = {
        "README.md": "# HF4 - transfer learning (macska vs kutya)\n",
        "HF4/HF4_transfer_learning (2).ipynb": notebook([md("# Transfer learning"), *cells]),
    }
    bare = commit_repo(tmp_path / "repo", files, when="2020-11-09T22:10:00+01:00")
    out = tmp_path / "out"
    args = ["grade", str(spec), "--repo", str(bare), "--student", "KUT123", "--out", str(out)]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    result = json.loads((out / "KUT123" / "result.json").read_text(encoding="utf-8"))
    return result["checks"][0]


@pytest.mark.parametrize("case", list(CASES))
def test_test_metrics_printed_in_notebooks(tmp_path: Path, case: str) -> None:
    cells, expected = CASES[case]
    metrics = "accuracy, f1" if "f1" in expected else "accuracy"
    check = grade(tmp_path, cells, metrics)
    assert check["status"] == "pass", check["message"]
    assert check["facts"]["test_metrics"] == pytest.approx(expected)


def test_an_evaluation_on_validation_data_is_no_test_metric(tmp_path: Path) -> None:
    cell = code("model.evaluate(x_val, y_val)", f"4/4 {BAR} - 0s - loss: 0.29 - accuracy: 0.91\n")
    check = grade(tmp_path, [COMPILE, FIT, cell])
    assert check["status"] == "fail" and "no final test accuracy" in check["message"]
    assert check["facts"]["test_metrics"] == {}


def test_cells_and_lines_of_the_test_metrics() -> None:
    history = parse_notebook(notebook([md("x"), COMPILE, FIT, EVALUATE_LIST]), "nb.ipynb")
    assert history.test_lines == {"loss": 4, "accuracy": 4}  # the notebook's 4th cell
    assert [r.metrics["val_accuracy"] for r in history.epochs] == [0.83, 0.91]


def test_a_classification_report_in_a_log_after_a_test_header() -> None:
    report = SKLEARN[0].outputs[0]["text"]
    history = parse_text("Evaluating on the test set\n" + report, "eval.log")
    assert history.test_metrics == {"accuracy": 0.96, "precision": 0.97, "recall": 0.96, "f1": 0.96}
    assert parse_text(report, "no-context.log").test_metrics == {}  # which split: unknown
