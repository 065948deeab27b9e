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
  metric lines after a ``Testing``/``Evaluating`` header give the final test metrics.
"""

from __future__ import annotations

import ast
import json
import math
import re
from dataclasses import dataclass

from grader.logs.model import (
    EpochRecord,
    Phase,
    TrainingHistory,
    metric_key,
    normalise_metric,
    scale_value,
)

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_EPOCH = re.compile(
    r"(?<![A-Za-z])epoch\b['\"]?\s*[:=#]?\s*[\[(]?\s*(\d+(?:\.\d+)?)"
    r"(?:\s*(?:/|of)\s*(\d+))?\s*[\])]?",
    re.IGNORECASE,
)
_PURE_HEADER = re.compile(r"^\W*epoch\s*\d+\s*(?:(?:/|of)\s*\d+)?\W*$", re.IGNORECASE)
_STEP_LEVEL = re.compile(r"\b(step|batch|iter|iteration)\b['\"]?\s*[:=#]?\s*[\[(]?\s*\d+", re.I)
_PROGRESS = re.compile(r"^\s*(\d+)/(\d+)\s*(?:\[|━|-\s|\d+s\b)")
_METRIC = re.compile(
    r"(?<![A-Za-z0-9_.%])(?P<name>[A-Za-z][A-Za-z0-9_./-]*(?:[ \t]+[A-Za-z][A-Za-z0-9_./-]*){0,3}?)"
    r"['\"]?(?P<sep>\s*[:=]\s*|\s+)"
    r"(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
    r"(?:\s*/\s*(?P<den>\d+)(?![\d.]))?(?P<pct>\s*%)?(?![A-Za-z0-9_])"
)
_SPLIT_WORD = re.compile(
    r"\b(train|training|val|valid|validation|dev|test|testing)\b", re.IGNORECASE
)
_PHASE_HEADER = re.compile(
    r"\b(?:stage|phase|part)\s*[#:]?\s*(?:\d+|one|two|three|i{1,3})\b"
    r"|fine[- _]?tun\w*|\bunfreez\w*|\bfreez\w*|\bfrozen\b|feature[- _]?extract\w*"
    r"|\btrain\w*\s+(?:only\s+)?(?:the\s+)?(?:new\s+)?(?:classifier|head|top|fc|dense|last)\b",
    re.IGNORECASE,
)
_EVAL_HEADER = re.compile(r"\b(test|testing|evaluat\w*)\b", re.IGNORECASE)


def clean_lines(text: str) -> list[str]:
    """Lines as a terminal would show them: ANSI colours dropped, backspaces applied, and of
    a line redrawn with carriage returns (a progress bar) only its last state."""
    text = _ANSI.sub("", text.replace("\r\n", "\n"))
    if "\b" in text:
        out: list[str] = []
        for char in text:
            if char == "\b":
                if out and out[-1] != "\n":
                    out.pop()
            else:
                out.append(char)
        text = "".join(out)
    lines = []
    for raw in text.split("\n"):
        segments = [s for s in raw.split("\r") if s.strip()]
        lines.append(segments[-1] if segments else "")
    return lines


@dataclass
class _Metric:
    key: str
    split: str | None
    value: float


def extract_metrics(text: str) -> list[_Metric]:
    """The metrics written on one line (epoch markers removed by the caller)."""
    found: list[_Metric] = []
    inherit: str | None = None
    last_end = 0
    for match in _METRIC.finditer(text):
        gap = _SPLIT_WORD.findall(text[last_end : match.start()])
        if gap:
            inherit, _ = normalise_metric(gap[-1] + " loss")
        last_end = match.end()
        name = match.group("name")
        explicit = ":" in match.group("sep") or "=" in match.group("sep")
        split, metric = normalise_metric(name, explicit_key=explicit and " " not in name)
        if metric is None:
            continue
        if split is not None and re.search(r"\s", name.strip()):
            inherit = split  # "train Loss: 0.5 Acc: 0.7": the Acc is a train value too
        if split is None and "_" not in name:  # a snake_case key says its own split
            split = inherit
        try:
            value = float(match.group("value"))
        except ValueError:
            continue
        if match.group("den"):
            denominator = float(match.group("den"))
            if denominator <= 0:
                continue
            value = value / denominator
        elif not math.isfinite(value):
            continue
        else:
            value = scale_value(metric, value, bool(match.group("pct")))
        found.append(_Metric(metric_key(split, metric), split, value))
    return found


def _literal(line: str) -> object | None:
    text = line.strip()
    if not (text.startswith("{") and text.endswith("}")) or len(text) > 200_000:
        return None
    for loader in (json.loads, ast.literal_eval):
        try:
            return loader(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    return None


def metrics_from_mapping(data: dict) -> tuple[float | None, list[_Metric]]:
    """``(epoch, metrics)`` of a dict such as ``{'epoch': 3, 'loss': 0.41}``."""
    epoch = None
    found = []
    for raw_key, raw_value in data.items():
        if isinstance(raw_value, bool) or not isinstance(raw_value, int | float):
            continue
        if str(raw_key).strip().lower() == "epoch":
            epoch = float(raw_value)
            continue
        split, metric = normalise_metric(str(raw_key), explicit_key=True)
        if metric is None or not math.isfinite(raw_value):
            continue
        value = scale_value(metric, float(raw_value), False)
        found.append(_Metric(metric_key(split, metric), split, value))
    return epoch, found


def history_from_lists(data: dict) -> list[dict[str, float]] | None:
    """Keras ``history.history`` ({'loss': [...], 'val_accuracy': [...]}) as epoch dicts."""
    lists = {
        k: v
        for k, v in data.items()
        if isinstance(v, list) and v and all(isinstance(x, int | float) for x in v)
    }
    if not lists or len(lists) != len(data):
        return None
    length = max(len(v) for v in lists.values())
    return [{k: v[i] for k, v in lists.items() if i < len(v)} for i in range(length)]


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

    def add(self, record: EpochRecord, metrics: list[_Metric], line: int, override: bool) -> None:
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

    def test(self, metrics: list[_Metric], line: int) -> None:
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
        data = _literal(stripped)
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
        if only_test or self.eval_mode:
            self.test(metrics, number)
            return
        progress = _PROGRESS.match(stripped)
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


def parse_text(text: str, source: str = "") -> TrainingHistory:
    """Parse a training log (or a notebook's joined outputs) into a ``TrainingHistory``.

    Line numbers in the result are 1-based lines of ``text``.
    """
    parser = _TextParser(source)
    for number, line in enumerate(clean_lines(text), 1):
        parser.line(line, number)
    history = parser.history
    history.phases = [p for p in history.phases if p.epochs]
    for phase in history.phases:
        phase.epochs = [r for r in phase.epochs if r.metrics]
    history.phases = [p for p in history.phases if p.epochs]
    return history
