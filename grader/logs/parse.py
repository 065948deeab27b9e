"""Training output written as text: Keras progress lines, PyTorch/Lightning prints, dicts.

``parse_text(text, source)`` reads line by line:

- an epoch marker (``Epoch 3/10``, ``epoch 3 |``, ``Epoch [3/10],``, ``'epoch': 3``) with
  metrics on the same line is one epoch; a bare ``Epoch 3/10`` line (Keras) opens an epoch
  that the following metric lines fill (progress bars redrawn with ``\\r`` count once);
- metrics are ``name: value``, ``name=value`` or ``name value`` pairs (``val acc 81.2%``,
  ``Accuracy: 9890/10000``); names are normalised by ``grader.logs.model``;
- a new phase starts at an explicit header (``Stage 2``, ``Phase 2: fine-tuning``,
  ``Fine-tuning the upper layers``), when the epoch counter goes back, or when the
  ``/total`` of ``Epoch n/total`` changes;
- lines of test metrics (``test accuracy: 0.91``, ``Test loss``, ``test_acc = 0.91``) and
  metric lines after a ``Testing``/``Evaluating`` header give the final test metrics, and
  so does a scikit-learn ``classification_report`` there (accuracy; the macro averages as
  precision, recall and F1).

``parse_chunks`` reads a notebook's outputs cell by cell: a cell whose code evaluates a
model (``grader.logs.evaluation``) makes what it prints test metrics when it evaluates on
the test set: Keras ``model.evaluate`` progress lines and returned lists, scikit-learn
scores and reports.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from grader.logs.evaluation import (
    REPORT_HEADER,
    CellRole,
    report_metrics,
    report_row,
    value_list,
)
from grader.logs.line_metrics import (
    Metric,
    clean_lines,
    extract_metrics,
    history_from_lists,
    literal_dict,
    metrics_from_mapping,
)
from grader.logs.model import (
    EpochRecord,
    Phase,
    TrainingHistory,
    metric_key,
    normalise_metric,
    scale_value,
)

_EPOCH = re.compile(
    r"(?<![A-Za-z])epoch\b['\"]?\s*[:=#]?\s*[\[(]?\s*(\d+(?:\.\d+)?)"
    r"(?:\s*(?:/|of)\s*(\d+))?\s*[\])]?",
    re.IGNORECASE,
)
_PURE_HEADER = re.compile(r"^\W*epoch\s*\d+\s*(?:(?:/|of)\s*\d+)?\W*$", re.IGNORECASE)
_STEP_LEVEL = re.compile(r"\b(step|batch|iter|iteration)\b['\"]?\s*[:=#]?\s*[\[(]?\s*\d+", re.I)
_PROGRESS = re.compile(r"^\s*(\d+)/(\d+)\s*(?:\[|━|-\s|\d+s\b)")
_PHASE_HEADER = re.compile(
    r"\b(?:stage|phase|part)\s*[#:]?\s*(?:\d+|one|two|three|i{1,3})\b"
    r"|fine[- _]?tun\w*|\bunfreez\w*|\bfreez\w*|\bfrozen\b|feature[- _]?extract\w*"
    r"|\btrain\w*\s+(?:only\s+)?(?:the\s+)?(?:new\s+)?(?:classifier|head|top|fc|dense|last)\b",
    re.IGNORECASE,
)
_EVAL_HEADER = re.compile(r"\b(test|testing|evaluat\w*)\b", re.IGNORECASE)


class _TextParser:
    """Line-by-line state: the open phase and epoch, and whether test output has begun."""

    def __init__(self, source: str):
        self.history = TrainingHistory(source=source)
        self.phase: Phase | None = None
        self.pending_name: tuple[str, int] | None = None
        self.open_epoch: EpochRecord | None = None  # opened by a bare "Epoch n/total"
        self.epoch_complete = False  # its progress bar reached n/n
        self.total: int | None = None
        self.eval_mode = False
        self.cell: CellRole | None = None  # the notebook cell being read evaluates a model
        self.in_report = False  # inside a classification_report

    def begin_cell(self, role: CellRole | None) -> None:
        self.cell, self.in_report = role, False
        if role is not None:  # its results are not the previous cell's last epoch
            self.open_epoch = None

    def _test_split(self) -> bool:
        """Whether unnamed metrics here are test metrics (a test header, or a cell that
        evaluates on the test set)."""
        return self.eval_mode if self.cell is None else self.cell.default == "test"

    def report(self, label: str, numbers: list[float], line: int) -> None:
        if self._test_split():
            for key, value in report_metrics(label, numbers).items():
                self.history.test_metrics[key] = scale_value(key, value, False)
                self.history.test_lines[key] = line

    def named_values(self, values: list[float], line: int) -> None:
        assert self.cell is not None
        named = self.cell.name_values(values)
        if named and self.cell.next_split() == "test":
            found = []
            for name, value in named:
                split, metric = normalise_metric(name, explicit_key=True)
                if metric is not None and split in (None, "test"):
                    found.append(Metric(metric_key("test", metric), "test",
                                         scale_value(metric, value, False)))  # fmt: skip
            self.test(found, line)

    def cell_result(self, metrics: list[Metric], line: int) -> None:
        """Metrics a cell that evaluates prints outside an epoch: test metrics when its
        evaluation is on the test set (names that say train or val keep their split)."""
        assert self.cell is not None
        explicit = all(m.split == "test" for m in metrics)
        unnamed = all(m.split is None for m in metrics)
        if explicit or (unnamed and self.cell.next_split() == "test"):
            self.test(metrics, line)

    # ---- phases and epochs ---------------------------------------------------------
    def _new_phase(self, line: int, name: str | None = None) -> Phase:
        if name is None and self.pending_name is not None:
            name, line = self.pending_name
        self.pending_name = None
        phase = Phase(name or f"phase {len(self.history.phases) + 1}", [], line)
        self.history.phases.append(phase)
        self.phase = phase
        self.open_epoch = None
        return phase

    def header(self, text: str, line: int) -> None:
        name = re.sub(r"\s+", " ", text.strip(" \t=-#*[]{}:|>")).strip()
        if name.startswith("(") and name.endswith(")"):
            name = name[1:-1].strip()
        name = name[:80] or "phase"
        if self.phase is not None and not self.phase.epochs:
            self.phase.name, self.phase.line = name, line
        else:
            self.pending_name = (name, line)
            self.phase = None
        self.open_epoch, self.total, self.eval_mode = None, None, False

    def epoch(self, number: int, total: int | None, line: int) -> EpochRecord:
        """The record for epoch ``number`` (a new one, or a new phase when counting restarts)."""
        last = self.phase.epochs[-1] if self.phase and self.phase.epochs else None
        went_back = last is not None and number < last.epoch
        new_total = last is not None and total is not None and self.total not in (None, total)
        if self.phase is None or went_back or new_total:
            self._new_phase(line)
            last = None
        if total is not None:
            self.total = total
        assert self.phase is not None
        if last is not None and last.epoch == number:
            return last
        record = EpochRecord(number, {}, line)
        self.phase.epochs.append(record)
        return record

    def add(self, record: EpochRecord, metrics: list[Metric], line: int, override: bool) -> None:
        values = {m.key: m.value for m in metrics}
        clash = any(k in record.metrics and record.metrics[k] != v for k, v in values.items())
        if clash and not override:  # the same epoch again with other values: a new run
            self._new_phase(line)
            assert self.phase is not None
            record = EpochRecord(record.epoch, {}, line)
            self.phase.epochs.append(record)
        record.metrics.update(values)
        if record.line is None:
            record.line = line

    def test(self, metrics: list[Metric], line: int) -> None:
        for metric in metrics:
            if metric.key.startswith("val_"):
                continue
            bare = metric.key.removeprefix("test_")
            self.history.test_metrics[bare] = metric.value
            self.history.test_lines[bare] = line

    # ---- one line ------------------------------------------------------------------
    def line(self, text: str, number: int) -> None:
        stripped = text.strip()
        if not stripped:
            return
        if self.in_report:
            row = report_row(stripped)
            if row is not None:
                self.report(*row, number)
                return
            self.in_report = False
        if REPORT_HEADER.match(stripped):
            self.in_report = True
            return
        if self.cell is not None and (values := value_list(stripped)) is not None:
            self.named_values(values, number)
            return
        data = literal_dict(stripped)
        if isinstance(data, dict):
            self.mapping(data, number)
            return
        marker = _EPOCH.search(stripped)
        if marker and _PURE_HEADER.match(stripped):
            epoch = int(float(marker.group(1)))
            total = int(marker.group(2)) if marker.group(2) else None
            last = self.phase.epochs[-1] if self.phase and self.phase.epochs else None
            if last is not None and last.epoch == epoch:
                if total is None or not last.metrics:
                    return  # a repeated header, or "Epoch 00003" from a callback
                self._new_phase(number)  # "Epoch 1/1" again after its values: a new run
            self.open_epoch = self.epoch(epoch, total, number)
            self.epoch_complete, self.eval_mode = False, False
            return
        rest = stripped[: marker.start()] + " " + stripped[marker.end() :] if marker else stripped
        metrics = extract_metrics(rest)
        if not metrics:
            if len(stripped) <= 150 and _PHASE_HEADER.search(stripped) and not marker:
                self.header(stripped, number)
            elif not marker and _EVAL_HEADER.search(stripped):
                self.eval_mode, self.open_epoch = True, None
            return
        only_test = all(m.split == "test" for m in metrics)
        if marker:
            epoch = int(math.ceil(float(marker.group(1)) - 1e-9))
            total = int(marker.group(2)) if marker.group(2) else None
            record = self.epoch(epoch, total, number)
            self.add(record, metrics, number, override=bool(_STEP_LEVEL.search(rest)))
            self.open_epoch, self.eval_mode = None, False
            return
        progress = _PROGRESS.match(stripped)
        if self.cell is not None and (
            self.open_epoch is None or (progress and self.epoch_complete)
        ):
            self.cell_result(metrics, number)
            return
        if only_test or self.eval_mode:
            self.test(metrics, number)
            return
        if self.open_epoch is not None and not (progress and self.epoch_complete):
            self.open_epoch.metrics.update({m.key: m.value for m in metrics})
            if progress and progress.group(1) == progress.group(2):
                self.epoch_complete = True
            elif not progress:
                self.epoch_complete = False

    def mapping(self, data: dict, number: int) -> None:
        rows = history_from_lists(data)
        if rows is not None:  # a whole Keras history printed at once
            self._new_phase(number)
            for index, row in enumerate(rows, 1):
                _, metrics = metrics_from_mapping(row)
                assert self.phase is not None
                self.phase.epochs.append(EpochRecord(index, {m.key: m.value for m in metrics},
                                                     number))  # fmt: skip
            self.phase = None
            return
        epoch, metrics = metrics_from_mapping(data)
        if not metrics:
            return
        if epoch is None:
            if all(m.split == "test" for m in metrics) or self.eval_mode:
                self.test(metrics, number)
            return
        # Hugging Face logs fractional epochs (0.5, 1.0): they belong to the epoch they end
        record = self.epoch(max(int(math.ceil(epoch - 1e-9)), 0), None, number)
        test_only = [m for m in metrics if m.split == "test"]
        if test_only and len(test_only) == len(metrics):
            self.test(metrics, number)
            return
        self.add(record, metrics, number, override=not float(epoch).is_integer())


def parse_chunks(
    chunks: Iterable[tuple[str, CellRole | None]], source: str = ""
) -> TrainingHistory:
    """Parse texts in order (a notebook's outputs, each with the role of its cell) into one
    ``TrainingHistory``; line numbers count the lines of all chunks, 1-based."""
    parser = _TextParser(source)
    number = 0
    for text, role in chunks:
        parser.begin_cell(role)
        for line in clean_lines(text):
            number += 1
            parser.line(line, number)
    history = parser.history
    for phase in history.phases:
        phase.epochs = [r for r in phase.epochs if r.metrics]
    history.phases = [p for p in history.phases if p.epochs]
    return history


def parse_text(text: str, source: str = "") -> TrainingHistory:
    """Parse a training log (or a notebook's joined outputs) into a ``TrainingHistory``.

    Line numbers in the result are 1-based lines of ``text``.
    """
    return parse_chunks([(text, None)], source)
