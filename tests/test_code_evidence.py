"""`code_evidence`: pretrained backbone, freezing, partial unfreezing, preprocessing."""

from __future__ import annotations

import json
from pathlib import Path

from grader.checks.code_scan import scan_source
from grader.checks.registry import args_models
from grader.pipeline import self_check
from grader.results import Status
from grader.spec import parse_spec_text
from grader.testing import build_file_tree

SPEC = """\
id: t
title: T
course: c
deadline: "2020-11-10 23:59"
checks:
  - check: code_evidence
    points: 4
"""

KERAS = """\
from tensorflow.keras.applications import InceptionV3
from tensorflow.keras.applications.inception_v3 import preprocess_input
from tensorflow.keras.preprocessing.image import ImageDataGenerator

base_model = InceptionV3(include_top=False, pooling="avg")  # ImageNet weights by default
for layer in base_model.layers:
    layer.trainable = False
gen = ImageDataGenerator(preprocessing_function=preprocess_input)
model.fit(gen.flow_from_directory("data/train"), epochs=5)
# stage 2: the top two inception blocks learn as well
for layer in base_model.layers[249:]:
    layer.trainable = True
"""

KERAS_REFREEZE = """\
import tensorflow as tf
base = tf.keras.applications.ResNet50(weights="imagenet", include_top=False)
base.trainable = False
x = tf.keras.applications.resnet50.preprocess_input(inputs)
base.trainable = True
for layer in base.layers[:100]:
    layer.trainable = False
"""

TORCH = """\
import torch
from torchvision import models, transforms

weights = models.ResNet50_Weights.IMAGENET1K_V2
model = models.resnet50(weights=weights)
preprocess = weights.transforms()
for p in model.parameters():
    p.requires_grad = False
model.fc = torch.nn.Linear(2048, 2)
train(model, epochs=3)
for name, p in model.named_parameters():
    if name.startswith("layer4"):
        p.requires_grad = True
"""

TORCH_MEAN_STD = """\
import timm
import torchvision.transforms as T
MEAN = [0.485, 0.456, 0.406]
norm = T.Normalize(MEAN, std=(0.229, 0.224, 0.225))
model = timm.create_model("resnet18", pretrained=True, num_classes=2)
model.requires_grad_(False)
model.get_classifier().requires_grad_(True)
model.layer4.requires_grad_()
"""


def check(tmp_path: Path, files: dict[str, str]):
    spec = parse_spec_text(SPEC, "t.yaml", args_models())
    return self_check(spec, build_file_tree(tmp_path / "w", files)).checks[0]


def items(result) -> dict[str, str]:
    return {k: v["status"] for k, v in result.facts["items"].items()}


def test_keras_inception_two_stages(tmp_path: Path) -> None:
    result = check(tmp_path, {"train.py": KERAS})
    assert result.status == Status.PASS, result.message
    assert result.points == 4
    unfreeze = result.facts["items"]["partial_unfreeze"]["evidence"]
    assert [e["line"] for e in unfreeze] == [7, 12]
    pre = result.facts["items"]["matching_preprocessing"]["evidence"]
    assert pre[0]["line"] == 2 and "inception_v3" in pre[0]["code"]


def test_keras_unfreeze_all_then_refreeze_lower_layers(tmp_path: Path) -> None:
    result = check(tmp_path, {"model.py": KERAS_REFREEZE})
    assert items(result) == dict.fromkeys(
        ["pretrained_backbone", "freeze", "partial_unfreeze", "matching_preprocessing"], "found"
    )


def test_pytorch_resnet_with_weights_transforms(tmp_path: Path) -> None:
    result = check(tmp_path, {"src/train.py": TORCH})
    assert result.status == Status.PASS, result.message
    evidence = {(e.verdict, e.path, e.line) for e in result.evidence}
    assert ("pretrained_backbone: found", "src/train.py", 5) in evidence
    assert ("partial_unfreeze: found", "src/train.py", 13) in evidence


def test_timm_and_imagenet_mean_std(tmp_path: Path) -> None:
    result = check(tmp_path, {"a.py": TORCH_MEAN_STD})
    assert result.status == Status.PASS, result.message


