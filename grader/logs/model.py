"""The parsed shape of a training run: phases of epochs with metrics, and test metrics.

Metric names are normalised so that logs written by different frameworks compare:
``loss``, ``accuracy``, ``precision``, ``recall``, ``f1``, ``auc``, ``mae``, ``mse``,
``rmse``, ``top5_accuracy``, ``lr``, with a ``val_`` prefix for validation values and a
``test_`` prefix inside an epoch (final test metrics live in ``test_metrics`` without a
prefix). Accuracy-like values are fractions (``81.2%`` becomes ``0.812``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# canonical metric name -> the words (after splitting on space, "_", "-", ".", "/") that mean it
_ALIASES: dict[str, set[str]] = {
    "loss": {"loss", "cost", "xent", "cross_entropy", "crossentropy", "nll"},
    "accuracy": {
        "acc", "accuracy", "accu", "categorical_accuracy", "binary_accuracy",
        "sparse_categorical_accuracy", "top1", "top1_accuracy", "top1_acc", "acc1",
    },
    "top5_accuracy": {"top5", "top5_accuracy", "top5_acc", "acc5", "top_k_categorical_accuracy"},
    "precision": {"precision", "prec"},
    "recall": {"recall", "rec", "sensitivity"},
    "f1": {"f1", "f1_score", "f1score", "fscore", "f_score", "f1_macro", "macro_f1"},
    "auc": {"auc", "roc_auc", "auroc", "rocauc"},
    "mae": {"mae", "mean_absolute_error"},
    "mse": {"mse", "mean_squared_error"},
    "rmse": {"rmse", "root_mean_squared_error"},
    "lr": {"lr", "learning_rate", "learningrate"},
}  # fmt: skip
_LOOKUP = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}
KNOWN_METRICS = frozenset(_ALIASES)
FRACTION_METRICS = {"accuracy", "top5_accuracy", "precision", "recall", "f1", "auc"}
SPLIT_FREE = {"lr"}  # never prefixed with val_/test_

_SPLIT_WORDS = {
    "train": "train", "training": "train", "tr": "train", "trn": "train",
    "val": "val", "valid": "val", "validation": "val", "dev": "val", "eval": "val", "v": "val",
    "test": "test", "testing": "test", "tst": "test", "holdout": "test",
}  # fmt: skip
# words that carry no meaning for the metric ("average loss", "accuracy on the test set")
_FILLER = {
    "average", "avg", "mean", "overall", "set", "on", "of", "the", "data", "dataset",
    "images", "epoch", "total", "final", "running", "batch", "in", "for", "score", "metric",
}  # fmt: skip
# a name with one of these is a summary or a setting, never an epoch's value
_REJECT = {"best", "min", "max", "v_num", "num", "step", "steps", "it", "eta", "time", "sec",
           "ms", "gpu", "mem", "memory", "iter", "iteration", "size", "seed", "patience",
           "lowest", "highest", "previous", "prev", "baseline", "target", "expected"}  # fmt: skip
_SPLITTER = re.compile(r"[\s_\-./:]+")


def normalise_metric(raw: str, explicit_key: bool = False) -> tuple[str | None, str | None]:
    """``(split, metric)`` for a raw metric name, or ``(None, None)`` when not a metric.

    ``split`` is "train", "val", "test" or None (no split word). ``explicit_key`` says that
    the name was written as a key (``key=value``, ``key: value``, a CSV column, a dict key):
    an unknown snake_case key is kept under its own name, while free text only yields the
    known metrics above.

    >>> normalise_metric("Val Acc")
    ('val', 'accuracy')
    >>> normalise_metric("train_loss_epoch", explicit_key=True)
    ('train', 'loss')
    """
    text = raw.strip().strip("'\"").lower()
    if text.endswith("_step"):  # Lightning per-step duplicates of an epoch value
        return None, None
    words = [w for w in _SPLITTER.split(text) if w]
    if not words or any(w in _REJECT for w in words):
        return None, None
    split = None
    rest: list[str] = []
    kept: list[str] = []  # the words of an unknown key's own name
    for word in words:
        if word in _SPLIT_WORDS and split is None and (len(words) > 1 or word != "v"):
            split = _SPLIT_WORDS[word]
            continue
        kept.append(word)
        if word not in _FILLER:
            rest.append(word)
    if not rest:
        return None, None
    joined = "_".join(rest)
    metric = _LOOKUP.get(joined) or _LOOKUP.get("".join(rest))
    if metric is None and len(rest) > 1:
        metric = _LOOKUP.get(rest[-1]) if rest[-1] in {"loss", "accuracy", "acc"} else None
    if metric is None:
        metric = "_".join(kept)
        if not explicit_key or not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", metric):
            return None, None
    return split, metric


def scale_value(metric: str, value: float, percent: bool) -> float:
    """Percentages become fractions; an accuracy-like value above 1 (and at most 100) is
    read as a percentage too."""
    if percent or (metric in FRACTION_METRICS and 1.0 < value <= 100.0):
        return round(value / 100.0, 12)
    return value


def metric_key(split: str | None, metric: str) -> str:
    """The key inside an epoch's metrics: ``val_accuracy``, ``loss``, ``test_loss``."""
    if split in (None, "train") or metric in SPLIT_FREE:
        return metric
    return f"{split}_{metric}"


