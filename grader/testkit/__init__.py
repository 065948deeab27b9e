"""What an instructor's test file uses: fixtures come from the grader's pytest plugin, the
helpers from here.

    import numpy as np, pytest
    from grader.testkit import Tensor, award, classification_metrics, record_metric

    @pytest.mark.points(2)
    def test_momentum(nb):                          # the executed notebook's namespace
        step = nb.ref("momentum_update")            # a function that stays in the sandbox
        w, v = step(np.ones(3), np.ones(3), np.zeros(3), lr=0.1, mu=0.9)   # plain data back
        np.testing.assert_allclose(w, 0.9)

    def test_shape(student):                        # the submission's modules and scripts
        net = student.module("model").build_model(2)
        assert student.predict(net, Tensor(np.zeros((3, 3, 224, 224), "float32"))).shape == (3, 2)

Tests run OUTSIDE the sandbox, in a process that never imports student code; the student's
code runs in the sandbox and answers with data. Fixtures: ``student`` (and ``nb``, the same
for a notebook), ``hidden_data`` (the instructor's hidden data folder; hidden tests only),
``reference`` (the reference solution's measured metrics), ``submission`` (what the grader
knows about the run: mode, files the rerun produced).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from grader.testkit.metrics import band, classification_metrics, regression_metrics

__all__ = [
    "Tensor", "award", "band", "classification_metrics", "current", "record_metric",
    "record_metrics", "regression_metrics",
]  # fmt: skip


@dataclass(frozen=True)
class Tensor:
    """An array that arrives in the student's process as a ``torch.Tensor``."""

    array: Any


@dataclass
class TestRecord:
    """What the running test said about itself (partial credit, metrics, student lines)."""

    fraction: float | None = None
    reason: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    touched: list[tuple[str, int]] = field(default_factory=list)


_CURRENT = TestRecord()


def current() -> TestRecord:
    return _CURRENT


def _reset() -> TestRecord:
    global _CURRENT
    _CURRENT = TestRecord()
    return _CURRENT


def award(fraction: float, reason: str = "") -> None:
    """Partial credit: this test earns ``fraction`` (0..1) of its points, whether it then
    passes or fails. The last call wins."""
    value = float(fraction)
    if not math.isfinite(value):
        raise ValueError("award() needs a finite fraction")
    _CURRENT.fraction = min(1.0, max(0.0, value))
    _CURRENT.reason = reason


def record_metric(name: str, value: float) -> None:
    """A measured number for the result's facts (and the class leaderboard)."""
    number = float(value)
    _CURRENT.metrics[str(name)] = number if math.isfinite(number) else float("nan")


def record_metrics(values: dict[str, Any], prefix: str = "", skip: Sequence[str] = ()) -> None:
    """Every finite scalar of ``values`` (e.g. ``classification_metrics``'s result)."""
    for key, value in values.items():
        if key not in skip and isinstance(value, int | float) and not isinstance(value, bool):
            record_metric(prefix + key, value)
