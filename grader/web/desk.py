"""The review desk's data, without any web framework: the gradebook, the decisions, the
similarity reports of the batch folders, and the review queue built from them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from grader.gradebook.decisions import CheckDecision, DecisionState, effective_rows
from grader.gradebook.engine import insert_rows
from grader.gradebook.models import Meta
from grader.gradebook.review import ReviewStore, pair_key
from grader.gradebook.rows import GradeRow
from grader.gradebook.store import Gradebook
from grader.results import Status
from grader.similarity import SimilarityReport, SimilarPair, read_similarity
from grader.web.config import DeskConfig

THRESHOLD_KEY = "review.threshold:"


@dataclass
class ManualItem:
    assignment: str
    student: str
    name: str
    check_id: str
    title: str
    message: str
    decision: CheckDecision | None

    @property
    def open(self) -> bool:
        return self.decision is None or self.decision.points is None


@dataclass
class PairItem:
    assignment: str
    pair: SimilarPair
    state: DecisionState = field(default_factory=DecisionState)

    @property
    def status(self) -> str:
        return str(self.state.state.get("status") or "open")

    @property
    def open(self) -> bool:
        return self.status == "open"


def _assignment_of(out_dir: Path) -> str | None:
    for path in sorted(out_dir.glob("*/result.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("assignment"):
            return str(data["assignment"])
    return None


class Desk:
    """One gradebook and its batch folders, as the pages see them."""

    def __init__(self, config: DeskConfig):
        self.config = config
        self.book = Gradebook(config.db_url)
        self.store = ReviewStore(self.book)
        self._folders: dict[str, Path] = {}
        for out in config.out_dirs:
            assignment = _assignment_of(out)
            if assignment:
                self._folders.setdefault(assignment, out)

    # ---- assignments and rows -------------------------------------------------------
    def assignments(self) -> list[dict[str, Any]]:
        return self.book.assignments()

    def rows(self, assignment: str) -> list[GradeRow]:
        return effective_rows(self.book, assignment)

    def row(self, assignment: str, student: str) -> GradeRow | None:
        return next((r for r in self.rows(assignment) if r.student == student), None)

    # ---- similarity ---------------------------------------------------------------------
    def similarity(self, assignment: str) -> SimilarityReport | None:
        folder = self._folders.get(assignment)
        if folder is None:
            return None
        try:
            return read_similarity(folder)
        except ValueError:
            return None

    def threshold(self, assignment: str) -> float:
        """The review queue's similarity threshold (a course rule; default: the file's)."""
        key = (THRESHOLD_KEY + assignment)[:64]
        with self.book.engine.connect() as conn:
            stored = conn.scalar(select(Meta.value).where(Meta.key == key))
        if stored is not None:
            return float(stored)
        report = self.similarity(assignment)
        return report.threshold if report else 0.0

    def set_threshold(self, assignment: str, value: float) -> None:
        if not 0.0 <= value <= 1.0:
            raise ValueError("the threshold is a share between 0 and 1 (e.g. 0.5 for 50%)")
        row = {"key": (THRESHOLD_KEY + assignment)[:64], "value": repr(float(value))}
        with self.book.engine.begin() as conn:
            insert_rows(conn, Meta.__table__, [row], ["key"], ["value"])

    def pairs(self, assignment: str) -> list[PairItem]:
        report = self.similarity(assignment)
        if report is None:
            return []
        limit = self.threshold(assignment)
        states = self.store.pair_states(assignment)
        return [
            PairItem(assignment, p, states.get(pair_key(p.a, p.b), DecisionState()))
            for p in report.pairs
            if p.similarity >= limit
        ]

    def pair(self, assignment: str, a: str, b: str) -> PairItem | None:
        report = self.similarity(assignment)
        for p in report.pairs if report else []:
            if {p.a, p.b} == {a, b}:
                state = self.store.pair_states(assignment).get(pair_key(a, b), DecisionState())
                return PairItem(assignment, p, state)
        return None

    # ---- the queue ----------------------------------------------------------------------
    def manual_items(self, assignment: str, rows: list[GradeRow] | None = None) -> list[ManualItem]:
        items = []
        for row in self.rows(assignment) if rows is None else rows:
            result = row.result()
            for check in result.checks if result else []:
                if check.status == Status.MANUAL:
                    items.append(
                        ManualItem(
                            assignment,
                            row.student,
                            row.name,
                            check.id,
                            check.title or check.id,
                            check.message,
                            row.decisions.get(check.id),
                        )  # fmt: skip
                    )
        return items

    def queue(self, assignment: str | None = None) -> dict[str, list]:
        ids = [assignment] if assignment else [a["id"] for a in self.assignments()]
        manual, pairs, regrades = [], [], []
        for ident in ids:
            manual += self.manual_items(ident)
            pairs += self.pairs(ident)
            regrades += self.store.regrades(ident)
        return {"manual": manual, "pairs": pairs, "regrades": regrades}
