"""The `grader` command line: thin wrappers over ``grader.pipeline``."""

from __future__ import annotations

import importlib

import typer

import grader as _package
from grader.cli.helpfmt import ExplainedGroup

app = typer.Typer(
    name="grader",
    cls=ExplainedGroup,  # help shows choices and plain metavars, not Python types
    help="Autograder and submission checker for deep-learning courses.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from grader import __version__

        typer.echo(f"grader {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="print the version and exit"
    ),
) -> None:
    """Autograder and submission checker for deep-learning courses."""


# each module adds its commands to `app`; a new command (group) is one more entry here
COMMAND_MODULES = {
    "list": "core", "validate": "core", "grade": "core", "check": "core", "workflow": "core",
    "batch": "batch", "gradebook": "gradebook", "gradescope": "gradescope",
    "overview": "overview", "similarity": "overview", "keys": "reference", "schema": "reference",
    "explain": "explain", "serve": "review", "course": "course", "snapshot": "snapshot",
    "doctor": "doctor",
}  # fmt: skip
# commands whose group other modules add to (the review desk adds `gradebook undo`, ...)
ALSO_LOADED = {"gradebook": ("review",)}


def load_commands(command: str | None = None) -> None:
    """Register the commands: only ``command``'s module when it is a known command (the
    `grader` executable runs one command per process, and starts faster without the
    others), else every module (help, tests, an unknown name that needs the full list)."""
    if command in COMMAND_MODULES:
        modules = {COMMAND_MODULES[command], *ALSO_LOADED.get(command, ())}
    else:
        modules = set(COMMAND_MODULES.values())
    for module in sorted(modules):
        importlib.import_module(f"grader.cli.{module}")


def main() -> None:
    from grader.extras import MissingExtra

    try:
        app()
    except MissingExtra as exc:  # an instructor feature on a student's install
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None


# `grader.__main__` names the command it is about to run; anyone else gets every command
load_commands(getattr(_package, "CLI_COMMAND", None))
