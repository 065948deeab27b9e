"""Hidden test of small homework 4: the model the student's training produced, evaluated by
the grader on hidden images of the student's two categories, within a band of the reference
solution's accuracy measured the same way (``grader reference``)."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from grader.testkit import award, band, classification_metrics, record_metric, record_metrics
from grader.testkit.client import StudentError

MODEL = "output/model.pt"
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def preprocess(path: Path, size: int = 224) -> np.ndarray:
    """The pretrained network's own pipeline: resize to 256, centre crop 224, [0, 1],
    ImageNet mean and std, channels first (what the assignment asks students to use)."""
    image = Image.open(path).convert("RGB")
    resize = round(size * 256 / 224)
    scale = resize / min(image.size)
    width, height = round(image.width * scale), round(image.height * scale)
    image = image.resize((max(resize, width), max(resize, height)), Image.BILINEAR)
    left, top = (image.width - size) // 2, (image.height - size) // 2
    image = image.crop((left, top, left + size, top + size))
    array = (np.asarray(image, dtype=np.float32) / 255.0 - MEAN) / STD
    return array.transpose(2, 0, 1)


def categories(student):
    """The student's categories in class-index order (alphabetical, as ImageFolder and
    Keras' image_dataset_from_directory number them)."""
    student.exec("import os")
    for folder in ("data/train", "data/Train", "dataset/train"):
        try:
            names = student.value(
                f"sorted(d for d in os.listdir({folder!r}) "
                f"if os.path.isdir(os.path.join({folder!r}, d)))"
            )
        except StudentError:
            continue
        if names:
            return names
    try:
        return list(json.loads(student.read("output/metrics.json"))["test"]["classes"])
    except (StudentError, KeyError, ValueError):
        pytest.fail(
            "cannot tell the categories: no data/train/<category>/ folders and no "
            "classes in output/metrics.json"
        )


def build_model(student):
    for module in ("model", "train"):
        try:
            return student.module(module).build_model
        except StudentError as exc:
            if exc.type not in ("ModuleNotFoundError", "AttributeError"):
                raise
    pytest.fail("no build_model() in model.py or train.py")


@pytest.mark.points(2)
def test_model_on_hidden_images(student, submission, hidden_images, reference):
    """The trained model (output/model.pt, written by the rerun) on hidden images of the
    student's categories: full points at 90% of the reference's accuracy, half at 75%."""
    if not student.value(f"__import__('os').path.isfile({MODEL!r})"):
        if submission.get("mode") == "none":
            pytest.skip("no trained model yet: it is evaluated after a rerun")
        pytest.fail(f"no trained model: the rerun did not write {MODEL}")
    names = categories(student)
    missing = [n for n in names if n not in hidden_images]
    if missing:
        pytest.skip(f"no hidden images for the categories {', '.join(missing)}")
    paths = [(p, index) for index, name in enumerate(names) for p in hidden_images[name]]
    images = np.stack([preprocess(p) for p, _ in paths])
    truth = np.array([index for _, index in paths])
    model = student.load_torch_model(MODEL, build_model(student), len(names))
    record_metric("evaluated_on_cuda", float(bool(student.device().get("cuda"))))
    logits = student.predict_all(model, images, batch_size=8)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    scores = shifted / shifted.sum(axis=1, keepdims=True)
    metrics = classification_metrics(
        truth, logits.argmax(axis=1), scores, labels=list(range(len(names)))
    )
    record_metrics(metrics, prefix="hidden_")
    if "hidden_accuracy" not in reference:
        pytest.skip("the reference's hidden accuracy is pending (run `grader reference`)")
    fraction = band(metrics["accuracy"], reference["hidden_accuracy"])
    award(
        fraction,
        f"hidden accuracy {metrics['accuracy']:.3f}, reference {reference['hidden_accuracy']:.3f}",
    )
    assert fraction > 0, (
        f"hidden accuracy {metrics['accuracy']:.3f} is below 75% of the "
        f"reference's {reference['hidden_accuracy']:.3f}"
    )
