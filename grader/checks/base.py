"""The check contract: a small class with an ``id``, an ``Args`` model and ``run``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from wcmatch import glob as wglob

from grader.results import CheckOutcome, CheckResult, PinInfo
from grader.spec import AssignmentSpec, CheckSpec

# never part of a submission's content, whatever the student committed or left around
IGNORED_DIRS = {
    ".git", ".grader", "__pycache__", ".ipynb_checkpoints", ".venv", "venv", "node_modules",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".idea", ".vscode",
}  # fmt: skip


class Args(BaseModel):
    """Base of every check's arguments: strict, so a typo in a spec is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class NoArgs(Args):
    pass


@dataclass
class CheckContext:
    """Everything a check may look at for one submission at one pinned commit."""

    spec: AssignmentSpec
    check: CheckSpec
    workdir: Path
    student: str
    repo: str
    commit: str | None
    committed_at: datetime | None
    deadline: datetime
    pin: PinInfo
    mode: str = "pinned"  # "pinned" or "worktree"
    cache: dict[str, Any] = field(default_factory=dict)  # shared by the checks of a submission
    previous: list[CheckResult] = field(default_factory=list)  # results of the checks before

    def files(self) -> list[str]:
        """Every file of the submission, as POSIX paths relative to the work dir, sorted."""
        key = f"files:{self.workdir}"
        if key not in self.cache:
            found = []
            root = str(self.workdir)
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS)
                rel = os.path.relpath(dirpath, root)
                for name in filenames:
                    found.append(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
            self.cache[key] = sorted(found)
        return self.cache[key]

    def glob(
        self,
        patterns: str | list[str],
        case_sensitive: bool = False,
        exclude: str | list[str] | None = None,
    ) -> list[str]:
        """Files matching any of the globs and none of ``exclude`` (``**`` crosses folders,
        ``{a,b}`` alternates)."""
        patterns = [patterns] if isinstance(patterns, str) else patterns
        flags = wglob.GLOBSTAR | wglob.BRACE | wglob.DOTGLOB
        if not case_sensitive:
            flags |= wglob.IGNORECASE
        return [
            f for f in self.files()
            if wglob.globmatch(f, patterns, flags=flags, exclude=exclude or None)
        ]  # fmt: skip

    def path(self, relative: str) -> Path:
        return self.workdir / relative


class Check:
    """Subclass, set ``id``/``title``/``Args``, implement ``run``; add one registry line."""

    id: ClassVar[str]
    title: ClassVar[str]
    Args: ClassVar[type[Args]] = NoArgs

    def run(self, ctx: CheckContext, args: Any) -> CheckOutcome:  # pragma: no cover
        raise NotImplementedError
