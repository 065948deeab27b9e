"""The gradebook (SQLite by default, any SQLAlchemy URL): see ``grader.gradebook.store``.

``Gradebook`` is imported on first use, so importing the light names (rows, the error)
does not load SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from grader.gradebook.errors import GradebookError
from grader.gradebook.rows import GradeRow, HistoryEntry, OverrideInfo, SyncReport, result_digest

if TYPE_CHECKING:
    from grader.gradebook.store import Gradebook

__all__ = [
    "GradeRow",
    "Gradebook",
    "GradebookError",
    "HistoryEntry",
    "OverrideInfo",
    "SyncReport",
    "result_digest",
]


def __getattr__(name: str) -> Any:
    if name == "Gradebook":
        from grader.gradebook.store import Gradebook

        return Gradebook
    raise AttributeError(f"module 'grader.gradebook' has no attribute {name!r}")
