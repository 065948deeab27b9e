"""The `code_pattern` check: regexes over Python files and notebook code cells."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.checks.code_pattern import CodePatternArgs, CodePatternCheck, strip_comments
from grader.checks.registry import args_models
from grader.results import CheckOutcome, Status
from grader.spec import SpecError, parse_spec_text
from grader.testing import build_file_tree, make_context

IMSHOW = {"regex": r"plt\.imshow\(\s*x_train\[12\]", "description": "shows x_train[12]"}
FIT = {"regex": r"\.fit\(", "description": "trains a model"}


def run(root: Path, patterns: list[dict], **args: object) -> CheckOutcome:
    ctx = make_context(root, "code_pattern")
    return CodePatternCheck().run(ctx, CodePatternArgs(patterns=patterns, **args))


def notebook(*cells: nbformat.NotebookNode) -> str:
    return nbformat.writes(new_notebook(cells=list(cells)))


def test_python_file_line_and_partial_credit(tmp_path: Path) -> None:
    build_file_tree(tmp_path, {"src/show.py": "import x\n\nplt.imshow(\n    x_train[12])\n"})
    outcome = run(tmp_path, [IMSHOW, FIT])
    assert outcome.status == Status.FAIL and outcome.fraction == 0.5
    assert outcome.message == "1 of 2 expected code pattern(s) not found: trains a model"
    found = outcome.evidence[0]
    assert (found.path, found.verdict, found.line) == ("src/show.py", "found", 3)
    assert "plt.imshow( x_train[12]" in found.detail  # a match may span lines
    assert outcome.evidence[1].verdict == "missing"


def test_notebook_cells_comments_and_markdown(tmp_path: Path) -> None:
    text = notebook(
        new_markdown_cell("We call plt.imshow(x_train[12]) below."),
        new_code_cell("%matplotlib inline\n# plt.imshow(x_train[12])\nmodel.fit(x, y)"),
        new_code_cell("import matplotlib.pyplot as plt\n\nplt.imshow(x_train[12])"),
    )
    build_file_tree(tmp_path, {"hw.ipynb": text})
    outcome = run(tmp_path, [IMSHOW, FIT])
    assert outcome.status == Status.PASS
    shown = outcome.evidence[0]
    assert (shown.path, shown.line) == ("hw.ipynb", 3)  # cell 3; the comment in cell 2 is no code
    assert shown.detail.startswith("shows x_train[12]: cell 3 line 3:")
    assert outcome.facts["patterns"][1]["where"] == ["hw.ipynb cell 2 line 3"]


def test_strip_comments_keeps_strings_and_lines() -> None:
    source = 'a = "# not a comment"  # really one\n# whole line\nb = 1\n'
    stripped = strip_comments(source)
    assert '"# not a comment"' in stripped and "really" not in stripped and "whole" not in stripped
    assert stripped.count("\n") == source.count("\n")
    broken = "def f(:\n  # gone\n  plt.imshow(x)\n"
    assert strip_comments(broken) == "def f(:\n\n  plt.imshow(x)\n"


def test_malformed_notebook_and_no_code(tmp_path: Path) -> None:
    assert run(tmp_path, [FIT]).message.startswith("no code found to search")
    build_file_tree(tmp_path, {"bad.ipynb": "{not json", "train.py": "model.fit(x)\n"})
    outcome = run(tmp_path, [FIT])
    assert outcome.status == Status.PASS
    assert [(e.path, e.verdict) for e in outcome.evidence] == [
        ("bad.ipynb", "unreadable"),
        ("train.py", "found"),
    ]
    assert run(tmp_path, [FIT], exclude=["train.py"]).status == Status.FAIL


def test_invalid_regex_is_a_spec_error_with_line() -> None:
    text = (
        "id: t\ntitle: T\ncourse: c\ndeadline: '2020-10-27 23:59'\nchecks:\n"
        "  - check: code_pattern\n    args:\n      patterns:\n"
        "        - regex: 'imshow('\n          description: x\n"
    )
    with pytest.raises(SpecError) as caught:
        parse_spec_text(text, "s.yaml", args_models())
    problem = caught.value.problems[0]
    assert problem.line == 9 and problem.key == "checks[0].args.patterns[0].regex"
    assert "not a valid regular expression" in problem.message
