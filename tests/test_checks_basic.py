"""Focused tests of the files, git_history and notebooks checks."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from grader.checks.base import CheckContext
from grader.checks.files import FilesArgs, FilesCheck
from grader.checks.git_history import GitHistoryArgs, GitHistoryCheck
from grader.checks.notebooks import NotebooksArgs, NotebooksCheck
from grader.results import Anomaly, PinInfo, Status
from grader.spec import parse_spec_text
from grader.testing import build_file_tree, make_context

SPEC = parse_spec_text(
    """\
id: t
title: T
course: c
deadline: "2020-10-27 23:59"
deliverables:
  - {glob: "readme.md", description: "the README"}
  - {glob: "**/*.py", description: "code", min_count: 2}
  - {glob: "Report.PDF", description: "report", case_sensitive: true}
checks: [{check: files}]
""",
    "t.yaml",
)


def ctx(root: Path, pin: PinInfo | None = None, mode: str = "pinned") -> CheckContext:
    return make_context(root, "files", spec=SPEC, pin=pin or PinInfo(), mode=mode)


def test_files_case_insensitive_and_partial(tmp_path: Path) -> None:
    root = build_file_tree(tmp_path, {"README.md": "x", "src/a.py": "", "report.pdf": "x",
                                      ".git/config": "", "venv/lib/x.py": ""})  # fmt: skip
    outcome = FilesCheck().run(ctx(root), FilesArgs())
    assert outcome.status == Status.FAIL
    assert outcome.fraction == 1 / 3
    verdicts = [e.verdict for e in outcome.evidence]
    assert verdicts == ["present", "missing", "missing"]
    assert "found 1" in outcome.evidence[1].detail  # venv/ and .git/ are never counted


def test_git_history_levels(tmp_path: Path) -> None:
    pin = PinInfo(commits_before_deadline=3, commits_after_deadline=1, first_after="x",
                  last_after="y", anomalies=[Anomaly("abc", "future_date", "d")])  # fmt: skip
    warn = GitHistoryCheck().run(ctx(tmp_path, pin), GitHistoryArgs())
    assert warn.status == Status.WARN and "1 commit(s) after the deadline" in warn.message
    fail = GitHistoryCheck().run(ctx(tmp_path, pin), GitHistoryArgs(anomalies="fail"))
    assert fail.status == Status.FAIL
    ok = GitHistoryCheck().run(ctx(tmp_path, PinInfo(commits_before_deadline=2)), GitHistoryArgs())
    assert ok.status == Status.PASS
    none = GitHistoryCheck().run(ctx(tmp_path, PinInfo()), GitHistoryArgs())
    assert none.status == Status.FAIL
    self_check = GitHistoryCheck().run(ctx(tmp_path, pin, mode="worktree"), GitHistoryArgs())
    assert self_check.status == Status.SKIPPED


def notebook(outputs: bool, error: bool = False, image: bool = False) -> str:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(1)")
    if outputs:
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    if image:
        cell.outputs.append(nbformat.v4.new_output("display_data", data={"image/png": "iVBOR"}))
    if error:
        cell.outputs.append(nbformat.v4.new_output("error", ename="ValueError", evalue="bad",
                                                   traceback=[]))  # fmt: skip
    nb.cells = [nbformat.v4.new_markdown_cell("# T"), cell]
    return nbformat.writes(nb)


def test_notebooks(tmp_path: Path) -> None:
    root = build_file_tree(tmp_path, {"ok.ipynb": notebook(True, image=True)})
    good = NotebooksCheck().run(ctx(root), NotebooksArgs(required_mime=["image/png"]))
    assert good.status == Status.PASS
    assert good.facts["notebooks"][0]["with_outputs"] == 1
    build_file_tree(tmp_path, {"empty.ipynb": notebook(False), "err.ipynb": notebook(True, True),
                               "broken.ipynb": '{"cells": ['})  # fmt: skip
    bad = NotebooksCheck().run(ctx(root), NotebooksArgs())
    assert bad.status == Status.FAIL and bad.fraction == 1 / 4
    by_path = {e.path: e for e in bad.evidence}
    assert by_path["broken.ipynb"].verdict == "malformed"
    assert "code cell 1 (cell 2, ValueError)" in by_path["err.ipynb"].detail
    assert "stored outputs" in by_path["empty.ipynb"].detail
    assert json.dumps(bad.facts)  # facts stay JSON-serialisable
    none = NotebooksCheck().run(ctx(tmp_path / "nothing"), NotebooksArgs(min_notebooks=0))
    assert none.status == Status.SKIPPED


def test_notebooks_messages_say_only_what_was_checked_and_count_code_cells(tmp_path: Path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Bevezetés"), nbformat.v4.new_code_cell("x = 1")]
    root = build_file_tree(tmp_path / "s", {"no_outputs.ipynb": nbformat.writes(nb)})
    lenient = NotebooksCheck().run(ctx(root), NotebooksArgs(require_outputs=False))
    assert lenient.status == Status.PASS
    assert lenient.message == "1 notebook(s) parse, no errors"  # no claim about outputs
    cells = [nbformat.v4.new_markdown_cell("## Rész") for _ in range(3)]
    cells += [nbformat.v4.new_code_cell(f"x = {i}") for i in range(3)]
    failing = nbformat.v4.new_code_cell("1 / 0")
    failing.outputs.append(nbformat.v4.new_output("error", ename="ZeroDivisionError",
                                                  evalue="division by zero", traceback=[]))  # fmt: skip
    nb.cells = cells + [failing]
    build_file_tree(root, {"no_outputs.ipynb": nbformat.writes(nb)})
    strict = NotebooksCheck().run(ctx(root), NotebooksArgs(require_outputs=False))
    assert strict.status == Status.FAIL
    assert "code cell 4 (cell 7, ZeroDivisionError)" in strict.evidence[0].detail