def test_notebook_cells_with_magics_and_a_cell_that_does_not_parse(tmp_path: Path) -> None:
    cells = [
        "!pip install torch\n%matplotlib inline\nimport torchvision",
        "model = torchvision.models.vgg16(pretrained=True)",
        "for p in model.features.parameters():\n    p.requires_grad = False",
        # a cell that does not parse even without magics: the text fallback reads it
        "for p in model.features[24:].parameters(:\n    p.requires_grad = True",
        "norm = transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])",
    ]
    notebook = {
        "cells": [{"cell_type": "code", "source": c, "metadata": {}, "outputs": [],
                   "execution_count": None} for c in cells],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }  # fmt: skip
    result = check(tmp_path, {"hw4.ipynb": json.dumps(notebook)})
    assert result.status == Status.PASS, result.message
    assert result.facts["text_fallback"] == ["hw4.ipynb cell 4"]
    paths = {e.path for e in result.evidence if e.verdict == "partial_unfreeze: found"}
    assert paths == {"hw4.ipynb cell 3", "hw4.ipynb cell 4"}


def test_undecidable_code_is_manual_with_candidates(tmp_path: Path) -> None:
    code = (
        "import torch\n"
        "model = torch.load('backbone.pt')\n"
        "for p in model.parameters():\n"
        "    p.requires_grad = train_backbone\n"
        "norm = Normalize(mean=stats[0], std=stats[1])\n"
    )
    result = check(tmp_path, {"train.py": code})
    assert result.status == Status.MANUAL
    assert result.points == 0
    assert set(items(result).values()) == {"manual"}
    lines = {e.line for e in result.evidence}
    assert {2, 4, 5} <= lines


def test_clearly_absent_steps_fail_with_partial_credit(tmp_path: Path) -> None:
    code = (
        "from torchvision.models import resnet18\n"
        "model = resnet18()  # no pretrained weights\n"
        "from tensorflow.keras.applications import InceptionV3\n"
        "from tensorflow.keras.applications.vgg16 import preprocess_input\n"
        "base = InceptionV3(weights='imagenet')\n"
        "for layer in base.layers:\n"
        "    layer.trainable = False\n"
    )
    result = check(tmp_path, {"train.py": code})
    assert result.status == Status.FAIL
    assert items(result) == {
        "pretrained_backbone": "found", "freeze": "found", "partial_unfreeze": "absent",
        "matching_preprocessing": "absent",
    }  # fmt: skip
    assert result.points == 2
    assert "not found in the code: partial unfreeze, matching preprocessing" in result.message
    reason = result.facts["items"]["matching_preprocessing"]["reason"]
    assert reason == "preprocess_input of another network than the backbone"


def test_no_code_at_all(tmp_path: Path) -> None:
    result = check(tmp_path, {"README.md": "# nothing"})
    assert result.status == Status.FAIL and result.message == "no Python code or notebook found"


def test_scan_events_for_unfreezing_the_head_only() -> None:
    events, parsed = scan_source(
        "for p in model.parameters():\n    p.requires_grad = False\n"
        "for p in model.fc.parameters():\n    p.requires_grad = True\n"
    )
    assert parsed
    unfreeze = [e for e in events if e.kind == "unfreeze"]
    assert len(unfreeze) == 1 and unfreeze[0].head and not unfreeze[0].subset


def test_hostile_files_are_skipped_or_read_as_text(tmp_path: Path) -> None:
    files = {
        "deep.py": "x = " + "-" * 100_000 + "1\nmodel.requires_grad_(False)\n",
        "broken.ipynb": json.dumps({"cells": 5}),
        "also_broken.ipynb": "{not json",
    }
    result = check(tmp_path, files)
    assert result.facts["text_fallback"] == ["deep.py"]
    assert sorted(result.facts["skipped"]) == [
        "also_broken.ipynb: not a readable notebook", "broken.ipynb: not a readable notebook"
    ]  # fmt: skip
    assert result.facts["items"]["freeze"]["status"] == "found"
