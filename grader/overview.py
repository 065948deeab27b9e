"""The class overview: one self-contained HTML page over a batch's ``*/result.json``.

Reads results (and ``similarity.json``); never runs checks. Every student-controlled
string is escaped by Jinja2's autoescape; the data the page's script needs travels as
JSON inside a ``<script type="application/json">`` block (``tojson``).
"""

from __future__ import annotations

import csv
import json
import re
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from grader import __version__
from grader.pictures import leaderboard_chart
from grader.results import SubmissionResult, Verdict, atomic_write, output_dir, read_result
from grader.similarity import SimilarityReport, SimilarPair, read_similarity
from grader.spec import AssignmentSpec
from grader.templating import environment
from grader.timefmt import format_moment

STATUS_RANK = {
    "pass": 0, "warn": 1, "manual": 2, "skipped": 3, "fail": 4, "error": 5, "environment": 5,
    "": 6,
}  # fmt: skip
STATUS_MARK = {
    "pass": "✓", "warn": "!", "manual": "?", "skipped": "–", "fail": "✗", "error": "E",
    "environment": "E",
}  # fmt: skip
_ID_COLUMNS = ("neptun", "neptun_code", "neptun code", "id", "student", "student_id", "code")
_NAME_COLUMNS = ("name", "full_name", "full name", "student_name")


@dataclass
class Cell:
    status: str  # a Status value, or "" when the submission has no such check
    tip: str


@dataclass
class Row:
    id: str
    name: str = ""
    status: str = "error"  # pass | fail | not_eligible | error
    score: float | None = None
    max_score: float | None = None
    late: str = ""
    late_rank: float = 0.0
    error: str = ""
    reason: str = ""  # why a graded submission fails: the required checks that fail
    environment: bool = False  # not graded because the grader's environment failed
    report: str | None = None
    cells: list[Cell] = field(default_factory=list)

    @property
    def percent(self) -> float | None:
        if self.score is None or not self.max_score:
            return None
        return round(100 * self.score / self.max_score, 1)


# ---- inputs -----------------------------------------------------------------------------


def _roster_names(roster: Path, names: dict[str, str]) -> None:
    with roster.open(encoding="utf-8-sig", newline="") as handle:
        header = handle.readline()
        handle.seek(0)
        delimiter = ";" if header.count(";") > header.count(",") else ","
        reader = csv.DictReader(handle, delimiter=delimiter)
        columns = {c.strip().lower(): c for c in reader.fieldnames or []}
        key = next((columns[c] for c in _ID_COLUMNS if c in columns), None)
        name = next((columns[c] for c in _NAME_COLUMNS if c in columns), None)
        team = columns.get("team")
        for record in reader if key and name else []:
            ident, who = (record.get(key) or "").strip(), (record.get(name) or "").strip()
            if ident:
                names[ident.upper() if len(ident) == 6 else ident] = who
            if team and (record.get(team) or "").strip():
                group = record[team].strip()
                names[group] = ", ".join(filter(None, [names.get(group, ""), who]))


def load_names(out_dir: Path) -> dict[str, str]:
    """Student (and team) id -> display name from ``roster.csv`` or ``students.json``."""
    names: dict[str, str] = {}
    roster, students = out_dir / "roster.csv", out_dir / "students.json"
    if roster.is_file():
        try:
            _roster_names(roster, names)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise ValueError(f"{roster}: not a readable CSV ({exc}); names not shown") from None
    if students.is_file():
        try:
            data = json.loads(students.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"{students}: not readable JSON ({exc}); names not shown") from None
        if not isinstance(data, dict | list):
            raise ValueError(f"{students}: expected an object or a list; names not shown")
        items = data.items() if isinstance(data, dict) else enumerate(data)
        for ident, value in items:
            if isinstance(value, Mapping):
                ident = value.get("id") or value.get("neptun") or value.get("student") or ident
                value = value.get("name", "")
            names[str(ident)] = str(value)
    return names


