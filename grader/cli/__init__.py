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


# each module adds its commands to `app`; a new command group is one more name here
from grader.cli import batch, core, doctor, gradebook, gradescope, overview  # noqa: E402,F401


def main() -> None:
    from grader.extras import MissingExtra

    try:
        app()
    except MissingExtra as exc:  # an instructor feature on a student's install
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
