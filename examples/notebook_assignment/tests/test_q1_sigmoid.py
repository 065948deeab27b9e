"""Question 1 (2 points): sigmoid(x), elementwise, for numbers and arrays."""

import numpy as np
import pytest


@pytest.mark.points(1)
def test_q1_sigmoid_of_zero(nb):
    assert nb.ref("sigmoid")(0.0) == pytest.approx(0.5)


@pytest.mark.points(1)
def test_q1_sigmoid_of_an_array(nb):
    x = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(nb.ref("sigmoid")(x), 1 / (1 + np.exp(-x)), rtol=1e-6)
