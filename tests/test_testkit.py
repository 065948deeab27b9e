"""Focused tests of the testkit: the strict channel decoding, the metrics and the score
bands (per-test outcomes are tested through the CLI in test_tests_check.py)."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from grader.testkit import Tensor
from grader.testkit.channel import ChannelError, RemoteRef, decode, encode
from grader.testkit.metrics import band, classification_metrics, regression_metrics


def nd(array: np.ndarray, **extra) -> dict:
    spec = {"dtype": array.dtype.str, "shape": list(array.shape),
            "data": base64.b64encode(array.tobytes()).decode(), **extra}  # fmt: skip
    return {"__nd__": spec}


def test_decoding_gives_plain_values_and_numeric_arrays_only():
    value = {"__dict__": [["w", nd(np.arange(6, dtype="float32").reshape(2, 3))],
                          ["shape", {"__tuple__": [2, 3]}], ["ok", True]]}  # fmt: skip
    decoded = decode(json.loads(json.dumps(value)))
    assert decoded["shape"] == (2, 3) and decoded["ok"] is True
    np.testing.assert_array_equal(decoded["w"], np.arange(6).reshape(2, 3))
    assert decoded["w"].flags.writeable  # a copy, not a view of the message
    assert isinstance(decode({"__ref__": 7, "type": "m.Net", "repr": "Net()"}), RemoteRef)
    assert decode({"__float__": "nan"}) != decode({"__float__": "nan"})


@pytest.mark.parametrize(
    "hostile",
    [
        nd(np.array([1, 2]), dtype="|O"),  # object arrays would unpickle
        nd(np.zeros(3, dtype=[("a", "i4")])),  # structured
        nd(np.zeros(4, "float64"), shape=[5]),  # data that does not match its shape
        {"__float__": "1e999999"},
        {"__class__": "os.system"},  # an unknown tag
        {"__dict__": [[["a"], 1]]},  # an unhashable key
        {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7},
    ],
)
def test_decoding_rejects_what_student_code_could_smuggle(hostile):
    with pytest.raises(ChannelError):
        decode(json.loads(json.dumps(hostile)))


def test_encoding_arguments_for_the_student_process():
    sent = encode({"x": np.ones((2, 2)), "t": Tensor(np.zeros(3, "float32")), "n": (1, 2.5)})
    back = decode(json.loads(json.dumps(sent)))
    np.testing.assert_array_equal(back["x"], np.ones((2, 2)))
    assert sent["__dict__"][1][1]["__nd__"]["tensor"] is True
    assert back["n"] == (1, 2.5)
    with pytest.raises(ValueError, match="cannot send"):
        encode(object())


def test_classification_and_regression_metrics():
    metrics = classification_metrics([0, 0, 1, 1], [0, 1, 1, 1], scores=[0.1, 0.6, 0.7, 0.9])
    assert metrics["accuracy"] == 0.75 and metrics["recall"] == 1.0
    assert metrics["precision"] == pytest.approx(2 / 3)
    assert metrics["confusion_matrix"] == [[1, 1], [0, 2]]
    assert metrics["roc_auc"] == 1.0 and metrics["n"] == 4
    assert regression_metrics([1.0, 2.0], [2.0, 2.0]) == {"mae": 0.5, "mse": 0.5}
    with pytest.raises(ValueError):
        classification_metrics([0, 1], [0])


def test_score_bands_relative_to_the_reference():
    assert band(0.9, 1.0) == 1.0 and band(0.8, 1.0) == 0.5 and band(0.5, 1.0) == 0.0
    assert band(0.3, 0.2, higher_is_better=False) == 0.0  # an error metric: lower is better
    assert band(0.21, 0.2, higher_is_better=False) == 1.0
    assert band(0.5, 0.0) == 0.0  # no usable reference: no points, never a crash
