"""Running untrusted student code: bubblewrap sandbox, limits, GPUs, notebooks.

``choose_sandbox(mode)`` applies the policy: bubblewrap when installed; without it the
student's self-check (mode "worktree") runs unisolated with a loud warning, and instructor
grading refuses unless ``GRADER_ALLOW_UNSANDBOXED=1`` forces it.
"""

from __future__ import annotations

import os

from grader.sandbox.base import Limits, Mount, RunOutput, Sandbox, SandboxError
from grader.sandbox.bwrap import BubblewrapSandbox, bwrap_problem
from grader.sandbox.plain import PlainSandbox

__all__ = [
    "BubblewrapSandbox", "Limits", "Mount", "PlainSandbox", "RunOutput", "Sandbox",
    "SandboxError", "choose_sandbox", "refusal",
]  # fmt: skip

FORCE_ENV = "GRADER_ALLOW_UNSANDBOXED"


def _bwrap_problem() -> str | None:
    if os.environ.get("GRADER_FORCE_PLAIN"):
        return "bubblewrap is not used (GRADER_FORCE_PLAIN is set)"
    return bwrap_problem()


def refusal(mode: str = "pinned") -> str | None:
    """Why ``choose_sandbox(mode)`` would refuse, or None; without side effects (it makes
    no sandbox, so a caller that only asks does not become a subreaper)."""
    problem = _bwrap_problem()
    if problem is None or mode == "worktree" or os.environ.get(FORCE_ENV) == "1":
        return None
    return (
        f"{problem}, so student code cannot be sandboxed; install or enable bubblewrap "
        f"(`apt-get install -y bubblewrap`) or set {FORCE_ENV}=1 to run it unisolated"
    )


def choose_sandbox(mode: str = "pinned", uid: int | None = None) -> Sandbox:
    """The sandbox for one run. Raises SandboxError when instructor grading would have to
    run student code unisolated and nobody forced it."""
    problem = _bwrap_problem()
    if problem is None:
        return BubblewrapSandbox(uid=uid)
    reason = refusal(mode)
    if reason is not None:
        raise SandboxError(reason)
    return PlainSandbox(reason=problem)
