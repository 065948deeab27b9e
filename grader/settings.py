"""What a front door asks of one grading run, handed to every check as ``ctx.settings``.

This module imports nothing of the project: the batch sends settings to its workers as
JSON (``to_dict``/``from_dict``), the CLI builds them from its options.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class RerunMode(StrEnum):
    """How far student code is rerun: not at all, capped (the spec's smoke settings), or as
    submitted."""

    NONE = "none"
    SMOKE = "smoke"
    FULL = "full"

    @classmethod
    def parse(cls, value: str | RerunMode) -> RerunMode:
        """The mode named by ``value``; ValueError naming the choices otherwise."""
        try:
            return cls(value)
        except ValueError:
            choices = ", ".join(m.value for m in cls)
            raise ValueError(f"unknown rerun mode {value!r}: use one of {choices}") from None


@dataclass(frozen=True)
class RunSettings:
    """The settings of one run, the same for every check of every submission in it.

    ``rerun``: whether and how checks that run student code (rerun, tests) run it.
    ``hidden``: whether instructor-only material (hidden tests, hidden data) may be used;
    only the instructor's runs (``grade``, ``batch``) set it, never the self-check.
    """

    rerun: RerunMode = RerunMode.NONE
    hidden: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "rerun", RerunMode.parse(self.rerun))  # "full" -> FULL

    def to_dict(self) -> dict[str, Any]:
        return {"rerun": self.rerun.value, "hidden": self.hidden}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSettings:
        return cls(
            rerun=RerunMode.parse(data.get("rerun", "none")), hidden=bool(data.get("hidden", False))
        )
