"""Hidden tests of small homework 5: they sample from the student's generator."""

import numpy as np
import pytest

from grader.testkit import award, record_metric

SAMPLES = 64


@pytest.mark.points(1)
def test_samples_have_the_value_range_of_images(raw_samples):
    """Floats in [0, 1], or bytes (uint8) in 0..255."""
    if raw_samples.dtype == np.uint8:
        return
    assert np.issubdtype(raw_samples.dtype, np.floating), f"dtype {raw_samples.dtype}"
    low, high = float(raw_samples.min()), float(raw_samples.max())
    assert low >= 0.0 and high <= 1.0, f"values from {low:.3g} to {high:.3g}, not in [0, 1]"


def _mean_distance(images: np.ndarray) -> float:
    flat = images.reshape(len(images), -1)
    squares = (flat**2).sum(axis=1)
    d2 = np.maximum(squares[:, None] + squares[None] - 2 * flat @ flat.T, 0)
    return float(np.sqrt(d2)[np.triu_indices(len(flat), 1)].mean())


@pytest.mark.points(2)
def test_samples_are_diverse_not_collapsed(samples, class_images, class_name):
    """64 samples are not a few images repeated: their mean pairwise distance is at least
    a quarter of that of real images of the class, and at most 8 are near-copies."""
    classes, make_images = class_images
    assert class_name in classes, f"CLASS_NAME {class_name!r} is not a CIFAR-10 class"
    real = _mean_distance(make_images(class_name, SAMPLES, seed=4242))
    spread = _mean_distance(samples)
    record_metric("sample_diversity", spread / real)
    flat = samples.reshape(len(samples), -1)
    near = sum(
        bool(np.any(np.linalg.norm(flat[i + 1 :] - flat[i], axis=1) < 0.02 * real))
        for i in range(len(flat) - 1)
    )
    assert spread >= 0.25 * real, f"mean distance {spread:.2f}, real images {real:.2f}"
    assert near <= 8, f"{near} of {SAMPLES} samples are near-copies of another one"


@pytest.mark.points(2)
def test_the_classifier_stand_in_recognises_the_class(samples, stand_in, class_name):
    """The instructor's classifier labels the samples as the chosen class: full points at
    60% of them or more, half at 30%."""
    labels = stand_in(samples)
    share = sum(label == class_name for label in labels) / len(labels)
    record_metric("recognised_share", share)
    award(1.0 if share >= 0.6 else 0.5 if share >= 0.3 else 0.0, f"{share:.0%} recognised")
    assert share >= 0.3, f"only {share:.0%} of the samples look like a {class_name}"
