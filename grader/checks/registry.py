"""The one registry of checks: check type -> class. One line per check.

Each line names the module and the class; a check's module is imported the first time the
check is used (a spec that grades files and prose never loads the sandbox), so the
self-check starts fast. ``tests/test_checks_reference.py`` imports every line.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import BaseModel

    from grader.checks.base import Check

CHECKS = {
    "files": "grader.checks.files:FilesCheck",
    "english": "grader.checks.english:EnglishCheck",
    "git_history": "grader.checks.git_history:GitHistoryCheck",
    "notebooks": "grader.checks.notebooks:NotebooksCheck",
    "pdf_report": "grader.checks.pdf_report:PdfReportCheck",
    "milestones": "grader.checks.milestones:MilestonesCheck",
    "code_pattern": "grader.checks.code_pattern:CodePatternCheck",
    "predictions": "grader.checks.predictions:PredictionsCheck",
    "training_data": "grader.checks.training_data:TrainingDataCheck",
    "dataset_split": "grader.checks.dataset_split:DatasetSplitCheck",
    "code_evidence": "grader.checks.code_evidence:CodeEvidenceCheck",
    "training_log": "grader.checks.training_log:TrainingLogCheck",
    "rerun": "grader.checks.rerun:RerunCheck",
    "compare": "grader.checks.compare:CompareCheck",
}


class _Registry(Mapping[str, "type[Check]"]):
    """Check type -> class, importing a check's module on first use."""

    def __init__(self, paths: Mapping[str, str]) -> None:
        self._paths = dict(paths)
        self._loaded: dict[str, type[Check]] = {}

    def __getitem__(self, name: str) -> type[Check]:
        if name not in self._loaded:
            module, _, attr = self._paths[name].partition(":")  # KeyError: unknown check
            self._loaded[name] = getattr(importlib.import_module(module), attr)
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


class _ArgsModels(Mapping[str, "type[BaseModel]"]):
    """Check type -> its ``Args`` model, as lazily as the registry."""

    def __getitem__(self, name: str) -> type[BaseModel]:
        return REGISTRY[name].Args

    def __iter__(self) -> Iterator[str]:
        return iter(REGISTRY)

    def __len__(self) -> int:
        return len(REGISTRY)


REGISTRY: Mapping[str, type[Check]] = _Registry(CHECKS)


def args_models() -> Mapping[str, type[BaseModel]]:
    return _ArgsModels()