@dataclass
class EpochRecord:
    """One epoch: its number as written (CSV 0-based epochs are shifted to 1-based), its
    metrics and the 1-based line of the source where they were read."""

    epoch: int
    metrics: dict[str, float] = field(default_factory=dict)
    line: int | None = None


@dataclass
class Phase:
    """A training stage: a named run of epochs (``head``, ``fine-tuning``, ``phase 2``)."""

    name: str
    epochs: list[EpochRecord] = field(default_factory=list)
    line: int | None = None  # where the phase starts (its header, or its first epoch)


@dataclass
class TrainingHistory:
    """Everything read from one training output (a log, a CSV, a notebook, a JSON)."""

    source: str = ""
    phases: list[Phase] = field(default_factory=list)
    test_metrics: dict[str, float] = field(default_factory=dict)
    test_lines: dict[str, int] = field(default_factory=dict)  # test metric -> source line
    warnings: list[str] = field(default_factory=list)

    @property
    def epochs(self) -> list[EpochRecord]:
        """All epochs of all phases, in order."""
        return [record for phase in self.phases for record in phase.epochs]

    @property
    def epoch_count(self) -> int:
        return sum(len(phase.epochs) for phase in self.phases)

    @property
    def empty(self) -> bool:
        return not self.epoch_count and not self.test_metrics

    def series(self, metric: str) -> list[tuple[int, float]]:
        """``(run_epoch, value)`` pairs, epochs counted 1.. across all phases."""
        return [
            (index, record.metrics[metric])
            for index, record in enumerate(self.epochs, 1)
            if metric in record.metrics
        ]

    def final(self, metric: str) -> float | None:
        """The last value of an epoch metric (``val_accuracy``), else of a test metric
        (``test_accuracy`` or ``accuracy`` when no epoch has it); None when absent."""
        for record in reversed(self.epochs):
            if metric in record.metrics:
                return record.metrics[metric]
        bare = metric.removeprefix("test_")
        return self.test_metrics.get(bare)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "phases": [
                {
                    "name": phase.name,
                    "line": phase.line,
                    "epochs": [
                        {"epoch": r.epoch, "metrics": dict(r.metrics), "line": r.line}
                        for r in phase.epochs
                    ],
                }
                for phase in self.phases
            ],
            "test_metrics": dict(self.test_metrics),
            "test_lines": dict(self.test_lines),
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingHistory:
        """The inverse of ``to_dict`` (for histories stored in result.json or a rerun)."""
        phases = [
            Phase(
                name=str(p.get("name", "")),
                line=p.get("line"),
                epochs=[
                    EpochRecord(
                        int(e["epoch"]),
                        {k: float(v) for k, v in e["metrics"].items()},
                        e.get("line"),
                    )
                    for e in p.get("epochs", [])
                ],
            )  # fmt: skip
            for p in data.get("phases", [])
        ]
        return cls(
            source=str(data.get("source", "")),
            phases=phases,
            test_metrics={k: float(v) for k, v in data.get("test_metrics", {}).items()},
            test_lines={k: int(v) for k, v in data.get("test_lines", {}).items()},
            warnings=list(data.get("warnings", [])),
        )

    def summary(self) -> str:
        """One line for a report: phases, epochs, final validation and test values."""
        parts = []
        if self.phases:
            parts.append(
                "; ".join(f"{p.name} ({len(p.epochs)} epoch(s))" for p in self.phases if p.epochs)
            )
        for metric in ("val_accuracy", "val_loss", "accuracy", "loss"):
            value = self.final(metric) if any(metric in r.metrics for r in self.epochs) else None
            if value is not None:
                parts.append(f"final {metric} {value:.4g}")
                break
        if self.test_metrics:
            parts.append(
                "test " + ", ".join(f"{k} {v:.4g}" for k, v in sorted(self.test_metrics.items()))
            )
        return "; ".join(p for p in parts if p) or "no epochs or test metrics"
