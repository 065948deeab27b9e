"""The files of a submission: one walk, one set of ignored folders, one glob dialect.

Used by the checks (through ``CheckContext``), the similarity sources, the training-log
finder, the sandbox workspace and ``dataset_split``. Paths are POSIX, relative to the
submission's root, sorted; symlinked folders are never entered.

Globs: ``**`` crosses folders, ``{a,b}`` alternates, dot files match, case-insensitive
unless asked otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

from wcmatch import glob as wglob

# never copied into a rerun's work dir: git internals, the grader's own output, caches
NEVER_COPIED = (".git", ".grader", "__pycache__", ".ipynb_checkpoints")
# never part of a submission's content, whatever the student committed or left around
IGNORED_DIRS = frozenset({
    *NEVER_COPIED, ".venv", "venv", "node_modules", ".mypy_cache", ".pytest_cache",
    ".ruff_cache", ".idea", ".vscode",
})  # fmt: skip

_FLAGS = wglob.GLOBSTAR | wglob.BRACE | wglob.DOTGLOB


def glob_flags(case_sensitive: bool = False) -> int:
    """The wcmatch flags of every glob in a spec."""
    return _FLAGS if case_sensitive else _FLAGS | wglob.IGNORECASE


def matches(
    path: str,
    patterns: str | Iterable[str],
    case_sensitive: bool = False,
    exclude: str | Iterable[str] | None = None,
) -> bool:
    """Whether a relative POSIX path matches any of ``patterns`` and none of ``exclude``."""
    wanted = (patterns,) if isinstance(patterns, str) else tuple(patterns)
    unwanted = (exclude,) if isinstance(exclude, str) else tuple(exclude or ())
    return _matcher(wanted, unwanted, glob_flags(case_sensitive)).match(path)


@lru_cache(maxsize=256)
def _matcher(wanted: tuple[str, ...], unwanted: tuple[str, ...], flags: int) -> wglob.WcMatcher:
    """Globs compiled once per process (a check matches the same globs against every file)."""
    return wglob.compile(list(wanted), flags=flags, exclude=list(unwanted) or None)


def walk_files(root: str | Path, ignored: Iterable[str] = IGNORED_DIRS) -> Iterator[str]:
    """Every file under ``root`` (links included, never followed into), as sorted relative
    POSIX paths; folders named in ``ignored`` are skipped at any depth. Iterative (with its
    own stack, unlike Python 3.11's os.walk), so a tree nested thousands of folders deep
    is walked, not a RecursionError."""
    skip = frozenset(ignored)
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            with os.scandir(os.path.join(str(root), rel) if rel else str(root)) as entries:
                found = sorted((e.name, _is_dir(e), e.is_symlink()) for e in entries)
        except OSError:  # unreadable or vanished: as os.walk, skip it
            continue
        folders = []
        for name, is_dir, is_link in found:
            path = f"{rel}/{name}" if rel else name
            if not is_dir:
                yield path
            elif name not in skip and not is_link:  # a linked folder is never entered
                folders.append(path)
        stack.extend(reversed(folders))  # depth first, in name order, as os.walk


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def submission_files(root: str | Path) -> list[str]:
    """The files of a submission, sorted (see ``walk_files``)."""
    return sorted(walk_files(root))
