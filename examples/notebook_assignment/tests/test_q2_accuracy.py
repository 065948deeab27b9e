"""Question 2 (2 points): accuracy(y_true, y_pred), the share of equal labels."""

import numpy as np
import pytest


@pytest.mark.points(2)
def test_q2_accuracy(nb):
    accuracy = nb.ref("accuracy")
    assert accuracy(np.array([1, 0, 1, 1]), np.array([1, 1, 1, 0])) == pytest.approx(0.5)
    assert accuracy(np.array([2, 2]), np.array([2, 2])) == pytest.approx(1.0)
