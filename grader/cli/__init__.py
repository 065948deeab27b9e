"""The `grader` command line: thin wrappers over ``grader.pipeline``."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="grader",
    help="Autograder and submission checker for deep-learning courses.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# each module adds its commands to `app`; one import line per command group
from grader.cli import core  # noqa: E402,F401


def main() -> None:
    app()