def _late(result: SubmissionResult) -> tuple[str, float]:
    """Late status in words and a sort key (larger is later)."""
    after = result.pin.commits_after_deadline
    try:
        late = bool(result.late_at) and datetime.fromisoformat(
            str(result.late_at)
        ) > datetime.fromisoformat(result.deadline)
    except ValueError:
        late = False
    if late:
        penalty = f" (-{result.late_penalty:g} points)" if result.late_penalty else ""
        return f"late{penalty}", 2 + result.late_penalty
    if after:
        return f"on time; {after} later commit(s) not graded", 1
    return "on time", 0


def _when(moment: datetime | str | None) -> str:
    return format_moment(moment)


def _row_data(row: Row) -> dict[str, Any]:
    """What the page's script sorts and filters by (None sorts last)."""
    graded = row.status != "error"
    return {
        "id": row.id, "name": row.name, "status": row.status,
        "score": row.score if graded else None, "percent": row.percent if graded else None,
        "late": row.late_rank if graded else None,
        "checks": [STATUS_RANK.get(c.status, 6) for c in row.cells],
        "text": " ".join([row.id, row.name, row.error, row.reason, row.late]).lower(),
    }  # fmt: skip


def _row(result: SubmissionResult, columns: list[str], report: Path) -> Row:
    row = Row(id=result.student, score=result.score, max_score=result.max_score)
    verdict = result.verdict
    row.error = result.not_graded_reason
    if verdict == Verdict.ENVIRONMENT:
        row.error = f"not graded (environment): {row.error}"
        row.environment = True
    row.status = verdict.value if verdict.graded else "error"  # not graded, whatever the cause
    if verdict == Verdict.NOT_ELIGIBLE:  # the reason comes first
        row.error = "; ".join(f"not eligible: {g.get('reason', '')}" for g in result.unmet_gates)
    if verdict == Verdict.FAIL:
        failed = ", ".join(c.title or c.id for c in result.failed_required)
        row.reason = f"required check failed: {failed}"
    if verdict.graded:
        row.late, row.late_rank = _late(result)
    by_id = {c.id: c for c in result.checks}
    for column in columns:
        check = by_id.get(column)
        if check is None:
            row.cells.append(Cell("", f"{column}: not run"))
        else:
            tip = f"{check.title or check.id}: {check.status.value}, "
            tip += f"{check.points:g}/{check.max_points:g} - {check.message}"
            row.cells.append(Cell(check.status.value, tip[:500]))
    row.report = f"{report.parent.name}/{report.name}" if report.is_file() else None
    return row


# ---- derived views ----------------------------------------------------------------------


