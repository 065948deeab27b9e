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
    POSIX paths; folders named in ``ignored`` are skipped at any depth."""
    skip = frozenset(ignored)
    base = str(root)
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in skip)
        rel = os.path.relpath(dirpath, base)
        for name in sorted(filenames):
            yield name if rel == "." else f"{rel}/{name}".replace(os.sep, "/")


def submission_files(root: str | Path) -> list[str]:
    """The files of a submission, sorted (see ``walk_files``)."""
    return sorted(walk_files(root))
