"""Training outputs as files: logs, CSV histories, JSON metrics and notebook outputs.

``find_training_outputs(files)`` picks the candidate files of a submission,
``parse_file(path)`` reads one (by its extension), ``parse_paths(root, paths)`` reads many
and ``combine(histories)`` merges them into the one history a grader judges.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path

from grader.logs.evaluation import CellRole, cell_role, compile_metrics
from grader.logs.line_metrics import history_from_lists, metrics_from_mapping
from grader.logs.model import (
    KNOWN_METRICS,
    EpochRecord,
    Phase,
    TrainingHistory,
    normalise_metric,
    scale_value,
)
from grader.logs.parse import parse_chunks, parse_text
from grader.results import is_grader_output
from grader.tree import matches

DEFAULT_PATTERNS = [
    "**/*.log", "**/*log*.txt", "**/*history*.csv", "**/*log*.csv", "**/metrics.csv",
    "**/metrics.json", "**/*metrics*.json", "**/*history*.json", "**/trainer_state.json",
    "**/*.ipynb",
]  # fmt: skip
MAX_BYTES = 20_000_000
_TEST_FILE_WORDS = ("test", "metric", "result", "eval", "score")
_PRIORITY = {".json": 0, ".csv": 1, ".ipynb": 3}  # test metrics: structured files first


def find_training_outputs(
    files: Iterable[str], patterns: list[str] | None = None, case_sensitive: bool = False
) -> list[str]:
    """The files (POSIX paths relative to a submission root) that may hold training output."""
    wanted = patterns or DEFAULT_PATTERNS
    return [f for f in files if matches(f, wanted, case_sensitive)]


# ---- CSV ------------------------------------------------------------------------------


def parse_csv(text: str, source: str = "") -> TrainingHistory:
    """A Keras ``CSVLogger`` file or a Lightning ``metrics.csv`` (rows grouped by epoch,
    ``*_step`` columns ignored). A 0-based epoch column is shifted to count from 1, as
    Keras prints epochs on the console; an epoch that goes back starts a new phase, and so
    does a change in a ``phase``/``stage`` column. Test columns become test metrics."""
    history = TrainingHistory(source=source)
    try:
        reader = csv.DictReader(io.StringIO(text))
        rows = list(reader)
    except csv.Error as exc:
        history.warnings.append(f"not a readable CSV file: {exc}")
        return history
    if not reader.fieldnames:
        return history
    columns = {name: name.strip().lower() for name in reader.fieldnames if name}
    epoch_col = next((n for n, low in columns.items() if low == "epoch"), None)
    phase_col = next((n for n, low in columns.items() if low in ("phase", "stage")), None)
    metric_cols = {}
    for name in columns:
        if name in (epoch_col, phase_col):
            continue
        split, metric = normalise_metric(name, explicit_key=True)
        if metric is not None:
            metric_cols[name] = (split, metric)
    if not any(metric in KNOWN_METRICS for _, metric in metric_cols.values()):
        return history  # not a training history (no loss, accuracy or the like)
    numbered = []
    for index, row in enumerate(rows, 1):
        epoch = _number(row.get(epoch_col)) if epoch_col else float(index)
        numbered.append((index + 1, epoch, row))  # +1: the header is line 1
    epochs = [e for _, e, _ in numbered if e is not None]
    shift = 1 if epochs and min(epochs) == 0 else 0
    phase: Phase | None = None
    last_phase_value = None
    for line, epoch, row in numbered:
        values: dict[str, float] = {}
        for name, (split, metric) in metric_cols.items():
            value = _number(row.get(name))
            if value is None:
                continue
            key = metric if split in (None, "train") else f"{split}_{metric}"
            if split == "test":
                history.test_metrics[metric] = _scaled(metric, value)
                history.test_lines[metric] = line
            else:
                values[key] = _scaled(metric, value)
        if epoch is None or not values:
            continue
        number = int(epoch) + shift
        phase_value = row.get(phase_col) if phase_col else None
        if (
            phase is None
            or (phase_col and phase_value != last_phase_value)
            or (phase.epochs and number < phase.epochs[-1].epoch)
        ):
            name = str(phase_value).strip() if phase_value else f"phase {len(history.phases) + 1}"
            phase = Phase(name, [], line)
            history.phases.append(phase)
            last_phase_value = phase_value
        if phase.epochs and phase.epochs[-1].epoch == number:
            phase.epochs[-1].metrics.update(values)  # Lightning writes an epoch in rows
        else:
            phase.epochs.append(EpochRecord(number, values, line))
    return history


def _number(value: object) -> float | None:
    if value is None:
        return None
    try:
        number = float(str(value).strip().rstrip("%"))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _scaled(metric: str, value: float) -> float:
    return scale_value(metric, value, False)


# ---- JSON -----------------------------------------------------------------------------


def parse_json(text: str, source: str = "") -> TrainingHistory:
    """A ``metrics.json`` (test metrics: ``test_*`` keys, a ``test`` object, or plain metric
    keys in a file named like metrics/results/eval), a Keras history dumped as JSON, a list
    of epoch dicts, or a Hugging Face ``trainer_state.json`` (``log_history``)."""
    history = TrainingHistory(source=source)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        history.warnings.append(f"not valid JSON: {str(exc)[:120]}")
        return history
    if isinstance(data, dict):
        for key in ("log_history", "history", "epochs"):
            if isinstance(data.get(key), list | dict):
                _epochs_from(data[key], history)
        rows = history_from_lists(data)
        if rows is not None:
            _epochs_from(rows, history)
            return history
        _test_from(data, history, Path(source).name.lower())
    elif isinstance(data, list):
        _epochs_from(data, history)
    return history


def _epochs_from(data: object, history: TrainingHistory) -> None:
    if isinstance(data, dict):
        data = history_from_lists(data) or []
    if not isinstance(data, list):
        return
    phase = Phase(f"phase {len(history.phases) + 1}", [], None)
    for index, row in enumerate(data, 1):
        if not isinstance(row, dict):
            continue
        epoch, metrics = metrics_from_mapping(row)
        train = {m.key: m.value for m in metrics if m.split != "test"}
        for m in metrics:
            if m.split == "test":
                history.test_metrics[m.key.removeprefix("test_")] = m.value
        if not train:
            continue
        number = index if epoch is None else max(int(math.ceil(epoch - 1e-9)), 0)
        if phase.epochs and number < phase.epochs[-1].epoch:
            history.phases.append(phase)
            phase = Phase(f"phase {len(history.phases) + 1}", [], None)
        if phase.epochs and phase.epochs[-1].epoch == number:
            phase.epochs[-1].metrics.update(train)
        else:
            phase.epochs.append(EpochRecord(number, train, None))
    if phase.epochs:
        history.phases.append(phase)


def _test_from(data: dict, history: TrainingHistory, filename: str) -> None:
    plain_is_test = any(word in filename for word in _TEST_FILE_WORDS)
    for key, value in data.items():
        if isinstance(value, dict):
            split, _ = normalise_metric(f"{key} loss")
            if split == "test" or str(key).lower() in ("test", "test_metrics", "evaluation"):
                _, metrics = metrics_from_mapping(value)
                for m in metrics:
                    if not m.key.startswith("val_"):
                        history.test_metrics[m.key.removeprefix("test_")] = m.value
            continue
        _, metrics = metrics_from_mapping({key: value})
        for m in metrics:
            if m.split == "test" or (plain_is_test and m.split is None):
                history.test_metrics[m.key.removeprefix("test_")] = m.value


# ---- notebooks ------------------------------------------------------------------------


def _cells(text: str) -> list:
    try:
        notebook = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"not a readable notebook: {str(exc)[:120]}") from None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise ValueError("not a readable notebook: no 'cells' list")
    return cells


def _text(value: object) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def notebook_chunks(text: str) -> list[tuple[int, str, CellRole | None]]:
    """Each stored output of a notebook's code cells: (cell number, its text, the role of
    its cell's code when that code evaluates a model). Raises ValueError when broken."""
    chunks = []
    code_so_far = ""
    for number, cell in enumerate(_cells(text), 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = _text(cell.get("source"))
        code_so_far += source + "\n"
        role = cell_role(source, compile_metrics(code_so_far))
        for output in cell.get("outputs") or []:
            if not isinstance(output, dict):
                continue
            if output.get("output_type") == "stream":
                body = _text(output.get("text", ""))
            else:
                body = _text((output.get("data") or {}).get("text/plain", ""))
            if body:
                chunks.append((number, body.replace("\r\n", "\n"), role))
    return chunks


def notebook_output_text(text: str) -> tuple[str, list[int]]:
    """The stored outputs of a notebook's code cells joined as one text, and for each of its
    lines the 1-based cell number it came from. Raises ValueError for a broken notebook."""
    chunks = notebook_chunks(text)
    cell_of_line = [number for number, body, _ in chunks for _ in body.split("\n")]
    return "\n".join(body for _, body, _ in chunks), cell_of_line


def parse_notebook(text: str, source: str = "") -> TrainingHistory:
    """Training output printed in a notebook, read cell by cell (a cell that evaluates on
    the test set prints test metrics); record lines are the cells' numbers."""
    try:
        chunks = notebook_chunks(text)
    except ValueError as exc:
        history = TrainingHistory(source=source)
        history.warnings.append(str(exc))
        return history
    cells = [number for number, body, _ in chunks for _ in body.split("\n")]
    history = parse_chunks([(body, role) for _, body, role in chunks], source)

    def cell(line: int | None) -> int | None:
        return cells[line - 1] if line and 0 < line <= len(cells) else None

    for phase in history.phases:
        phase.line = cell(phase.line)
        for record in phase.epochs:
            record.line = cell(record.line)
    history.test_lines = {k: c for k, v in history.test_lines.items() if (c := cell(v))}
    return history


# ---- files ----------------------------------------------------------------------------


def parse_file(path: str | Path, source: str | None = None) -> TrainingHistory:
    """Read one file by its extension (.csv, .json, .ipynb, anything else as a text log).
    An unreadable file gives an empty history with a warning, never an exception."""
    path = Path(path)
    name = source or path.name
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        history = TrainingHistory(source=name)
        history.warnings.append(f"cannot read: {exc.strerror or exc}")
        return history
    text = raw[:MAX_BYTES].decode("utf-8", errors="replace")
    suffix = path.suffix.lower()
    if suffix != ".ipynb" and is_grader_output(text):  # `grader check > out.txt`: not a log
        return TrainingHistory(source=name)
    if suffix == ".csv":
        history = parse_csv(text, name)
    elif suffix == ".json":
        history = parse_json(text, name)
    elif suffix == ".ipynb":
        history = parse_notebook(text, name)
    else:
        history = parse_text(text, name)
    if len(raw) > MAX_BYTES:
        history.warnings.append(f"only the first {MAX_BYTES // 1_000_000} MB were read")
    return history


def parse_paths(root: str | Path, paths: Iterable[str]) -> dict[str, TrainingHistory]:
    """``{relative path: history}`` for each path under ``root`` (empty ones included)."""
    root = Path(root)
    return {rel: parse_file(root / rel, rel) for rel in paths}


def combine(histories: Mapping[str, TrainingHistory]) -> TrainingHistory:
    """One history from several sources: the epochs of the richest source (most phases,
    then most epochs), and the test metrics of all (JSON and CSV files before logs and
    notebooks; the first source that has a metric wins)."""
    useful = {name: h for name, h in histories.items() if not h.empty}
    if not useful:
        return TrainingHistory(source="")
    primary = max(useful, key=lambda n: (len(useful[n].phases), useful[n].epoch_count))
    merged = TrainingHistory(
        source=primary,
        phases=useful[primary].phases,
        warnings=[w for h in useful.values() for w in h.warnings],
    )
    order = sorted(useful, key=lambda n: (_PRIORITY.get(Path(n).suffix.lower(), 2), n))
    for name in order:
        for metric, value in useful[name].test_metrics.items():
            if metric not in merged.test_metrics:
                merged.test_metrics[metric] = value
    for metric, line in useful[primary].test_lines.items():
        if metric in merged.test_metrics:
            merged.test_lines[metric] = line  # lines refer to the primary source
    return merged
