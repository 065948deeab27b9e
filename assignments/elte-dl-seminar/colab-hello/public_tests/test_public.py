"""Public tests of the Colab warm-up (they ship with the grader: run them with
`grader check colab-hello`). The notebook is executed once, top to bottom; the tests look
at what it left in its namespace and what it showed."""

import numpy as np
import pytest


@pytest.fixture(scope="session")
def cifar10(submission):
    if "CIFAR10_DIR" not in submission.get("caches", []):
        pytest.skip("the grader has no local copy of CIFAR-10 (CIFAR10_DIR) to run with")


@pytest.mark.points(1)
def test_x_train_has_the_cifar10_shape(nb, cifar10):
    """x_train holds CIFAR-10's training images: N x 32 x 32 x 3, one byte per channel."""
    shape = nb.value("tuple(x_train.shape)")
    assert len(shape) == 4 and shape[1:] == (32, 32, 3), f"x_train has the shape {shape}"
    assert nb.value("str(x_train.dtype)") == "uint8"
    assert shape[0] in (50000, nb.value("len(y_train)")), "as many labels as images"


@pytest.mark.points(1)
def test_image_12_is_shown(nb, cifar10):
    """x_train[12] itself is passed to imshow."""
    shown = nb.shown_images()
    target = nb.value("x_train[12]")
    assert shown, "nothing was shown with imshow"
    assert any(image.shape == target.shape and np.array_equal(image, target) for image in shown), (
        f"{len(shown)} image(s) shown, none of them is x_train[12]"
    )
