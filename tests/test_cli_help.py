"""Every command's --help explains itself: choices instead of Python types, plain metavars,
and pointers to where things are documented."""

from __future__ import annotations

import re

import click
import pytest
import typer.main
from typer.testing import CliRunner

from grader.cli import app

WIDE = {"COLUMNS": "200", "TERMINAL_WIDTH": "200"}
PLACEHOLDER = re.compile(r"<(?:bool|str|int|float|path|list\[[^>]*\]|[a-z]+ range)>")


def _commands(group: click.Command, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in sorted(getattr(group, "commands", {}).items()):
        found += _commands(command, (*prefix, name))
    return found


COMMANDS = _commands(typer.main.get_command(app))


def help_of(*words: str) -> str:
    result = CliRunner().invoke(app, [*words, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    return result.output


def test_every_command_is_walked() -> None:
    names = {" ".join(c) for c in COMMANDS}
    assert {"check", "batch", "explain", "keys", "schema", "gradebook export"} <= names
    assert len(COMMANDS) >= 15


@pytest.mark.parametrize("words", COMMANDS, ids=lambda c: " ".join(c) or "grader")
def test_no_python_types_or_braces_in_any_help(words: tuple[str, ...]) -> None:
    text = help_of(*words)
    assert not PLACEHOLDER.search(text), PLACEHOLDER.search(text).group(0)
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage and "}" not in usage, usage


def test_choices_are_shown() -> None:
    check = help_of("check")
    for choices in ("[text|json|github|junit]", "[none|smoke|full]", "[required|any|never]"):
        assert choices in check
    assert "Usage: grader check [OPTIONS] SPEC [PATH]" in check
    assert "[none|smoke|full]" in help_of("batch")
    assert "[csv|moodle|canvas|gradescope|junit]" in help_of("gradebook", "export")
    assert "[text|json]" in help_of("gradebook", "show")
    assert "[assignment|course]" in help_of("schema")


def test_roster_help_says_what_the_csv_holds() -> None:
    text = " ".join(help_of("batch").split())
    assert "see grader.roster" not in text
    for word in ("neptun", "github", "repository URL", "team", "extension", "header"):
        assert word in text


def test_validate_help_says_where_the_keys_are_documented() -> None:
    text = " ".join(help_of("validate").split())
    assert "grader keys" in text and "docs/spec-reference.md" in text and "grader schema" in text
