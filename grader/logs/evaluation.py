"""What evaluating a model prints: the role of a notebook cell that evaluates one, the
values it prints without names, and scikit-learn's ``classification_report``.

A code cell *evaluates* when it calls Keras ``model.evaluate(...)`` or a scikit-learn
scorer (``accuracy_score``, ``f1_score``, ``precision_score``, ``recall_score``,
``classification_report``); each ``evaluate`` call is on the test set when its arguments
name test data (``x_test``, ``test_loader``, ``ds_test``), on the validation set when
they name validation data, else the cell's test data decides. Keras' returned list
(``[0.4823, 0.965]``) is named by the notebook's ``compile(metrics=[...])``: loss first,
then those metrics; a lone number is named only by a cell's single scorer.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from grader.logs.model import normalise_metric

_EVALUATE = re.compile(r"\.evaluate(?:_generator)?\s*\(")
_SCORER = re.compile(
    r"\b(accuracy_score|balanced_accuracy_score|f1_score|precision_score|recall_score|"
    r"roc_auc_score|classification_report)\s*\("
)
_SCORER_METRIC = {
    "accuracy_score": "accuracy", "balanced_accuracy_score": "accuracy", "f1_score": "f1",
    "precision_score": "precision", "recall_score": "recall", "roc_auc_score": "auc",
}  # fmt: skip
_NOT_TEST_DATA = re.compile(r"train_test_split|test_size|test_split", re.IGNORECASE)
_TEST_DATA = re.compile(r"(?:^|[^a-z])test(?:s|ing|set|loader|ds|data|gen|images|labels)?(?![a-z])")
_VAL_DATA = re.compile(r"(?:^|[^a-z])(?:val|valid|validation|dev)(?:set|loader|ds|data)?(?![a-z])")
_COMPILE = re.compile(r"\.compile\s*\(")
_METRICS_ARG = re.compile(r"\bmetrics\s*=\s*\[(?P<items>[^\]]*)\]")
_METRIC_ITEM = re.compile(r"['\"](?P<name>[\w-]+)['\"]|(?P<cls>[A-Z]\w*)\s*\(")
REPORT_HEADER = re.compile(r"^\s*precision\s+recall\s+f1-score\s+support\s*$", re.IGNORECASE)
_REPORT_ROW = re.compile(
    r"^\s*(?P<label>\S.*?)\s+(?P<nums>(?:\d+(?:\.\d+)?\s+){0,3}\d+(?:\.\d+)?)\s*$"
)


def _split_of(text: str) -> str | None:
    text = _NOT_TEST_DATA.sub(" ", text).lower()
    if _TEST_DATA.search(text):
        return "test"
    return "val" if _VAL_DATA.search(text) else None


def _arguments(code: str, start: int) -> str:
    """The text of a call's arguments, from just after its '(' to the matching ')'."""
    depth = 1
    for index in range(start, min(len(code), start + 2000)):
        depth += {"(": 1, ")": -1}.get(code[index], 0)
        if depth == 0:
            return code[start:index]
    return code[start : start + 2000]


def compile_metrics(code: str) -> list[str] | None:
    """The metric names of the last ``compile(..., metrics=[...])`` in ``code``."""
    calls = [_arguments(code, m.end()) for m in _COMPILE.finditer(code)]
    found = [m for args in calls if (m := _METRICS_ARG.search(args))]
    if not found:
        return None
    names = []
    for item in _METRIC_ITEM.finditer(found[-1].group("items")):
        raw = item.group("name") or re.sub(r"(?<!^)(?=[A-Z])", "_", item.group("cls"))
        _, metric = normalise_metric(raw, explicit_key=True)
        names.append(metric or raw.lower())
    return names


@dataclass
class CellRole:
    """How to read the outputs of a code cell that evaluates a model."""

    calls: list[str | None] = field(default_factory=list)  # per evaluate call: its split
    scorers: list[str] = field(default_factory=list)  # metric names of sklearn scorers
    default: str | None = None  # the split of the cell's data ("test" when it names it)
    keras_names: list[str] | None = None  # names of evaluate's returned list

    def next_split(self) -> str | None:
        """The split of the next evaluation result printed (calls in order)."""
        return (self.calls.pop(0) or self.default) if self.calls else self.default

    def name_values(self, values: list[float]) -> list[tuple[str, float]]:
        """Names for a printed list or number, when the code says them unambiguously."""
        if self.keras_names and len(values) == len(self.keras_names):
            return list(zip(self.keras_names, values, strict=True))
        if len(values) == 1 and len(self.scorers) == 1 and self.scorers[0] != "report":
            return [(self.scorers[0], values[0])]
        return []


def cell_role(code: str, metrics: list[str] | None = None) -> CellRole | None:
    """The role of a cell's code, None when it evaluates nothing. ``metrics`` are the
    notebook's compiled metric names (``compile_metrics``)."""
    calls = [_split_of(_arguments(code, m.end())) for m in _EVALUATE.finditer(code)]
    scorers = [_SCORER_METRIC.get(m.group(1), "report") for m in _SCORER.finditer(code)]
    if not calls and not scorers:
        return None
    names = ["loss", *metrics] if calls and metrics is not None else None
    return CellRole(calls, scorers, _split_of(code), names)


def value_list(line: str) -> list[float] | None:
    """``[0.4823, 0.965]``, ``(0.48, 0.96)`` or ``0.965`` as numbers; None otherwise."""
    text = line.strip()
    if not text or len(text) > 200 or not re.fullmatch(r"[\[\]()\d.,\s eE+-]+", text):
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    items = list(value) if isinstance(value, list | tuple) else [value]
    if not items or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in items):
        return None
    return [float(x) for x in items]


def report_row(line: str) -> tuple[str, list[float]] | None:
    """(label, numbers) of a classification_report row ('macro avg 0.98 0.97 0.97 2000')."""
    match = _REPORT_ROW.match(line)
    if match is None:
        return None
    return match.group("label").strip().lower(), [float(x) for x in match.group("nums").split()]


def report_metrics(label: str, numbers: list[float]) -> dict[str, float]:
    """The summary metrics of a report row: accuracy, and the macro averages as precision,
    recall and F1 (per-class and weighted rows give none)."""
    if label == "accuracy" and len(numbers) >= 1:
        return {"accuracy": numbers[0]}
    if label == "macro avg" and len(numbers) >= 3:
        return {"precision": numbers[0], "recall": numbers[1], "f1": numbers[2]}
    return {}
