"""The one registry of checks: check type -> class. One line per check."""

from __future__ import annotations

from pydantic import BaseModel

from grader.checks.base import Check
from grader.checks.english import EnglishCheck
from grader.checks.files import FilesCheck
from grader.checks.git_history import GitHistoryCheck
from grader.checks.notebooks import NotebooksCheck
from grader.checks.predictions import PredictionsCheck
from grader.checks.training_data import TrainingDataCheck

REGISTRY: dict[str, type[Check]] = {
    "files": FilesCheck,
    "english": EnglishCheck,
    "git_history": GitHistoryCheck,
    "notebooks": NotebooksCheck,
    "predictions": PredictionsCheck,
    "training_data": TrainingDataCheck,
}


def args_models() -> dict[str, type[BaseModel]]:
    return {name: cls.Args for name, cls in REGISTRY.items()}
