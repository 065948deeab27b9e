"""The ``code_pattern`` check: the code contains what the assignment asks for.

Each pattern is a Python regular expression searched in the submission's Python files and
in the code cells of its notebooks, with comments removed (a commented-out line does not
count). A pattern may span lines. Evidence names the file and line (for a notebook: the
cell number, and the line inside the cell in the detail).
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass

from pydantic import Field, field_validator

from grader.checks.base import Args, Check, CheckContext
from grader.ipynb import read_notebook
from grader.results import CheckOutcome, Evidence, Status

MAX_FILE_BYTES = 2 * 2**20
MAX_NOTEBOOK_BYTES = 64 * 2**20
SNIPPET_CHARS = 100
_MAGIC = re.compile(r"^(\s*)([%!?].*)$", re.M)


class Pattern(Args):
    regex: str = Field(description="a Python regular expression, e.g. 'plt\\.imshow\\('")
    description: str = Field(description="what it stands for, in words the student reads")

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class CodePatternArgs(Args):
    patterns: list[Pattern] = Field(min_length=1)
    include: list[str] = Field(
        default_factory=lambda: ["**/*.py", "**/*.ipynb"], description="globs of files searched"
    )
    exclude: list[str] = Field(default_factory=list, description="globs never searched")


@dataclass(frozen=True)
class CodeBlock:
    """Source code to search: a Python file, or one code cell of a notebook."""

    path: str
    text: str
    cell: int | None = None  # 1-based cell number for notebooks


@dataclass(frozen=True)
class Match:
    block: CodeBlock
    line: int  # 1-based, inside the file or the cell
    snippet: str

    @property
    def where(self) -> str:
        if self.block.cell is None:
            return f"{self.block.path}:{self.line}"
        return f"{self.block.path} cell {self.block.cell} line {self.line}"


def strip_comments(source: str) -> str:
    """The source with every comment blanked out (line numbers kept).

    Uses the tokenizer, so '#' inside strings stays; code the tokenizer cannot read (a
    syntax error, a notebook magic) falls back to dropping whole-line comments only.
    """
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return "\n".join("" if ln.lstrip().startswith("#") else ln for ln in source.split("\n"))
    lines = source.split("\n")
    for token in tokens:
        if token.type == tokenize.COMMENT:
            row, col = token.start
            line = lines[row - 1]
            lines[row - 1] = line[:col] + " " * (len(line) - col)
    return "\n".join(lines)


def notebook_code_cells(text: str) -> list[tuple[int, str]]:
    """(1-based cell number, source) of each code cell; IPython magics are blanked."""
    notebook = read_notebook(text)
    cells = []
    for number, cell in enumerate(notebook.cells, 1):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        cells.append((number, _MAGIC.sub(lambda m: m.group(1), source)))
    return cells


def code_blocks(ctx: CheckContext, paths: list[str]) -> tuple[list[CodeBlock], list[Evidence]]:
    """The code of each file; unreadable files become evidence instead."""
    blocks: list[CodeBlock] = []
    problems: list[Evidence] = []
    for path in paths:
        notebook = path.lower().endswith(".ipynb")
        limit = MAX_NOTEBOOK_BYTES if notebook else MAX_FILE_BYTES
        try:
            size = ctx.path(path).stat().st_size
            if size > limit:
                problems.append(Evidence(path, "skipped", f"{size / 2**20:.1f} MiB, too large"))
                continue
            text = ctx.path(path).read_bytes().decode("utf-8", errors="replace")
            if notebook:
                for number, source in notebook_code_cells(text):
                    blocks.append(CodeBlock(path, strip_comments(source), number))
            else:
                blocks.append(CodeBlock(path, strip_comments(text)))
        except Exception as exc:  # a malformed notebook must not cost the other files
            reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            problems.append(Evidence(path, "unreadable", reason))
    return blocks, problems


def find(pattern: re.Pattern[str], blocks: list[CodeBlock]) -> list[Match]:
    """Every match of the pattern, in file order."""
    found = []
    for block in blocks:
        for match in pattern.finditer(block.text):
            line = block.text.count("\n", 0, match.start()) + 1
            snippet = " ".join(match.group(0).split())
            if len(snippet) > SNIPPET_CHARS:
                snippet = snippet[: SNIPPET_CHARS - 1] + "…"
            found.append(Match(block, line, snippet))
    return found


class CodePatternCheck(Check):
    title = "Code does what is asked"
    Args = CodePatternArgs

    def run(self, ctx: CheckContext, args: CodePatternArgs) -> CheckOutcome:
        paths = ctx.glob(args.include, exclude=args.exclude)
        if not paths:
            return CheckOutcome(
                Status.FAIL,
                f"no code found to search (looked for {' or '.join(args.include)})",
                facts={"files": 0, "patterns": []},
            )
        blocks, evidence = code_blocks(ctx, paths)
        facts, missing = [], []
        for item in args.patterns:
            matches = find(re.compile(item.regex, re.M), blocks)
            facts.append(
                {
                    "description": item.description,
                    "regex": item.regex,
                    "found": len(matches),
                    "where": [m.where for m in matches[:5]],
                }
            )
            if not matches:
                missing.append(item.description)
                searched = f"no match for /{item.regex}/ in {len(paths)} file(s)"
                evidence.append(Evidence("", "missing", f"{item.description}: {searched}"))
                continue
            first = matches[0]
            more = f" (and {len(matches) - 1} more)" if len(matches) > 1 else ""
            inside = (
                "" if first.block.cell is None else f"cell {first.block.cell} line {first.line}: "
            )
            line = first.line if first.block.cell is None else first.block.cell
            detail = f"{item.description}: {inside}{first.snippet}{more}"
            evidence.append(Evidence(first.block.path, "found", detail, line))
        total = len(args.patterns)
        out = {"files": len(paths), "patterns": facts}
        if missing:
            return CheckOutcome(
                Status.FAIL,
                f"{len(missing)} of {total} expected code pattern(s) not found: "
                + "; ".join(missing),
                evidence,
                out,
                fraction=(total - len(missing)) / total,
            )
        return CheckOutcome(
            Status.PASS, f"all {total} expected code pattern(s) found", evidence, out
        )