def histogram(rows: list[Row], bins: int = 10) -> dict[str, Any]:
    """Score distribution (percent of the maximum) as SVG bar geometry."""
    values = [r.percent for r in rows if r.status != "error" and r.percent is not None]
    counts = [0] * bins
    for value in values:
        counts[min(int(value * bins // 100), bins - 1) if value > 0 else 0] += 1
    width, height, pad = 420, 170, 22
    bar_w = (width - 2 * pad) / bins
    top = max(counts) or 1
    bars = []
    for index, count in enumerate(counts):
        h = (height - 2 * pad) * count / top
        lo, hi = index * 100 // bins, (index + 1) * 100 // bins
        bars.append(
            {
                "x": round(pad + index * bar_w + 1, 1), "w": round(bar_w - 2, 1),
                "y": round(height - pad - h, 1), "h": round(h, 1), "count": count,
                "label": f"{lo}", "tip": f"{lo}-{hi}%: {count} student(s)",
                "cx": round(pad + (index + 0.5) * bar_w, 1),
            }
        )  # fmt: skip
    return {"width": width, "height": height, "pad": pad, "bars": bars, "n": len(values)}


def pass_rates(rows: list[Row], columns: list[str], titles: dict[str, str]) -> list[dict]:
    rates = []
    for index, column in enumerate(columns):
        statuses = [r.cells[index].status for r in rows if r.status != "error"]
        counted = [s for s in statuses if s and s != "skipped"]
        passed = sum(s in ("pass", "warn") for s in counted)
        share = round(100 * passed / len(counted), 1) if counted else None
        rates.append(
            {"id": column, "title": titles.get(column, column), "passed": passed,
             "counted": len(counted), "percent": share}
        )  # fmt: skip
    return rates


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN is no error


def leaderboard(results: list[SubmissionResult], names: Mapping[str, str]) -> dict | None:
    """The hw3 leaderboard: students ranked by prediction MAE (ties by id). Without any MAE:
    a ``pending`` note when observations are missing or only placeholders, else None."""
    entries, dates, labels = [], [], {}
    states: set[str] = set()
    for result in results:
        check = next((c for c in result.checks if c.check == "predictions"), None)
        states.add(str((check.facts or {}).get("observations", "")) if check else "")
        mae = _float((check.facts or {}).get("mae")) if check else None
        if mae is None:
            continue
        preds = {}
        for item in check.facts.get("predictions") or []:
            if not isinstance(item, Mapping):
                continue
            day = str(item.get("date", ""))
            if day not in dates:
                dates.append(day)
            labels.setdefault(day, str(item.get("label") or ""))
            preds[day] = {
                "value": _float(item.get("value_celsius")),
                "observed": _float(item.get("observed")),
                "error": _float(item.get("abs_error")),
                "where": str(item.get("where", "")),
            }
        entries.append({"id": result.student, "name": names.get(result.student, ""),
                        "mae": mae, "predictions": preds})  # fmt: skip
    if not entries:
        if not states & {"pending", "placeholder"}:
            return None
        why = ("the observations file holds placeholder values only, which are never used "
               "for grades" if "placeholder" in states else "no observed temperatures yet")  # fmt: skip
        return {"entries": [], "dates": [], "labels": {}, "pending": f"Accuracy pending: {why}."}
    entries.sort(key=lambda e: (e["mae"], e["id"]))
    for rank, entry in enumerate(entries, start=1):
        entry["rank"] = rank
    placeholder = "placeholder-demo" in states
    return {"entries": entries, "dates": sorted(dates), "labels": labels, "pending": "",
            "placeholder": placeholder}  # fmt: skip


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text).strip(".") or "_"


def pair_page(pair: SimilarPair) -> str:
    return f"{_slug(pair.a)}--{_slug(pair.b)}.html"


def _segments(text: str, regions: list) -> list[tuple[str, bool]]:
    """A file's text cut into (text, highlighted) pieces along the matched regions."""
    spans = sorted((max(0, r.start), min(len(text), r.end)) for r in regions)
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        elif start < end:
            merged.append([start, end])
    pieces, cursor = [], 0
    for start, end in merged:
        if cursor < start:
            pieces.append((text[cursor:start], False))
        pieces.append((text[start:end], True))
        cursor = end
    if cursor < len(text):
        pieces.append((text[cursor:], False))
    return pieces


def _side(student: str, sources: dict[str, str], regions: list) -> dict[str, Any]:
    files = []
    for path in sorted(sources):
        mine = [r for r in regions if r.file == path]
        lines = ", ".join(f"{r.start_line}-{r.end_line}" for r in mine)
        files.append({"path": path, "lines": lines, "segments": _segments(sources[path], mine)})
    return {"id": student, "files": files}


# ---- rendering --------------------------------------------------------------------------


def _read_all(
    out_dir: Path, columns: list[str]
) -> tuple[list[tuple[Path, SubmissionResult]], list, dict]:
    results, broken, titles = [], [], {}
    for path in sorted(out_dir.glob("*/result.json")):
        try:
            result = read_result(path)
        except Exception as exc:  # one broken file is one row, never a crash
            broken.append((path, f"{path.parent.name}/result.json unreadable: {exc}"[:400]))
            continue
        results.append((path.parent, result))
        for check in result.checks:
            if check.id not in columns:
                columns.append(check.id)
            titles.setdefault(check.id, check.title or check.id)
    return results, broken, titles


def overview_context(
    out_dir: Path, spec: AssignmentSpec | None, names: Mapping[str, str] | None = None
) -> dict[str, Any]:
    notes: list[str] = []
    try:
        found_names = load_names(out_dir)
    except ValueError as exc:
        found_names, notes = {}, [str(exc)]
    names = found_names | dict(names or {})
    columns = [c.key for c in spec.checks] if spec else []
    titles = {c.key: c.title for c in spec.checks if c.title} if spec else {}
    found, broken, found_titles = _read_all(out_dir, columns)
    results = [r for _, r in found]
    titles = found_titles | titles
    rows = [_row(r, columns, folder / "report.html") for folder, r in found]
    for path, message in broken:
        rows.append(Row(id=path.parent.name, error=message, cells=[Cell("", "") for _ in columns]))
    for row in rows:
        row.name = names.get(row.id, "")
    rows.sort(key=lambda r: r.id)
    try:
        similarity = read_similarity(out_dir)
    except ValueError as exc:
        similarity = None
        notes.append(str(exc))
    graded = [r.score for r in rows if r.status != "error" and r.score is not None]
    first = results[0] if results else None
    data = {"columns": columns, "rows": [_row_data(r) for r in rows]}
    return {
        "title": (spec.title if spec else (first.title or first.assignment) if first else "")
        or "Class overview",
        "course": spec.course if spec else (first.course if first else ""),
        "deadline": _when(spec.deadline_at if spec else first.deadline if first else None),
        "rows": rows,
        "columns": [{"id": c, "title": titles.get(c, c)} for c in columns],
        "marks": STATUS_MARK,
        "counts": {
            s: sum(r.status == s for r in rows) for s in ("pass", "fail", "not_eligible", "error")
        },
        "environment_count": sum(r.environment for r in rows),
        "late_count": sum(r.late.startswith("late") for r in rows),
        "mean": round(statistics.fmean(graded), 2) if graded else None,
        "median": round(statistics.median(graded), 2) if graded else None,
        "histogram": histogram(rows),
        "rates": pass_rates(rows, columns, titles),
        "leaderboard": (board := leaderboard(results, names)),
        "leaderboard_chart": leaderboard_chart(board),
        "grades_csv": "grades.csv" if (out_dir / "grades.csv").is_file() else None,
        "similarity": similarity,
        "pages": {(p.a, p.b): f"similarity/{pair_page(p)}" for p in similarity.pairs}
        if similarity
        else {},
        "notes": notes + (similarity.notes if similarity else []),
        "names": names,
        "data": data,
        "version": __version__,
        "generated": format_moment(
            datetime.now(UTC).replace(microsecond=0), spec.timezone if spec else None
        ),
    }


def write_similarity_pages(out_dir: Path, report: SimilarityReport | None, title: str) -> None:
    """One side-by-side page per listed pair under ``out_dir/similarity/``."""
    folder = out_dir / "similarity"
    for stale in folder.glob("*--*.html") if folder.is_dir() else []:
        stale.unlink()
    if not report or not report.pairs:
        return
    output_dir(folder)
    template = environment().get_template("similarity_pair.html.j2")
    for pair in report.pairs:
        html = template.render(
            title=title, pair=pair, left=_side(pair.a, pair.sources_a, pair.regions_a),
            right=_side(pair.b, pair.sources_b, pair.regions_b),
            threshold=report.threshold, version=__version__,
        )  # fmt: skip
        atomic_write(folder / pair_page(pair), html, sync=False)


def write_overview(
    out_dir: Path, spec: AssignmentSpec | None = None, names: Mapping[str, str] | None = None
) -> Path:
    """Write ``out_dir/index.html`` (and the similarity pages) from the results in it."""
    out_dir = Path(out_dir)
    context = overview_context(out_dir, spec, names)
    write_similarity_pages(out_dir, context["similarity"], context["title"])
    html = environment().get_template("overview.html.j2").render(**context)
    return atomic_write(out_dir / "index.html", html, sync=False)
