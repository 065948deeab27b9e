"""Samples from the student's generator and the instructor's classifier stand-in."""

import sys
from pathlib import Path

import numpy as np
import pytest

SAMPLES = 64


@pytest.fixture(scope="session")
def generator(student):
    return student.module("generate")


@pytest.fixture(scope="session")
def class_name(generator):
    return str(generator.CLASS_NAME)


@pytest.fixture(scope="session")
def raw_samples(generator):
    """64 samples as the generator returns them (seed chosen by the instructor)."""
    return np.asarray(generator.generate(SAMPLES, 20181206))


@pytest.fixture(scope="session")
def samples(raw_samples):
    """The samples as floats in [0, 1] (uint8 images divided by 255, anything else clipped)."""
    images = raw_samples.astype(np.float32)
    if raw_samples.dtype == np.uint8:
        images = images / 255.0
    return np.clip(images, 0.0, 1.0)


@pytest.fixture(scope="session")
def class_images(submission):
    """make_images(cls, n, seed) of the instructor's synthetic stand-in classes."""
    sys.path.insert(0, str(Path(submission["hidden_data"]).parent))  # make_class_images.py
    from make_class_images import CLASSES, make_images

    return CLASSES, make_images


def features(images: np.ndarray) -> np.ndarray:
    """Coarse colour layout: the mean colour of each 8 x 8 block (4 x 4 x 3 numbers)."""
    blocks = images.reshape(len(images), 4, 8, 4, 8, 3).mean(axis=(2, 4))
    return blocks.reshape(len(images), -1)


@pytest.fixture(scope="session")
def stand_in(class_images):
    """The classifier stand-in: nearest class mean of the coarse colour features, fitted
    on 100 images per class made with a seed no student has seen."""
    classes, make_images = class_images
    means = np.stack([features(make_images(c, 100, seed=777)).mean(axis=0) for c in classes])

    def predict(images: np.ndarray) -> list[str]:
        distances = ((features(images)[:, None, :] - means[None]) ** 2).sum(axis=2)
        return [classes[i] for i in distances.argmin(axis=1)]

    return predict
