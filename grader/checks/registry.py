"""The one registry of checks: check type -> class. One line per check."""

from __future__ import annotations

from pydantic import BaseModel

from grader.checks.base import Check
from grader.checks.code_evidence import CodeEvidenceCheck
from grader.checks.code_pattern import CodePatternCheck
from grader.checks.compare import CompareCheck
from grader.checks.dataset_split import DatasetSplitCheck
from grader.checks.english import EnglishCheck
from grader.checks.files import FilesCheck
from grader.checks.git_history import GitHistoryCheck
from grader.checks.milestones import MilestonesCheck
from grader.checks.notebooks import NotebooksCheck
from grader.checks.pdf_report import PdfReportCheck
from grader.checks.predictions import PredictionsCheck
from grader.checks.rerun import RerunCheck
from grader.checks.tests import TestsCheck
from grader.checks.training_data import TrainingDataCheck
from grader.checks.training_log import TrainingLogCheck

REGISTRY: dict[str, type[Check]] = {
    "files": FilesCheck,
    "english": EnglishCheck,
    "git_history": GitHistoryCheck,
    "notebooks": NotebooksCheck,
    "pdf_report": PdfReportCheck,
    "milestones": MilestonesCheck,
    "code_pattern": CodePatternCheck,
    "predictions": PredictionsCheck,
    "training_data": TrainingDataCheck,
    "dataset_split": DatasetSplitCheck,
    "code_evidence": CodeEvidenceCheck,
    "training_log": TrainingLogCheck,
    "rerun": RerunCheck,
    "compare": CompareCheck,
    "tests": TestsCheck,
}


def args_models() -> dict[str, type[BaseModel]]:
    return {name: cls.Args for name, cls in REGISTRY.items()}
