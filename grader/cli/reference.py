"""`grader keys | schema`: the spec format, from the models (never out of date)."""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape

from grader.cli import app
from grader.cli.output import console, fail


class SchemaKind(StrEnum):
    ASSIGNMENT = "assignment"
    COURSE = "course"


def check_section(markdown: str, check: str) -> str | None:
    """The part of the reference page about one check (its heading to the next check)."""
    match = re.search(rf"^### {re.escape(check)}\n.*?(?=^### |\Z)", markdown, re.M | re.S)
    return match.group(0).rstrip() + "\n" if match else None


@app.command("keys")
def keys(
    check: Annotated[
        str | None,
        typer.Argument(metavar="CHECK", help="a check type (files, english, ...): its arguments"),
    ] = None,
) -> None:
    """Print the keys of an assignment spec and every check's arguments (type, default,
    meaning), or one check's arguments. The same page is docs/spec-reference.md."""
    from grader.checks.registry import REGISTRY
    from grader.schema import reference_markdown

    text = reference_markdown()
    if check is not None:
        section = check_section(text, check)
        if section is None:
            raise fail(f"unknown check {check!r}; known: {', '.join(REGISTRY)}")
        text = section
    console.print(escape(text), soft_wrap=True, highlight=False)


@app.command("schema")
def schema(
    kind: Annotated[
        SchemaKind, typer.Argument(help="the spec of an assignment, or the course file")
    ] = SchemaKind.ASSIGNMENT,
) -> None:
    """Print the JSON Schema of a spec for editors: save it next to your specs and start
    each spec with `# yaml-language-server: $schema=assignment.schema.json` (a path relative
    to the spec, or a URL); the bundled specs point at the copy in schemas/."""
    from grader.schema import course_schema, spec_schema

    data = spec_schema() if kind == SchemaKind.ASSIGNMENT else course_schema()
    if data is None:
        raise fail("this grader has no course file format yet")
    print(json.dumps(data, indent=2))
