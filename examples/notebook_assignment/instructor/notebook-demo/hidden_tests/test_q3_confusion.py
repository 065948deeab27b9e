"""Question 3 (1 point, hidden): confusion(y_true, y_pred) for 0/1 labels, rows: truth."""

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix


@pytest.mark.points(1)
def test_q3_confusion_matrix(nb):
    rng = np.random.default_rng(1)
    truth, predicted = rng.integers(0, 2, 30), rng.integers(0, 2, 30)
    got = np.asarray(nb.ref("confusion")(truth, predicted))
    np.testing.assert_array_equal(got, confusion_matrix(truth, predicted, labels=[0, 1]))
