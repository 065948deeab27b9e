"""Public test of small homework 5 (`grader check hw5-generative` runs it)."""

import pytest

CIFAR10 = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck")  # fmt: skip


@pytest.mark.points(1)
def test_generate_returns_images_of_a_cifar10_class(student):
    """generate.py: CLASS_NAME is a CIFAR-10 class; generate(4) returns 4 x 32 x 32 x 3."""
    module = student.module("generate")
    assert module.CLASS_NAME in CIFAR10, f"CLASS_NAME {module.CLASS_NAME!r}"
    images = module.generate(4, 0)
    assert images.shape == (4, 32, 32, 3), f"generate(4) gave the shape {images.shape}"
