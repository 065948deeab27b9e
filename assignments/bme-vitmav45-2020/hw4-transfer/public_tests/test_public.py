"""Public tests of small homework 4 (they ship with the grader: run them with
`grader check hw4-transfer`). They call the two functions the spec names:
``build_model(num_classes)`` in model.py or train.py, and ``split_class`` in split.py."""

import numpy as np
import pytest

from grader.testkit import Tensor
from grader.testkit.client import StudentError


def find(student, name, modules=("model", "train")):
    """``name`` from the first of ``modules`` that defines it."""
    for module in modules:
        try:
            return getattr(student.module(module), name)
        except StudentError as exc:
            if exc.type not in ("ModuleNotFoundError", "AttributeError"):
                raise
    pytest.fail(f"no {name}() in {' or '.join(m + '.py' for m in modules)}")


@pytest.mark.points(1)
def test_model_maps_images_to_two_logits(student):
    """build_model(2) maps a batch of 3 x 224 x 224 images to 2 logits each."""
    model = find(student, "build_model")(2)
    images = np.random.default_rng(0).normal(size=(3, 3, 224, 224)).astype("float32")
    logits = student.predict(model, Tensor(images))
    assert logits.shape == (3, 2), f"a batch of 3 images gave outputs of shape {logits.shape}"
    assert np.isfinite(logits).all()


@pytest.mark.points(1)
def test_split_gives_400_100_100_per_category(student):
    """split_class(600 images) gives 400 training, 100 validation and 100 test images, no
    image in two splits, the same split for the same seed."""
    split_class = find(student, "split_class", ("split",))
    images = [f"downloads/Cat/{i:04d}.jpg" for i in range(600)]
    parts = split_class(images, (400, 100, 100), 0)
    sizes = {name: len(parts.get(name, [])) for name in ("train", "val", "test")}
    assert sizes == {"train": 400, "val": 100, "test": 100}
    chosen = [str(p) for name in ("train", "val", "test") for p in parts[name]]
    assert len(set(chosen)) == 600, "an image is in two splits (or twice in one)"
    assert set(chosen) <= set(images), "the split invented images"
    again = split_class(images, (400, 100, 100), 0)
    assert [str(p) for p in again["test"]] == [str(p) for p in parts["test"]], "not repeatable"
