"""Metrics of a model's answers on the instructor's data, computed on the trusted side with
scikit-learn (imported when first used: it is slow to import)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def classification_metrics(
    y_true: Sequence[Any],
    y_pred: Sequence[Any],
    scores: Any = None,
    labels: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """Accuracy, precision, recall, F1 (binary for two labels, macro otherwise), the
    confusion matrix (rows: true label, columns: predicted, in ``labels`` order) and, with
    ``scores`` (positive-class scores, or one column per label), ROC-AUC."""
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        precision_recall_fscore_support,
        roc_auc_score,
    )

    truth, predicted = np.asarray(y_true), np.asarray(y_pred)
    if truth.shape != predicted.shape:
        raise ValueError(f"{truth.shape[0]} true labels but {predicted.shape[0]} predictions")
    labels = list(labels) if labels is not None else sorted(set(truth.tolist()))
    binary = len(labels) == 2
    precision, recall, f1, _ = precision_recall_fscore_support(
        truth, predicted, labels=labels, average="binary" if binary else "macro",
        pos_label=labels[-1] if binary else 1, zero_division=0,
    )  # fmt: skip
    result: dict[str, Any] = {
        "accuracy": float(accuracy_score(truth, predicted)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "confusion_matrix": confusion_matrix(truth, predicted, labels=labels).tolist(),
        "labels": [str(label) for label in labels],
        "n": int(truth.shape[0]),
    }
    if scores is not None:
        values = np.asarray(scores, dtype=float)
        try:
            if binary:
                column = values[:, -1] if values.ndim == 2 else values
                result["roc_auc"] = float(roc_auc_score(truth == labels[-1], column))
            else:
                result["roc_auc"] = float(
                    roc_auc_score(truth, values, multi_class="ovr", labels=labels)
                )
        except ValueError:  # a single class in the data: ROC-AUC is undefined
            result["roc_auc"] = float("nan")
    return result


def regression_metrics(y_true: Sequence[float], y_pred: Sequence[float]) -> dict[str, float]:
    """MAE and MSE."""
    from sklearn.metrics import mean_absolute_error, mean_squared_error

    return {
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "mse": float(mean_squared_error(y_true, y_pred)),
    }


DEFAULT_BANDS = ((0.9, 1.0), (0.75, 0.5), (0.0, 0.0))


def band(
    value: float,
    reference: float,
    bands: Sequence[tuple[float, float]] = DEFAULT_BANDS,
    higher_is_better: bool = True,
) -> float:
    """The share of the points for ``value`` relative to the reference solution's value:
    the fraction of the first band whose ``min_ratio`` the ratio reaches."""
    if reference <= 0 or value < 0:
        return 0.0
    ratio = value / reference if higher_is_better else (reference / value if value else 0.0)
    for min_ratio, fraction in sorted(bands, key=lambda b: -b[0]):
        if ratio >= min_ratio:
            return fraction
    return 0.0
