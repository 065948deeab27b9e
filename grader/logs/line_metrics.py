"""One line of training output as metrics: terminal clean-up, ``name: value`` pairs,
dicts and Keras histories printed whole. Used by ``grader.logs.parse``."""

from __future__ import annotations

import ast
import json
import math
import re
from dataclasses import dataclass

from grader.logs.model import metric_key, normalise_metric, scale_value

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_METRIC = re.compile(
    r"(?<![A-Za-z0-9_.%])(?P<name>[A-Za-z][A-Za-z0-9_./-]*(?:[ \t]+[A-Za-z][A-Za-z0-9_./-]*){0,3}?)"
    r"['\"]?(?P<sep>\s*[:=]\s*|\s+)"
    r"(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
    r"(?:\s*/\s*(?P<den>\d+)(?![\d.]))?(?P<pct>\s*%)?(?![A-Za-z0-9_])"
)
_SPLIT_WORD = re.compile(
    r"\b(train|training|val|valid|validation|dev|test|testing)\b", re.IGNORECASE
)


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
class Metric:
    key: str
    split: str | None
    value: float


def extract_metrics(text: str) -> list[Metric]:
    """The metrics written on one line (epoch markers removed by the caller)."""
    found: list[Metric] = []
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
        found.append(Metric(metric_key(split, metric), split, value))
    return found


def literal_dict(line: str) -> object | None:
    text = line.strip()
    if not (text.startswith("{") and text.endswith("}")) or len(text) > 200_000:
        return None
    for loader in (json.loads, ast.literal_eval):
        try:
            return loader(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    return None


def metrics_from_mapping(data: dict) -> tuple[float | None, list[Metric]]:
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
        found.append(Metric(metric_key(split, metric), split, value))
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
