"""Where bundled assignments and templates live: inside the wheel or in the source tree."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SOURCE_ROOT = PACKAGE_DIR.parent


def data_dir(name: str) -> Path:
    """``templates`` or ``assignments``: the wheel's copy, else the checkout's."""
    packaged = PACKAGE_DIR / "_data" / name
    return packaged if packaged.is_dir() else SOURCE_ROOT / name


def cache_dir() -> Path:
    """Mirrors and other caches: $GRADER_CACHE, else $XDG_CACHE_HOME/grader, else ~/.cache."""
    if os.environ.get("GRADER_CACHE"):
        return Path(os.environ["GRADER_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "grader"


def bundled_specs() -> dict[str, Path]:
    """Bundled assignment ids ('bme-vitmav45-2020/hw3-temperature' and 'hw3-temperature')."""
    found: dict[str, Path] = {}
    root = data_dir("assignments")
    for path in sorted(root.glob("*/*.yaml")):
        if path.name == "course.yaml":  # the course file beside the specs (grader.course)
            continue
        found[f"{path.parent.name}/{path.stem}"] = path
    short: dict[str, list[Path]] = {}
    for path in list(found.values()):
        short.setdefault(path.stem, []).append(path)
    for stem, paths in short.items():
        if len(paths) == 1:
            found.setdefault(stem, paths[0])
    return found


def bundled_courses() -> dict[str, Path]:
    """Bundled course files by their folder name ('bme-vitmav45-2020')."""
    return {p.parent.name: p for p in sorted(data_dir("assignments").glob("*/course.yaml"))}


def resolve_spec(ref: str) -> Path:
    """A spec path, or a bundled id. Raises FileNotFoundError with what exists."""
    path = Path(ref)
    if path.is_file():
        return path
    specs = bundled_specs()
    if ref in specs:
        return specs[ref]
    known = ", ".join(k for k in specs if "/" in k) or "none"
    raise FileNotFoundError(f"{ref}: no such spec file or bundled assignment (bundled: {known})")


def instructor_dir() -> Path | None:
    """Instructor-only material: reference solutions, observed values, hidden data.

    $GRADER_INSTRUCTOR_DIR, else the source checkout's ``reference_solutions/``. Never in the
    wheel, so a student's self-check finds none and reports such items as pending.
    """
    if os.environ.get("GRADER_INSTRUCTOR_DIR"):
        path = Path(os.environ["GRADER_INSTRUCTOR_DIR"])
        return path if path.is_dir() else None
    local = SOURCE_ROOT / "reference_solutions"
    return local if local.is_dir() and not (PACKAGE_DIR / "_data").is_dir() else None
