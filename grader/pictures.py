"""The pictures of a report and of the class overview, drawn from results (never from
files): predictions against observations (hw3), leaked image pairs side by side (hw4),
the confusion matrix of a test evaluation. Everything is inline SVG or a size-capped
``data:image/jpeg`` thumbnail that the check made from the submission's own files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from grader.charts import PALETTE, DotGroup, colour, dot_chart, heatmap
from grader.results import CheckResult, SubmissionResult

_THUMBNAIL = re.compile(r"^data:image/jpeg;base64,[A-Za-z0-9+/]+={0,2}$")
_SPLIT_WORDS = {"train": "training", "val": "validation", "test": "test"}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value == value else None


def _group_label(item: Mapping[str, Any]) -> str:
    day, label = str(item.get("date", "")), str(item.get("label") or "")
    return f"{label} ({day[5:]})" if label and len(day) == 10 else (label or day)


def prediction_chart(check: CheckResult) -> str:
    """The student's prediction for each date against the observed temperature."""
    rows = [r for r in check.facts.get("predictions") or [] if isinstance(r, Mapping)]
    groups = []
    for row in rows:
        value, observed = _number(row.get("value_celsius")), _number(row.get("observed"))
        if value is None and observed is None:
            continue
        dots = [("predicted", value, PALETTE[0])] if value is not None else []
        groups.append(DotGroup(_group_label(row), dots, observed))
    if not groups or not any(g.dots for g in groups):
        return ""
    pending = all(g.mark is None for g in groups)
    title = "Predicted temperature" + (" (observations pending)" if pending else " vs observed")
    return dot_chart(groups, "°C", title, mark_label="observed", width=440, height=220)


def leaked_pairs(check: CheckResult, limit: int = 8) -> list[dict[str, Any]]:
    """Leaked pairs with both thumbnails, for the side-by-side figure."""
    thumbs = check.facts.get("thumbnails") or {}
    if not isinstance(thumbs, Mapping):
        return []
    shown = []
    for pair in check.facts.get("leaked_pairs") or []:
        if not isinstance(pair, Mapping):
            continue
        a, b = str(pair.get("a", "")), str(pair.get("b", ""))
        ta, tb = thumbs.get(a), thumbs.get(b)
        if not (isinstance(ta, str) and isinstance(tb, str)):
            continue
        if not (_THUMBNAIL.match(ta) and _THUMBNAIL.match(tb)):
            continue
        splits = list(pair.get("splits") or ["", ""]) + ["", ""]
        kind = str(pair.get("kind", ""))
        how = "identical files" if kind == "identical" else (
            f"near-duplicates (perceptual hash distance {pair.get('distance')})"
        )  # fmt: skip
        shown.append({"a": a, "b": b, "thumb_a": ta, "thumb_b": tb, "how": how,
                      "split_a": _SPLIT_WORDS.get(str(splits[0]), str(splits[0])),
                      "split_b": _SPLIT_WORDS.get(str(splits[1]), str(splits[1]))})  # fmt: skip
        if len(shown) >= limit:
            break
    return shown


def confusion_chart(check: CheckResult) -> str:
    found = check.facts.get("confusion_matrix")
    if not isinstance(found, Mapping):
        return ""
    matrix = found.get("matrix")
    if not isinstance(matrix, list) or not matrix:
        return ""
    size = len(matrix)
    classes = found.get("classes")
    if not isinstance(classes, list) or len(classes) != size:
        classes = [f"class {i}" for i in range(size)]
    try:
        rows = [[float(v) for v in row] for row in matrix]
    except (TypeError, ValueError):
        return ""
    where = str(found.get("source") or "the evaluation output")
    return heatmap(rows, [str(c) for c in classes], [str(c) for c in classes],
                   f"Confusion matrix printed in {where}")  # fmt: skip


def check_pictures(result: SubmissionResult) -> dict[str, dict[str, Any]]:
    """``{check id: {"svg": [...], "pairs": [...], "confusion_source": ...}}`` for the report."""
    pictures: dict[str, dict[str, Any]] = {}
    for check in result.checks:
        if not isinstance(check.facts, Mapping):
            continue
        entry: dict[str, Any] = {}
        if check.check == "predictions":
            svg = prediction_chart(check)
            if svg:
                entry["charts"] = [svg]
        if check.check == "dataset_split":
            pairs = leaked_pairs(check)
            if pairs:
                entry["pairs"] = pairs
                entry["pair_count"] = check.facts.get("leaked_pair_count", len(pairs))
        confusion = confusion_chart(check)
        if confusion:
            entry.setdefault("charts", []).append(confusion)
            entry["confusion"] = check.facts["confusion_matrix"]
        if entry:
            pictures[check.id] = entry
    return pictures


def leaderboard_chart(board: Mapping[str, Any] | None) -> str:
    """Every student's prediction per date, and the observed value: the class at a glance."""
    if not board:
        return ""
    groups = []
    for day in board.get("dates", []):
        dots, observed = [], None
        for index, entry in enumerate(board.get("entries", [])):
            item = entry.get("predictions", {}).get(day)
            if not item:
                continue
            value = _number(item.get("value"))
            if value is not None:
                dots.append((f"#{entry.get('rank')} {entry.get('id')}", value, colour(index)))
            if observed is None:
                observed = _number(item.get("observed"))
        label = board.get("labels", {}).get(day) or ""
        groups.append(DotGroup(_group_label({"date": day, "label": label}), dots, observed))
    if not any(g.dots for g in groups):
        return ""
    return dot_chart(groups, "°C", "Predictions of the class vs observed", width=640)
