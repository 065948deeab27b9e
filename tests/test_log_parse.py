"""Training-log parsing: Keras, PyTorch, Lightning, dicts, CSV, JSON, notebooks, phases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.checks.registry import args_models
from grader.logs import (
    TrainingHistory,
    combine,
    find_training_outputs,
    normalise_metric,
    parse_csv,
    parse_file,
    parse_json,
    parse_notebook,
    parse_paths,
    parse_text,
)
from grader.pipeline import self_check
from grader.plots import curves_svg
from grader.spec import parse_spec_text
from grader.testing import build_file_tree


def shape(history: TrainingHistory) -> list[tuple[str, list[int]]]:
    return [(p.name, [r.epoch for r in p.epochs]) for p in history.phases]


KERAS_2 = (
    "Epoch 1/2\n"
    "  1/125 [..............................] - ETA: 3s - loss: 0.7000\r"
    " 60/125 [=============>................] - ETA: 1s - loss: 0.6500 - accuracy: 0.6000\r"
    "125/125 [==============================] - 3s 20ms/step - loss: 0.6100 - accuracy: 0.7300"
    " - val_loss: 0.5500 - val_accuracy: 0.7500\n"
    "Epoch 2/2\n"
    "125/125 [==============================] - 3s 20ms/step - loss: 0.4100 - accuracy: 0.8300"
    " - val_loss: 0.4500 - val_accuracy: 0.8100\n"
    "\n"
    "Epoch 00002: val_accuracy improved from 0.75000 to 0.81000, saving model to best.h5\n"
    "32/32 [==============================] - 0s 5ms/step - loss: 0.3000 - accuracy: 0.9000\n"
    "Test accuracy: 0.91\n"
)


def test_keras_progress_bars_with_carriage_returns() -> None:
    history = parse_text(KERAS_2, "train.log")
    assert shape(history) == [("phase 1", [1, 2])]
    first, second = history.epochs
    assert first.metrics == {"loss": 0.61, "accuracy": 0.73, "val_loss": 0.55, "val_accuracy": 0.75}
    assert first.line == 1
    # the evaluation bar after training does not overwrite epoch 2
    assert second.metrics["accuracy"] == 0.83
    assert history.test_metrics == {"accuracy": 0.91}
    assert history.test_lines == {"accuracy": 8}  # carriage returns do not start lines
    assert history.final("val_accuracy") == 0.81
    assert history.final("test_accuracy") == 0.91
    assert history.final("f1") is None


def test_keras_3_bars_with_ansi_colours_and_backspaces() -> None:
    text = (
        "Epoch 1/2\n"
        "\x1b[1m125/125\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m3s\x1b[0m "
        "20ms/step - accuracy: 0.8300 - loss: 0.4100 - val_accuracy: 0.8100 - val_loss: 0.4500\n"
        "Epoch 2/2\n"
        "10/125 ━━ - loss: 0.9\b\b\b0.35 - accuracy: 0.86 - val_accuracy: 0.84 - "
        "learning_rate: 1.0000e-04\n"
    )
    history = parse_text(text)
    assert [r.metrics.get("val_accuracy") for r in history.epochs] == [0.81, 0.84]
    assert history.epochs[1].metrics["loss"] == 0.35
    assert history.epochs[1].metrics["lr"] == 1e-4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("epoch 3 | train loss 0.41 | val acc 81.2%", {"loss": 0.41, "val_accuracy": 0.812}),
        ("Epoch [3/10], Loss: 0.41, Acc: 0.83", {"loss": 0.41, "accuracy": 0.83}),
        ("Epoch [3/10], Loss: 0.41, Acc: 83.0", {"loss": 0.41, "accuracy": 0.83}),
        ("{'epoch': 3, 'loss': 0.41, 'val_accuracy': 0.8}", {"loss": 0.41, "val_accuracy": 0.8}),
        ('{"epoch": 3, "train_loss": 0.41, "val_acc": 0.8}', {"loss": 0.41, "val_accuracy": 0.8}),
        ("epoch=3 train_loss=0.41 val_loss=0.5 val_acc=0.8",
         {"loss": 0.41, "val_loss": 0.5, "val_accuracy": 0.8}),
        ("[Epoch 3] Train: loss 0.41 acc 83% | Val: loss 0.5 acc 80%",
         {"loss": 0.41, "accuracy": 0.83, "val_loss": 0.5, "val_accuracy": 0.8}),
        ("Epoch 3: 100%|██████████| 50/50 [00:03<00:00, 15.2it/s, loss=0.41, v_num=0, "
         "val_loss=0.45, val_acc=0.81]", {"loss": 0.41, "val_loss": 0.45, "val_accuracy": 0.81}),
        ("Epoch 3/10 Train Loss 0.41 Train Acc 0.83 Val Loss 0.5 Val Acc 0.8 Time 12.5s",
         {"loss": 0.41, "accuracy": 0.83, "val_loss": 0.5, "val_accuracy": 0.8}),
        ("epoch: 3, f1_score: 0.79, top5: 99.1%, validation accuracy: 0.8, val_auc: 0.9",
         {"val_accuracy": 0.8, "f1": 0.79, "top5_accuracy": 0.991, "val_auc": 0.9}),
        ("epoch: 3, validation accuracy: 0.8, f1_score: 0.79, precision: 0.7",
         {"val_accuracy": 0.8, "f1": 0.79, "val_precision": 0.7}),
    ],
)  # fmt: skip
def test_one_line_epoch_formats(text: str, expected: dict[str, float]) -> None:
    history = parse_text(text)
    assert [r.epoch for r in history.epochs] == [3]
    assert history.epochs[0].metrics == pytest.approx(expected)


def test_pytorch_tutorial_two_lines_per_epoch() -> None:
    text = (
        "Epoch 0/24\n----------\ntrain Loss: 0.5771 Acc: 0.6844\nval Loss: 0.2257 Acc: 0.9085\n\n"
        "Epoch 1/24\n----------\ntrain Loss: 0.4868 Acc: 0.7951\nval Loss: 0.3186 Acc: 0.8627\n\n"
        "Training complete in 1m 30s\nBest val Acc: 0.908497\n"
    )
    history = parse_text(text)
    assert [r.epoch for r in history.epochs] == [0, 1]
    assert history.epochs[1].metrics == {
        "loss": 0.4868, "accuracy": 0.7951, "val_loss": 0.3186, "val_accuracy": 0.8627
    }  # fmt: skip
    assert history.test_metrics == {}  # "Best val Acc" is a summary, not a test value


def test_step_lines_update_their_epoch_without_a_new_phase() -> None:
    text = "\n".join(
        f"Epoch [{e}/2], Step [{s}/3], Loss: {1 - e / 10 - s / 100:.4f}"
        for e in (1, 2)
        for s in (1, 2, 3)
    )
    history = parse_text(text)
    assert shape(history) == [("phase 1", [1, 2])]
    assert history.epochs[-1].metrics["loss"] == pytest.approx(0.77)


def test_phases_from_headers_restarts_and_totals() -> None:
    text = (
        "Loading ResNet-18, freezing the backbone\n"
        "=== Stage 1: training the head ===\n"
        "epoch 1 | loss 0.6\nepoch 2 | loss 0.5\n"
        "*** Fine-tuning layer4 ***\n"
        "epoch 1 | loss 0.4\n"
        "epoch 1 | loss 0.35\n"  # the same epoch again with another value: a new run
    )
    history = parse_text(text)
    assert shape(history) == [
        ("Stage 1: training the head", [1, 2]),
        ("Fine-tuning layer4", [1]),
        ("phase 3", [1]),
    ]
    assert history.phases[1].line == 5
    keras = "Epoch 1/2\n1/1 - loss: 0.5\nEpoch 2/2\n1/1 - loss: 0.4\nEpoch 3/4\n1/1 - loss: 0.3\n"
    assert [len(p.epochs) for p in parse_text(keras).phases] == [2, 1]  # total 2 -> 4
    same = "Epoch 1/1\n1/1 - loss: 0.5\nEpoch 1/1\n1/1 - loss: 0.4\n"
    assert [len(p.epochs) for p in parse_text(same).phases] == [1, 1]


def test_test_metrics_in_many_spellings() -> None:
    text = (
        "epoch 1 loss 0.5\n"
        "Evaluating on the test set\n"
        "loss: 0.31 - accuracy: 0.9\n"
        "Test set: Average loss: 0.0341, Accuracy: 9890/10000 (99%)\n"
        "test_acc = 91.5%\n"
        "Precision on test set: 0.88\n"
    )
    history = parse_text(text)
    assert history.test_metrics == pytest.approx(
        {"loss": 0.0341, "accuracy": 0.915, "precision": 0.88}
    )
    assert history.test_lines["accuracy"] == 5


def test_keras_history_dict_printed_in_a_notebook() -> None:
    text = "{'loss': [0.5, 0.4, 0.3], 'val_accuracy': [0.7, 0.8, 0.85]}"
    history = parse_text(text)
    assert [r.metrics["val_accuracy"] for r in history.epochs] == [0.7, 0.8, 0.85]


def test_prose_and_settings_are_not_metrics() -> None:
    text = (
        "Using 2 GPUs with batch size 32 and lr 0.001\n"
        "Epoch 1/3 started, patience 5, seed 42\n"
        "Downloaded 600 images in 12.5s\n"
    )
    assert parse_text(text).empty


def test_normalise_metric_names() -> None:
    assert normalise_metric("Val Acc") == ("val", "accuracy")
    assert normalise_metric("val_categorical_accuracy", True) == ("val", "accuracy")
    assert normalise_metric("eval_loss", True) == ("val", "loss")
    assert normalise_metric("train_loss_epoch", True) == ("train", "loss")
    assert normalise_metric("train_loss_step", True) == (None, None)
    assert normalise_metric("my_metric", True) == (None, "my_metric")
    assert normalise_metric("my metric") == (None, None)
    assert normalise_metric("best val acc") == (None, None)


def test_keras_csv_logger_is_shifted_to_count_from_one() -> None:
    text = (
        "epoch,accuracy,loss,val_accuracy,val_loss\n"
        "0,0.70,0.60,0.72,0.55\n1,0.80,0.50,0.80,0.50\n"
        "0,85.0,0.40,84.0,0.45\n"  # a second fit() appending from epoch 0, in percent
    )
    history = parse_csv(text, "history.csv")
    assert shape(history) == [("phase 1", [1, 2]), ("phase 2", [1])]
    assert history.phases[1].epochs[0].metrics["val_accuracy"] == 0.84
    assert history.phases[1].epochs[0].line == 4


def test_lightning_metrics_csv_rows_grouped_by_epoch() -> None:
    text = (
        "epoch,step,train_loss_epoch,train_loss_step,val_acc,val_loss,test_acc\n"
        "0,10,,0.7,,,\n0,19,0.6,,,,\n0,19,,,0.7,0.5,\n"
        "1,39,0.5,,,,\n1,39,,,0.8,0.4,\n1,40,,,,,0.82\n"
    )
    history = parse_csv(text, "metrics.csv")
    assert [r.metrics for r in history.epochs] == [
        {"loss": 0.6, "val_accuracy": 0.7, "val_loss": 0.5},
        {"loss": 0.5, "val_accuracy": 0.8, "val_loss": 0.4},
    ]
    assert history.test_metrics == {"accuracy": 0.82}


def test_csv_with_a_stage_column_and_a_broken_csv() -> None:
    text = "stage,epoch,loss\nhead,1,0.6\nhead,2,0.5\nfinetune,3,0.4\n"
    assert shape(parse_csv(text)) == [("head", [1, 2]), ("finetune", [3])]
    assert parse_csv("a,b\n1,2\n").empty  # not a history


def test_json_metrics_and_histories() -> None:
    nested = '{"test": {"accuracy": 0.9, "loss": 0.3}, "confusion_matrix": [[1, 2], [3, 4]]}'
    assert parse_json(nested, "metrics.json").test_metrics == {"accuracy": 0.9, "loss": 0.3}
    assert parse_json('{"accuracy": 0.9, "f1": 0.88}', "out/metrics.json").test_metrics == {
        "accuracy": 0.9, "f1": 0.88
    }  # fmt: skip
    assert parse_json('{"accuracy": 0.9}', "config.json").test_metrics == {}
    assert parse_json('{"test_acc": 91}', "config.json").test_metrics == {"accuracy": 0.91}
    keras = parse_json('{"loss": [0.5, 0.4], "val_accuracy": [0.7, 0.8]}', "history.json")
    assert [r.metrics for r in keras.epochs] == [
        {"loss": 0.5, "val_accuracy": 0.7}, {"loss": 0.4, "val_accuracy": 0.8}
    ]  # fmt: skip
    hf = parse_json(
        json.dumps({"log_history": [
            {"loss": 0.7, "epoch": 0.5}, {"loss": 0.6, "epoch": 1.0},
            {"eval_loss": 0.5, "eval_accuracy": 0.8, "epoch": 1.0}, {"loss": 0.4, "epoch": 2.0},
        ]}),
        "trainer_state.json",
    )  # fmt: skip
    assert [(r.epoch, r.metrics) for r in hf.epochs] == [
        (1, {"loss": 0.6, "val_loss": 0.5, "val_accuracy": 0.8}), (2, {"loss": 0.4})
    ]  # fmt: skip
    assert parse_json("{not json", "metrics.json").warnings


def notebook(*outputs: list[dict]) -> str:
    cells = [{"cell_type": "markdown", "source": "# Training", "metadata": {}}]
    for output in outputs:
        cells.append({"cell_type": "code", "source": "model.fit(...)", "metadata": {},
                      "execution_count": 1, "outputs": output})  # fmt: skip
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_notebook_stream_outputs_with_cell_numbers() -> None:
    text = notebook(
        [{"output_type": "stream", "name": "stdout", "text": ["Epoch 1/2\n", KERAS_2.split("\n")[1] + "\n"]}],
        [{"output_type": "stream", "name": "stdout", "text": "Stage 2: fine-tuning\nEpoch 1/1\n1/1 - loss: 0.2\n"},
         {"output_type": "execute_result", "data": {"text/plain": "{'test_accuracy': 0.93}"}}],
    )  # fmt: skip
    history = parse_notebook(text, "train.ipynb")
    assert shape(history) == [("phase 1", [1]), ("Stage 2: fine-tuning", [1])]
    assert [r.line for r in history.epochs] == [2, 3]  # cell numbers
    assert history.test_metrics == {"accuracy": 0.93}
    assert parse_notebook("[]", "x.ipynb").warnings == ["not a readable notebook: no 'cells' list"]


def test_files_found_parsed_and_combined(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "training.log").write_text(
        KERAS_2 + "Stage 2\nEpoch 1/1\n1/1 - loss: 0.2\n"
    )
    (tmp_path / "out" / "metrics.json").write_text('{"test": {"accuracy": 0.95, "f1": 0.9}}')
    (tmp_path / "history.csv").write_text("epoch,loss\n0,0.5\n")
    (tmp_path / "catalog.txt").write_text("nothing here")
    files = ["README.md", "out/training.log", "out/metrics.json", "history.csv", "catalog.txt"]
    found = find_training_outputs(files)
    assert found == ["out/training.log", "out/metrics.json", "history.csv", "catalog.txt"]
    histories = parse_paths(tmp_path, found)
    assert histories["catalog.txt"].empty
    merged = combine(histories)
    assert merged.source == "out/training.log"  # the most phases
    assert merged.test_metrics == {"accuracy": 0.95, "f1": 0.9}  # metrics.json before the log
    assert merged.test_lines == {"accuracy": 8}
    assert parse_file(tmp_path / "missing.log").warnings
    again = TrainingHistory.from_dict(json.loads(json.dumps(merged.to_dict())))
    assert again.to_dict() == merged.to_dict()


def test_curves_svg_is_inline_and_escaped() -> None:
    history = parse_text(
        "epoch 1 loss 0.6 acc 0.7 val_acc 0.6\nStage 2\nepoch 1 loss 0.5 acc 0.8\n"
    )
    svg = curves_svg({"<script>alert(1)</script>$x$.log": history, "b.log": history})
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "<script" not in svg and "&lt;script&gt;" in svg
    assert "val_accuracy" in svg
    assert curves_svg({"a": TrainingHistory()}) == ""


CHECK_SPEC = """\
id: t
title: T
course: c
deadline: "2020-11-10 23:59"
checks:
  - check: training_log
    points: 3
    args:
      min_epochs: 2
      require_phases: 2
      require_test_metrics: [accuracy]
