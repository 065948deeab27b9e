"""Building real git repositories with dated commits, for tests, demos and benchmarks.

root = build_file_tree(tmp / "s1", {"README.md": "# Hi", "train.py": "print(1)"})
git_save(root, "first", date="2020-10-20T12:00:00+02:00")
bare = make_bare(root)   # a local 'remote' to grade from
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

_IDENTITY = {
    "GIT_AUTHOR_NAME": "Student",
    "GIT_AUTHOR_EMAIL": "student@example.com",
    "GIT_COMMITTER_NAME": "Student",
    "GIT_COMMITTER_EMAIL": "student@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
}


def _run(args: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> str:
    full = {**os.environ, **_IDENTITY, **(env or {})}
    done = subprocess.run(args, cwd=cwd, env=full, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{' '.join(args)} failed in {cwd}: {done.stderr.strip()}")
    return done.stdout.strip()


def build_file_tree(root: str | Path, files: Mapping[str, str | bytes | None]) -> Path:
    """Write files (str or bytes); a None value deletes the file."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = root / rel
        if content is None:
            if path.exists() or path.is_symlink():
                path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def git_init(root: str | Path, branch: str = "main") -> Path:
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if not (root / ".git").exists():
        _run(["git", "init", "-q", "-b", branch], root)
    return root


def git_save(
    root: str | Path,
    message: str = "update",
    date: str | None = None,
    author_date: str | None = None,
    files: Mapping[str, str | bytes | None] | None = None,
) -> str:
    """Stage everything and commit with the given committer (and author) date; returns sha."""
    root = git_init(root)
    if files:
        build_file_tree(root, files)
    env = {}
    if date:
        env["GIT_COMMITTER_DATE"] = date
        env["GIT_AUTHOR_DATE"] = author_date or date
    elif author_date:
        env["GIT_AUTHOR_DATE"] = author_date
    _run(["git", "add", "-A"], root)
    _run(["git", "commit", "-q", "--allow-empty", "--no-verify", "-m", message], root, env)
    return _run(["git", "rev-parse", "HEAD"], root)


def git(root: str | Path, *args: str, date: str | None = None) -> str:
    env = {"GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date} if date else None
    return _run(["git", *args], Path(root), env)


def make_bare(root: str | Path, dest: str | Path | None = None) -> Path:
    """A bare clone of ``root`` (a local 'remote' for fetching)."""
    root = Path(root).resolve()
    dest = Path(dest).resolve() if dest else root.with_name(root.name + ".git")
    _run(["git", "clone", "-q", "--bare", str(root), str(dest)], root.parent)
    return dest
