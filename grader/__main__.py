"""The ``grader`` command (and ``python -m grader``). ``grader --version`` answers here,
before the command line (Typer, Rich, pydantic) is imported, and only the module of the
command being run is loaded: CI runs the self-check on every push."""

from __future__ import annotations

import os
import sys

import grader


def main() -> None:
    argv = sys.argv[1:]
    if argv == ["--version"]:
        print(f"grader {grader.__version__}")
        return
    # the grader uses no pydantic plugin: skip their discovery (a scan of every installed
    # distribution's metadata) on each start
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    # the first word that is not an option names the command (the root has no valued option)
    grader.CLI_COMMAND = next((a for a in argv if not a.startswith("-")), None)
    from grader.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