"""


def run_check(tmp_path: Path, files: dict[str, str]):
    spec = parse_spec_text(CHECK_SPEC, "t.yaml", args_models())
    return self_check(spec, build_file_tree(tmp_path / "w", files)).checks[0]


def test_check_passes_on_two_stages_with_test_accuracy(tmp_path: Path) -> None:
    log = "Stage 1\nepoch 1 loss 0.6\nepoch 2 loss 0.5\nStage 2\nepoch 1 loss 0.4\nTest acc: 90%\n"
    result = run_check(tmp_path, {"logs/run.log": log, "notes.txt": "hello"})
    assert result.status.value == "pass" and result.points == 3
    assert result.facts["phases"] == [
        {"name": "Stage 1", "epochs": 2},
        {"name": "Stage 2", "epochs": 1},
    ]
    assert result.facts["test_metrics"] == {"accuracy": 0.9}
    assert result.facts["svg"].startswith("<svg")
    assert ("logs/run.log", "test_metric", 6) in {
        (e.path, e.verdict, e.line) for e in result.evidence
    }


def test_check_gives_partial_credit_for_one_phase_without_test_metrics(tmp_path: Path) -> None:
    result = run_check(tmp_path, {"history.csv": "epoch,loss,val_acc\n0,0.6,0.5\n1,0.5,0.6\n"})
    assert result.status.value == "fail"
    assert result.points == 1  # epochs are there; the second phase and test accuracy are not
    assert "1 training phase(s) found in history.csv, 2 expected" in result.message
    assert "no final test accuracy found" in result.message


def test_check_fails_without_a_log_and_says_what_it_searched(tmp_path: Path) -> None:
    result = run_check(tmp_path, {"README.md": "# hw4", "train.log": "nothing useful here\n"})
    assert result.status.value == "fail" and result.points == 0
    assert result.message.startswith("no log file with training output found (searched **/*.log")
    assert (
        "1 candidate file(s) had no epochs or test metrics: train.log" in result.evidence[0].detail
    )


def test_check_reads_notebook_outputs_and_cites_cells(tmp_path: Path) -> None:
    stream = "Phase 1\nEpoch 1/2\n1/1 - loss: 0.6\nEpoch 2/2\n1/1 - loss: 0.5\nPhase 2\nEpoch 1/1\n"
    text = notebook(
        [{"output_type": "stream", "name": "stdout", "text": stream + "1/1 - loss: 0.4\n"}],
        [{"output_type": "stream", "name": "stdout", "text": "Test accuracy: 0.875\n"}],
    )
    result = run_check(tmp_path, {"hw4.ipynb": text})
    assert result.status.value == "pass", result.message
    where = {(e.path, e.verdict, e.line) for e in result.evidence}
    assert ("hw4.ipynb cell 2", "parsed", None) in where
    assert ("hw4.ipynb cell 3", "test_metric", None) in where
