"""Focused tests of the hardening pieces the hostile suites (tests/test_hostile_*.py) use
through the CLI: git's failures in words, local layouts, budgets, printable names, the
terminal, deep trees, venv sharing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.budget import Budget, OverBudget, run_bounded, stop_worker
from grader.cli.output import plain
from grader.gitrun import FetchError, explain, git_env
from grader.local_source import git_dir_of
from grader.results import EnvironmentFailure, SubmissionResult, printable
from grader.sandbox.envs import why_private
from grader.testing import build_file_tree, git_save, make_bare
from grader.tree import copy_tree, remove_tree, walk_files

SSH_NO_KEY = (
    "git@github.com: Permission denied (publickey).\r\nfatal: Could not read from remote "
    "repository.\n\nPlease make sure you have the correct access rights\nand the repository "
    "exists.\n"
)


@pytest.mark.parametrize(
    ("stderr", "kind", "words"),
    [
        (SSH_NO_KEY, "git", ["no SSH key", "Permission denied (publickey)", "repository exists"]),
        ("remote: Repository not found.\nfatal: repository 'https://github.com/a/b/' not found",
         None, ["Repository not found.", "'https://github.com/a/b/' not found"]),
        ("fatal: unable to access 'https://github.com/a/b/': The requested URL returned error: "
         "403\nremote: API rate limit exceeded", "git", ["rate limit exceeded"]),
        ("fatal: unable to access 'https://x.invalid/a/': Could not resolve host: x.invalid",
         "git", ["Could not resolve host: x.invalid"]),
        ("fatal: write error: No space left on device", "disk", ["No space left on device"]),
        ("fatal: bad object 1234", None, ["git failed: fatal: bad object 1234"]),
    ],
)  # fmt: skip
def test_gits_whole_reason_and_whose_fault(stderr: str, kind: str | None, words) -> None:
    exc = explain(stderr)
    if kind is None:
        assert isinstance(exc, FetchError)
    else:
        assert isinstance(exc, EnvironmentFailure) and exc.kind == kind
    for word in words:
        assert word in str(exc)


def test_git_runs_without_the_operators_configuration(monkeypatch) -> None:
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'core.fsmonitor'='touch /tmp/x'")
    monkeypatch.setenv("GIT_DIR", "/elsewhere")
    env = git_env()
    assert env["GIT_CONFIG_GLOBAL"] == os.devnull and env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert "GIT_CONFIG_PARAMETERS" not in env and "GIT_DIR" not in env


def test_local_layouts(tmp_path: Path) -> None:
    work = build_file_tree(tmp_path / "clone", {"a.txt": "a"})
    git_save(work, "a", date="2020-10-20T12:00:00+02:00")
    assert git_dir_of(work) == work.resolve() / ".git"
    bare = make_bare(work)
    assert git_dir_of(bare) == bare.resolve()
    inside = build_file_tree(tmp_path / "inside", {"a.txt": "a"})
    (inside / "real").mkdir()
    subprocess.run(["cp", "-r", str(work / ".git") + "/.", str(inside / "real")], check=True)
    (inside / ".git").write_text("gitdir: real\n")
    assert git_dir_of(inside) == (inside / "real").resolve()  # a .git file pointing inside
    with pytest.raises(FetchError, match="not a git repository"):
        git_dir_of(build_file_tree(tmp_path / "plain", {"a.txt": "a"}))


def test_printable_names_and_a_result_that_always_writes(tmp_path: Path) -> None:
    name = os.fsdecode(b"r\xe9sum\xe9.py")
    assert printable(name) == "r\\xe9sum\\xe9.py"
    assert printable("ok \ud800") == "ok \\ud800"
    result = SubmissionResult("a", name, "r", "d", error=f"{name} broke")
    assert "r\\\\xe9sum\\\\xe9.py broke" in result.to_json()
    assert result.to_json().encode("utf-8")


def test_terminal_text_is_plain() -> None:
    shown = plain("esc\x1b]0;owned\x07 [bold]x[/] \x9b2J " + os.fsdecode(b"\xff"))
    assert "\x1b" not in shown and "\x07" not in shown and "\x9b" not in shown
    assert "\\x1b]0;owned\\x07" in shown and "[bold]x[/]" in shown and "\\xff" in shown


def test_deep_trees_are_walked_copied_and_removed(tmp_path: Path) -> None:
    folder = tmp_path / "deep"
    folder.mkdir()
    for _ in range(1_200):
        folder = folder / "d"
        folder.mkdir()
    (folder / "x.py").write_text("x")
    assert len(list(walk_files(tmp_path / "deep"))) == 1
    copy_tree(tmp_path / "deep", tmp_path / "copy")
    assert len(list(walk_files(tmp_path / "copy"))) == 1
    remove_tree(tmp_path / "deep")
    remove_tree(tmp_path / "copy")
    assert not (tmp_path / "deep").exists() and not (tmp_path / "copy").exists()


def _sleep(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def _hog(megabytes: int) -> int:
    return len(bytearray(megabytes << 20))


def test_the_budget_stops_time_and_memory_from_outside() -> None:
    budget = Budget(seconds=1, memory_mb=100)
    worker = run_bounded(_sleep, 0, budget=budget)
    assert worker != os.getpid()
    assert run_bounded(_sleep, 0, budget=budget) == worker  # the worker lives on
    with pytest.raises(OverBudget, match="time budget of 1 s"):
        run_bounded(_sleep, 30, budget=budget)
    with pytest.raises(OverBudget, match="memory budget of 100 MiB"):
        run_bounded(_hog, 400, budget=budget)
    assert run_bounded(_hog, 10, budget=budget) == 10 << 20  # a fresh worker after each
    stop_worker()


@pytest.mark.parametrize(
    ("text", "shared"),
    [
        ("", True),
        ("# nothing\n--require-hashes\n", True),
        ("numpy==1.26.4 --hash=sha256:" + "a" * 64 + "\n", True),
        ("numpy==1.26.4 \\\n    --hash=sha256:" + "b" * 64 + "  # pinned\n", True),
        ("-e .\n", False),
        ("numpy\n", False),
        ("numpy==1.26.4\n", False),
        ("./mypkg-0.1-py3-none-any.whl\n", False),
        ("git+https://github.com/a/b#egg=b\n", False),
        ("--index-url https://evil.example/simple\n", False),
        ("-r other.txt\n", False),
    ],
)
def test_which_requirements_may_share_a_venv(tmp_path: Path, text: str, shared: bool) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(text)
    assert (why_private(requirements) is None) is shared


def test_a_cached_venv_is_read_only_to_every_run(tmp_path: Path) -> None:
    from grader.sandbox import BubblewrapSandbox, Limits
    from grader.sandbox.bwrap import bwrap_available
    from grader.sandbox.envs import interpreter_mounts, resolve_interpreter, submission_venv
    from grader.sandbox.workspace import discard_workdir, prepare_workdir

    if not bwrap_available():
        pytest.skip("bubblewrap cannot run here")
    sandbox = BubblewrapSandbox(uid=61046)
    base = resolve_interpreter(sys.executable)
    work = prepare_workdir(build_file_tree(tmp_path / "s", {"requirements.txt": ""}), 61046)
    try:
        python, install = submission_venv(
            work / "requirements.txt", base, tmp_path / "cache", sandbox, Limits(wall_s=120),
            sandbox.uid, network=False,
        )  # fmt: skip
        assert install is not None and install.ok, install.stderr
        site = next(python.parent.parent.glob("lib/python3*/site-packages"))
        code = f"open({str(site / 'planted.pth')!r}, 'w').write('import os')"
        run = sandbox.run(
            [str(python), "-c", code], work, Limits(wall_s=30),
            mounts=tuple(dict.fromkeys((*interpreter_mounts(base), *interpreter_mounts(python)))),
        )  # fmt: skip
        assert not run.ok and "Read-only file system" in run.stderr, run.stderr
        assert not (site / "planted.pth").exists()
    finally:
        discard_workdir(work)
