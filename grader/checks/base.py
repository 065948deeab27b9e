"""The check contract: a small class with a ``title``, an ``Args`` model and ``run``, and the
``CheckContext`` it runs in. Its registry key (``grader.checks.registry``) is its type name."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from grader.results import CheckOutcome, CheckResult, PinInfo
from grader.settings import RunSettings
from grader.spec import AssignmentSpec, CheckSpec
from grader.tree import matches, submission_files

if TYPE_CHECKING:
    from grader.sandbox.queue import RunQueue


class Args(BaseModel):
    """Base of every check's arguments: strict, so a typo in a spec is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class NoArgs(Args):
    pass


@dataclass
class CheckContext:
    """Everything a check may look at for one submission at one pinned commit.

    ``settings`` is what the front door asked for (rerun mode, hidden material); ``cache``
    is only a cache (anything in it can be recomputed); ``previous`` holds the results of
    the checks before this one, in spec order (how one check reads another's findings);
    ``queue`` is the run queue (slots, GPUs) that checks running student code lease from,
    None for the process-wide default.
    """

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
    previous: list[CheckResult] = field(default_factory=list)
    settings: RunSettings = field(default_factory=RunSettings)
    queue: RunQueue | None = None

    def previous_result(self, check_id: str) -> CheckResult | None:
        """The result of the earlier check with this id (its spec ``id`` or type)."""
        return next((r for r in self.previous if r.id == check_id), None)

    def files(self) -> list[str]:
        """Every file of the submission, as POSIX paths relative to the work dir, sorted."""
        key = f"files:{self.workdir}"
        if key not in self.cache:
            self.cache[key] = submission_files(self.workdir)
        return self.cache[key]

    def glob(
        self,
        patterns: str | list[str],
        case_sensitive: bool = False,
        exclude: str | list[str] | None = None,
    ) -> list[str]:
        """Files matching any of the globs and none of ``exclude`` (``**`` crosses folders,
        ``{a,b}`` alternates)."""
        return [f for f in self.files() if matches(f, patterns, case_sensitive, exclude)]

    def path(self, relative: str) -> Path:
        return self.workdir / relative


class Check:
    """Subclass, set ``title``/``Args``, implement ``run``; add one registry line.

    ``run`` reads untrusted files, so the pipeline runs it in a child process under the
    spec's budget (``limits.check_seconds``, ``limits.check_memory_mb``); what it puts in
    ``ctx.cache`` there is lost (it is only a cache). ``warm_up`` loads, once and in the
    grader, what is trusted and costly to load (a language model, a library), so that no
    child pays for it again. A check whose untrusted work runs in the sandbox under the
    sandbox's own limits sets ``runs_in_sandbox`` and runs in the grader's process, where
    the run queue and GPU leases live.
    """

    title: ClassVar[str]
    Args: ClassVar[type[Args]] = NoArgs
    runs_in_sandbox: ClassVar[bool] = False
    # True for checks that run student code in the sandbox: a batch that reruns refuses
    # to start without a usable sandbox (``runs_code_always``: even with --rerun none)
    runs_code: ClassVar[bool] = False
    runs_code_always: ClassVar[bool] = False

    @classmethod
    def warm_up(cls) -> None:
        """Load what ``run`` needs that is trusted and slow to load (default: nothing)."""

    def run(self, ctx: CheckContext, args: Any) -> CheckOutcome:  # pragma: no cover
        raise NotImplementedError
